/**
 * How a written command is said. The command generator writes contractions ("what's the weather", "it's too
 * loud"); people say the full forms as often ("what is the weather"), and to text-to-speech the two are
 * different sounds. A voice model that only ever heard one of them misses the other, so each spoken command
 * takes its full forms with a configured probability.
 */
import type { Rng } from './audio';

/** Contraction -> full form, as said. Only unambiguous ones ("he's" may be "he is" or "he has": left alone). */
const FULL_FORMS: Record<string, string> = {
  "what's": 'what is',
  "how's": 'how is',
  "it's": 'it is',
  "that's": 'that is',
  "there's": 'there is',
  "i'm": 'i am',
  "we're": 'we are',
  "you're": 'you are',
  "they're": 'they are',
  "don't": 'do not',
  "doesn't": 'does not',
  "can't": 'cannot',
  "won't": 'will not',
  "isn't": 'is not',
  "i'd": 'i would',
  "i'll": 'i will',
  "let's": 'let us',
};

/** The text with every known contraction in its full form (words matched case-insensitively; full forms are lower-case, as the generator writes). */
export function expandContractions(text: string): string {
  return text
    .split(' ')
    .map((word) => FULL_FORMS[word.toLowerCase()] ?? word)
    .join(' ');
}

/** The text as this utterance says it: its full forms with probability `probability`, else as written. */
export function spokenForm(text: string, rng: Rng, probability: number): string {
  return probability > 0 && rng.chance(probability) ? expandContractions(text) : text;
}
