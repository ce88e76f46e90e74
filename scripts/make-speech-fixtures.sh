#!/bin/sh
# Regenerates test/fixtures/speech/*.wav (committed): espeak-ng (en-us, 150 wpm) resampled by sox to
# 16 kHz mono int16 with 0.5 s of silence on both sides, plus 2 s of digital silence.
# Needs: apt-get install espeak-ng sox
set -eu
out="$(dirname "$0")/../test/fixtures/speech"
mkdir -p "$out"
tmp=$(mktemp -d)
while IFS=: read -r name text; do
  espeak-ng -v en-us -s 150 -w "$tmp/$name.wav" "$text"
  sox "$tmp/$name.wav" -r 16000 -c 1 -b 16 "$out/$name.wav" pad 0.5 0.5
done <<'LIST'
hey_jarvis:hey jarvis
alexa:alexa
hey_mycroft:hey mycroft
timer:set a timer for five minutes
negative:the weather is nice today and the shop is open
LIST
sox -n -r 16000 -c 1 -b 16 "$out/silence.wav" trim 0 2
rm -rf "$tmp"
