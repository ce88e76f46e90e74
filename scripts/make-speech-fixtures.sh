#!/bin/sh
# Regenerates test/fixtures/speech/*.wav and commands/*.wav (committed): espeak-ng (150 wpm) resampled by
# sox to 16 kHz mono int16 with 0.5 s of silence on both sides, plus 2 s of digital silence.
# Each line: name:voice:text.
# The wake word + command clips (commands/: the demo's; a folder of their own, so the specs that calibrate
# and compare quantization on every clip of speech/ keep their data) are one sentence with a comma, as a
# person says them, in three voices (en-us, en-gb, the female variant +f3): the demo is not tied to one voice.
# sox -R seeds its dither: a rerun gives the same bytes (the first six clips predate -R; a rerun changes
# them in the dither's last bit only).
# Needs: apt-get install espeak-ng sox.   Usage: scripts/make-speech-fixtures.sh [output folder]
set -eu
out="${1:-$(dirname "$0")/../test/fixtures/speech}"
tmp=$(mktemp -d)
mkdir -p "$out/commands" "$tmp/commands"
while IFS=: read -r name voice text; do
  espeak-ng -v "$voice" -s 150 -w "$tmp/$name.wav" "$text"
  sox -R "$tmp/$name.wav" -r 16000 -c 1 -b 16 "$out/$name.wav" pad 0.5 0.5
done <<'LIST'
hey_jarvis:en-us:hey jarvis
alexa:en-us:alexa
hey_mycroft:en-us:hey mycroft
timer:en-us:set a timer for five minutes
negative:en-us:the weather is nice today and the shop is open
commands/hey_jarvis_timer_us:en-us:hey jarvis, set a timer for five minutes
commands/hey_jarvis_timer_f3:en-us+f3:hey jarvis, set a timer for ten minutes
commands/alexa_timer_gb:en-gb:alexa, set a timer for ten minutes
commands/alexa_timer_f3:en-gb+f3:alexa, set a timer for five minutes
commands/hey_jarvis_weather_gb:en-gb:hey jarvis, what is the weather like today
LIST
sox -R -n -r 16000 -c 1 -b 16 "$out/silence.wav" trim 0 2
rm -rf "$tmp"
