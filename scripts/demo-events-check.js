// What `edgeinfer demo --quick --json` must print on the committed speech clips (test/fixtures/speech), as a
// function of its JSON lines: the checks of test/demo.test.ts on the events, for the installed package on each
// architecture (scripts/check-tarball.js), where mocha and the TypeScript sources are absent.
'use strict';

// The clip, the wake word it starts with, and the intent after it.
const commandClips = {
  'alexa_timer_f3.wav': ['alexa', 'set_timer'],
  'alexa_timer_gb.wav': ['alexa', 'set_timer'],
  'hey_jarvis_timer_f3.wav': ['hey_jarvis', 'set_timer'],
  'hey_jarvis_timer_us.wav': ['hey_jarvis', 'set_timer'],
  'hey_jarvis_weather_gb.wav': ['hey_jarvis', 'weather'],
};
const wakeWordClips = { 'hey_jarvis.wav': 'hey_jarvis', 'alexa.wav': 'alexa' };
const silentClips = ['negative.wav', 'silence.wav', 'timer.wav'];

/** The problems found in the demo's stdout (JSON lines); empty when it printed what it must. */
function demoEventProblems(stdout) {
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
  const events = (clip) => lines.filter((l) => l.clip === clip && (l.type === 'wake_word' || l.type === 'command'));
  const show = (clip) => events(clip).map((e) => (e.type === 'command' ? `command:${e.intent}` : `wake_word:${e.name}`)).join(' ') || 'nothing';
  const problems = [];
  const streamed = new Set(lines.filter((l) => l.type === 'clip').map((l) => l.clip));
  for (const clip of [...Object.keys(commandClips), ...Object.keys(wakeWordClips), ...silentClips]) {
    if (!streamed.has(clip)) problems.push(`${clip}: not streamed`);
  }
  for (const [clip, [wakeWord, intent]] of Object.entries(commandClips)) {
    const [wake, command, ...rest] = events(clip);
    const ok = wake?.type === 'wake_word' && wake.name === wakeWord && rest.length === 0 &&
      command?.type === 'command' && command.intent === intent && command.wake_word === wakeWord;
    if (!ok) problems.push(`${clip}: expected wake_word:${wakeWord} command:${intent}, got ${show(clip)}`);
  }
  for (const [clip, wakeWord] of Object.entries(wakeWordClips)) {
    if (show(clip) !== `wake_word:${wakeWord}`) problems.push(`${clip}: expected wake_word:${wakeWord}, got ${show(clip)}`);
  }
  for (const clip of silentClips) if (events(clip).length > 0) problems.push(`${clip}: expected nothing, got ${show(clip)}`);
  return problems;
}

module.exports = { demoEventProblems };
