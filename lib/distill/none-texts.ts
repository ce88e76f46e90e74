/**
 * Speech that is not a command, for the "none" class of the voice command model: what a person says after a
 * wake word, or near the speaker, that no intent covers. Chit-chat, questions to other people, and some hard
 * negatives that name devices or rooms without asking for anything. Two disjoint pools: one for the training
 * splits (labelled, transfer, val), one for test, so test sentences are new as well as their voices.
 */
import type { Rng } from './audio';

const SUBJECTS = ['I', 'we', 'my sister', 'the neighbours', 'our team', 'my friend', 'the kids', 'my boss', 'the doctor', 'grandma'];
const PREDICATES = [
  'went to the market yesterday',
  'think the movie was a bit too long',
  'never finished that book',
  'are coming over on sunday',
  'forgot the keys in the car again',
  'liked the new restaurant downtown',
  'have a meeting after lunch',
  'said the train was late this morning',
  'want to paint the fence next spring',
  'were talking about the football game',
  'lost the receipt for the shoes',
  'started a new job last week',
  'bought too many apples',
  'will call you back later',
  'had pasta for dinner',
  'saw a fox in the garden',
];
const TEST_PREDICATES = [
  'moved to a small town near the coast',
  'fixed the bicycle on saturday',
  'are learning to play the piano',
  'missed the bus by a minute',
  'found an old photo album in the attic',
  'ordered a blue sofa online',
  'walked the dog around the lake',
  'think the exam went quite well',
];
const FIXED = [
  'the kitchen light was on all night',
  'I left my phone in the bedroom',
  'did you see the weather report this morning',
  'the music at the party was great',
  'I think the heating bill was high this month',
  'never mind, I was talking to someone else',
  'what did you say a minute ago',
  'hold on, somebody is at the door',
  'that is a really funny story',
  'okay thanks, that is all for now',
  'the garage door is painted green',
  'my alarm clock is broken',
  'how was your day at school',
  'nothing, forget it',
  'can you believe how fast this year went',
  'the living room looks nice with the new curtains',
];
const TEST_FIXED = [
  'the bathroom fan makes a strange noise',
  'I was just reading the newspaper',
  'sorry, wrong button',
  'who ate the last piece of cake',
  'we painted the hallway last summer',
  'the thermostat in the old flat never worked',
  'let me think about it for a while',
  'are you still watching that show',
];

/** A non-command sentence from the pool of a split (test has its own). */
export function noneSentence(rng: Rng, test: boolean): string {
  const fixed = test ? TEST_FIXED : FIXED;
  if (rng.chance(0.4)) return rng.pick(fixed);
  return `${rng.pick(SUBJECTS)} ${rng.pick(test ? TEST_PREDICATES : PREDICATES)}`;
}
