"""Smart-home command generator: devices x rooms x actions x values x phrasings, with fillers and disfluencies.

Every command is lower-case words separated by single spaces (numbers spelled out, as speech recognisers and
text-to-speech read them), with its intent and slots:

    {"text": "uh could you set the the kitchen lights to forty percent please", "intent": "set_brightness",
     "slots": {"room": "kitchen", "device": "lights", "brightness": "forty percent"}}

Splits (disjoint by text; test is drawn first, so nothing in any training split repeats a test command):
    labelled  small, stratified over intents (what a real team has labelled)
    transfer  large; intents kept for evaluation only, never used as labels
    val       for early stopping and model choice
    test      held out

CLI: python -m edgeinfer_distill.data.commands --out DIR --seed 1 [--labelled N --transfer N --val N --test N]
writes DIR/commands/{labelled,transfer,val,test}.jsonl and DIR/commands/intents.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from typing import Callable, Iterable

__all__ = ["INTENTS", "generate_command", "generate_splits", "write_splits", "read_jsonl", "main"]

# ----------------------------------------------------------------------------------------------- lexicon
ROOMS = ["kitchen", "living room", "bedroom", "bathroom", "office", "hallway", "garage", "dining room",
         "kids room", "basement", "guest room", "porch", "attic", "laundry room", "nursery", "study"]
LIGHTS = ["lights", "light", "lamp", "lamps", "ceiling light", "bulbs", "floor lamp", "overhead lights", "spotlights"]
FANS = ["fan", "ceiling fan", "air purifier", "heater fan"]
BLINDS = ["blinds", "curtains", "shades", "shutters"]
DOORS = ["front door", "back door", "garage door", "side door", "patio door"]
COLORS = ["red", "blue", "green", "warm white", "cool white", "purple", "orange", "yellow", "pink", "teal"]
ONES = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
GENRES = ["jazz", "rock", "classical music", "pop", "lo fi", "country", "hip hop", "the blues", "podcasts", "ambient music", "reggae", "metal"]
ARTISTS = ["the beatles", "taylor swift", "miles davis", "queen", "adele", "bach", "daft punk", "bob marley", "coldplay", "nina simone"]
PLAYLISTS = ["my workout playlist", "the dinner playlist", "my favorites", "the morning mix", "chill vibes", "the party playlist"]
DAYS = ["today", "tomorrow", "this weekend", "tonight", "on monday", "on friday", "this afternoon", "tomorrow morning"]
CITIES = ["in london", "in paris", "in boston", "in berlin", "in tokyo", "outside", "here", "in seattle"]
ITEMS = ["milk", "eggs", "bread", "coffee", "apples", "bananas", "rice", "butter", "cheese", "paper towels",
         "dish soap", "tomatoes", "chicken", "orange juice", "cereal", "batteries"]

INTENTS = [
    "lights_on", "lights_off", "set_brightness", "dim_lights", "brighten_lights", "set_light_color",
    "set_temperature", "temperature_up", "temperature_down", "set_timer", "cancel_timer", "check_timer",
    "set_alarm", "cancel_alarm", "play_music", "pause_music", "next_track", "volume_up", "volume_down", "mute",
    "weather", "time_query", "lock_door", "unlock_door", "open_blinds", "close_blinds", "fan_on", "fan_off",
    "start_vacuum", "add_to_shopping_list",
]

FILLERS = ["uh", "um", "er", "hmm", "so", "okay", "hey", "like", "well", "oh"]
OPENERS = ["please", "could you", "can you", "would you", "i want you to", "i'd like you to", "would you mind to",
           "go ahead and", "i need you to", "hey can you", "could you please", "can you please", "just"]
CLOSERS = ["please", "thanks", "thank you", "now", "right now", "for me", "please and thank you", "real quick", "asap"]


def number_words(n: int) -> str:
    if n < 10:
        return ONES[n - 1] if n > 0 else "zero"
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10 - 1])
    if n == 100:
        return "one hundred"
    raise ValueError(n)


# ----------------------------------------------------------------------------------------------- values
def pick(rng: random.Random, xs):
    return xs[rng.randrange(len(xs))]


def room_phrase(rng, optional=True):
    """(phrase fragment for a location, slot value or None)."""
    if optional and rng.random() < 0.3:
        return "", None
    r = pick(rng, ROOMS)
    return r, r


def duration(rng):
    kind = rng.random()
    if kind < 0.55:
        n = pick(rng, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 45, 50, 90])
        return (number_words(n) + (" minute" if n == 1 else " minutes")) if n != 1 else pick(rng, ["one minute", "a minute"])
    if kind < 0.75:
        n = pick(rng, [10, 15, 20, 30, 40, 45, 50, 90])
        return number_words(n) + " seconds"
    if kind < 0.9:
        return pick(rng, ["an hour", "one hour", "two hours", "half an hour", "an hour and a half", "three hours"])
    a, b = pick(rng, [1, 2, 3, 5]), pick(rng, [10, 15, 20, 30])
    return f"{number_words(a)} {'minute' if a == 1 else 'minutes'} and {number_words(b)} seconds"


def clock_time(rng):
    h = rng.randint(1, 12)
    m = pick(rng, [0, 0, 15, 30, 45, 5, 10, 20])
    hw = number_words(h)
    if m == 0:
        base = pick(rng, [f"{hw} o'clock", f"{hw}", f"{hw} o'clock"])
    else:
        base = f"{hw} {('oh ' + number_words(m)) if m < 10 else number_words(m)}"
    return base + pick(rng, ["", " a m", " p m", " in the morning", " in the evening", " tonight"])


def percent(rng):
    return number_words(pick(rng, [5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 100])) + pick(rng, [" percent", " percent", "%"]).replace("%", " percent")


def degrees(rng):
    n = rng.randint(15, 28)
    return number_words(n) + pick(rng, [" degrees", " degrees", "", " degrees celsius"])


# ----------------------------------------------------------------------------------------------- templates
# Each entry: (template, slot fillers). Templates use {name} placeholders; a filler returns (text, slot value).
Template = tuple[str, dict]


def _lights(rng):
    d = pick(rng, LIGHTS)
    return d, d


def _in_room(rng):
    t, v = room_phrase(rng)
    return (("in the " + t) if t else ""), v


def _the_room_req(rng):
    r = pick(rng, ROOMS)
    return "the " + r, r


def _the_room(rng):
    t, v = room_phrase(rng)
    return (("the " + t) if t else "the"), v


T = {
    "lights_on": [
        "turn on {the_room} {device}", "switch on {the_room} {device}", "turn {the_room} {device} on", "{device} on {in_room}",
        "lights on {in_room}", "put {the_room} {device} on", "i need some light {in_room}", "it's too dark {in_room}",
        "can we get some light {in_room}", "power on {the_room} {device}", "activate {the_room} {device}", "illuminate {the_room_req}",
    ],
    "lights_off": [
        "turn off {the_room} {device}", "switch off {the_room} {device}", "turn {the_room} {device} off", "{device} off {in_room}",
        "lights out {in_room}", "kill {the_room} {device}", "shut off {the_room} {device}", "power down {the_room} {device}",
        "no more light {in_room}", "deactivate {the_room} {device}", "cut {the_room} {device}", "darken {the_room_req} completely",
    ],
    "set_brightness": [
        "set {the_room} {device} to {brightness}", "{device} to {brightness} {in_room}", "change {the_room} {device} brightness to {brightness}",
        "make {the_room} {device} {brightness}", "brightness {brightness} {in_room}", "put {the_room} {device} at {brightness}",
        "adjust {the_room} {device} to {brightness}", "set brightness to {brightness} {in_room}", "dim {the_room} {device} to {brightness}",
    ],
    "dim_lights": [
        "dim {the_room} {device}", "make {the_room} {device} dimmer", "turn down {the_room} {device}", "lower {the_room} {device}",
        "{device} down a bit {in_room}", "it's too bright {in_room}", "less light {in_room}", "make it darker {in_room}",
        "soften {the_room} {device}", "tone down {the_room} {device}",
    ],
    "brighten_lights": [
        "brighten {the_room} {device}", "make {the_room} {device} brighter", "turn up {the_room} {device}", "raise {the_room} {device}",
        "{device} up a bit {in_room}", "more light {in_room}", "make it brighter {in_room}", "boost {the_room} {device}",
        "increase the brightness {in_room}", "it's a little dim {in_room}",
    ],
    "set_light_color": [
        "make {the_room} {device} {color}", "change {the_room} {device} to {color}", "set {the_room} {device} color to {color}",
        "turn {the_room} {device} {color}", "{color} {device} {in_room}", "switch {the_room} {device} to {color}",
        "i want {color} light {in_room}", "paint {the_room_req} {color}",
    ],
    "set_temperature": [
        "set the temperature to {temperature}", "set the thermostat to {temperature}", "make it {temperature} {in_room}",
        "change the heat to {temperature}", "thermostat {temperature}", "heat {the_room_req} to {temperature}",
        "i want it at {temperature} {in_room}", "put the heating on {temperature}", "adjust the temperature to {temperature}",
        "cool {the_room_req} to {temperature}",
    ],
    "temperature_up": [
        "turn up the heat", "make it warmer {in_room}", "raise the temperature {in_room}", "it's cold {in_room}",
        "increase the thermostat", "bump up the heat {in_room}", "warm up {the_room_req}", "it's freezing {in_room}",
        "heat up {the_room_req} a bit", "i'm cold", "a bit warmer please",
    ],
    "temperature_down": [
        "turn down the heat", "make it cooler {in_room}", "lower the temperature {in_room}", "it's hot {in_room}",
        "decrease the thermostat", "cool down {the_room_req}", "it's boiling {in_room}", "i'm too warm", "drop the temperature a bit",
        "a bit cooler please", "reduce the heat {in_room}",
    ],
    "set_timer": [
        "set a timer for {duration}", "timer for {duration}", "start a {duration} timer", "set a {duration} timer",
        "count down {duration}", "remind me in {duration}", "start a timer for {duration}", "put a timer on for {duration}",
        "{duration} timer", "wake me in {duration}", "time {duration} for the pasta",
    ],
    "cancel_timer": [
        "cancel the timer", "stop the timer", "delete the timer", "turn off the timer", "cancel my {duration} timer",
        "never mind the timer", "remove the timer", "get rid of the timer", "kill the timer", "clear all timers",
    ],
    "check_timer": [
        "how much time is left", "how long is left on the timer", "check the timer", "what's left on my timer",
        "how much longer on the timer", "time remaining on the timer", "is the timer done", "how long until the timer goes off",
        "status of my {duration} timer", "how far along is the timer",
    ],
    "set_alarm": [
        "set an alarm for {time}", "wake me up at {time}", "alarm at {time}", "set my alarm to {time}",
        "create an alarm for {time}", "i need an alarm at {time}", "get me up at {time}", "set a wake up call for {time}",
        "new alarm {time}",
    ],
    "cancel_alarm": [
        "cancel my alarm", "turn off the alarm", "delete the {time} alarm", "cancel the alarm for {time}", "no alarm tomorrow",
        "remove my alarm", "disable the alarm", "stop the alarm", "i don't need the {time} alarm", "clear my alarms",
    ],
    "play_music": [
        "play {music}", "put on {music}", "play some {music}", "start playing {music}", "i want to hear {music}",
        "play {music} {in_room}", "can i get some {music}", "let's hear {music}", "music please", "queue up {music}",
        "shuffle {music}",
    ],
    "pause_music": [
        "pause the music", "pause", "stop the music", "pause playback", "hold the music", "stop playing",
        "pause the song", "stop the song {in_room}", "freeze the music", "halt the music", "enough music",
    ],
    "next_track": [
        "next song", "skip this song", "skip", "play the next track", "next track", "skip ahead", "i don't like this song",
        "next one", "go to the next song", "change the song", "skip this track",
    ],
    "volume_up": [
        "turn the volume up", "louder", "volume up", "turn it up", "increase the volume", "make it louder",
        "crank it up", "raise the volume {in_room}", "i can't hear it", "pump up the volume", "a bit louder please",
    ],
    "volume_down": [
        "turn the volume down", "quieter", "volume down", "turn it down", "decrease the volume", "make it quieter",
        "lower the volume {in_room}", "too loud", "it's too loud", "a bit softer please", "bring the volume down",
    ],
    "mute": [
        "mute", "mute the speaker", "mute the sound", "silence", "be quiet", "mute everything", "shh", "mute the tv {in_room}",
        "turn the sound off", "no sound please", "mute yourself",
    ],
    "weather": [
        "what's the weather {day}", "weather {day}", "is it going to rain {day}", "how's the weather {city}",
        "what's the forecast {day}", "do i need an umbrella {day}", "will it be sunny {day}", "how hot will it be {day}",
        "what's the weather like {city} {day}", "what's the weather like {day}", "is it cold {city}", "forecast for {day}",
    ],
    "time_query": [
        "what time is it", "what's the time", "tell me the time", "time please", "do you know what time it is",
        "what time is it now", "current time", "how late is it", "what's the time right now", "what hour is it",
    ],
    "lock_door": [
        "lock the {door}", "lock {door}", "make sure the {door} is locked", "secure the {door}", "lock up",
        "lock all the doors", "close and lock the {door}", "bolt the {door}", "lock the house",
    ],
    "unlock_door": [
        "unlock the {door}", "unlock {door}", "open the lock on the {door}", "let me in the {door}", "unbolt the {door}",
        "unlock all the doors", "release the {door} lock", "disable the lock on the {door}", "unlock the house",
    ],
    "open_blinds": [
        "open the {blinds} {in_room}", "raise the {blinds} {in_room}", "pull up the {blinds}", "open {the_room} {blinds}",
        "let some sunlight in {in_room}", "roll up the {blinds}", "{blinds} up {in_room}", "draw back the {blinds}",
    ],
    "close_blinds": [
        "close the {blinds} {in_room}", "lower the {blinds} {in_room}", "pull down the {blinds}", "close {the_room} {blinds}",
        "block the sun {in_room}", "roll down the {blinds}", "{blinds} down {in_room}", "draw the {blinds}",
    ],
    "fan_on": [
        "turn on the {fan} {in_room}", "switch on the {fan}", "start the {fan} {in_room}", "{fan} on", "run the {fan}",
        "get the {fan} going {in_room}", "i need some air {in_room}", "power on the {fan}",
    ],
    "fan_off": [
        "turn off the {fan} {in_room}", "switch off the {fan}", "stop the {fan} {in_room}", "{fan} off", "shut down the {fan}",
        "kill the {fan} {in_room}", "no more {fan}", "power off the {fan}",
    ],
    "start_vacuum": [
        "start the vacuum", "vacuum {the_room_req}", "clean {the_room_req}", "run the robot vacuum", "start cleaning {in_room}",
        "send the vacuum to {the_room_req}", "vacuum the floors", "time to clean {in_room}", "start the roomba",
    ],
    "add_to_shopping_list": [
        "add {item} to my shopping list", "put {item} on the list", "we need {item}", "add {item} to the grocery list",
        "remember to buy {item}", "i'm out of {item}", "shopping list add {item}", "don't let me forget {item}",
        "we're running low on {item}",
    ],
}

SLOT_FILLERS: dict[str, Callable] = {
    "the_room": _the_room,
    "the_room_req": _the_room_req,
    "in_room": _in_room,
    "device": _lights,
    "brightness": lambda rng: (lambda v: (v, v))(percent(rng)),
    "color": lambda rng: (lambda v: (v, v))(pick(rng, COLORS)),
    "temperature": lambda rng: (lambda v: (v, v))(degrees(rng)),
    "duration": lambda rng: (lambda v: (v, v))(duration(rng)),
    "time": lambda rng: (lambda v: (v, v))(clock_time(rng)),
    "music": lambda rng: (lambda v: (v, v))(pick(rng, pick(rng, [GENRES, ARTISTS, PLAYLISTS]))),
    "day": lambda rng: (lambda v: (v, v))(pick(rng, DAYS)),
    "city": lambda rng: (lambda v: (v, v))(pick(rng, CITIES)),
    "door": lambda rng: (lambda v: (v, v))(pick(rng, DOORS)),
    "blinds": lambda rng: (lambda v: (v, v))(pick(rng, BLINDS)),
    "fan": lambda rng: (lambda v: (v, v))(pick(rng, FANS)),
    "item": lambda rng: (lambda v: (v, v))(pick(rng, ITEMS)),
}
SLOT_NAMES = {"the_room": "room", "the_room_req": "room", "in_room": "room"}

assert sorted(T) == sorted(INTENTS), set(T) ^ set(INTENTS)


def _fill(template: str, rng: random.Random) -> tuple[str, dict]:
    slots: dict[str, str] = {}
    out = []
    for part in template.split(" "):
        if part.startswith("{") and part.endswith("}"):
            key = part[1:-1]
            text, value = SLOT_FILLERS[key](rng)
            if value is not None:
                slots[SLOT_NAMES.get(key, key)] = value
            if text:
                out.append(text)
        else:
            out.append(part)
    return " ".join(out), slots


def _disfluent(words: list[str], rng: random.Random, p: float) -> list[str]:
    """Fillers, a repeated word, or a restart ("set the uh set the timer ...")."""
    if len(words) >= 2 and rng.random() < p:
        kind = rng.random()
        i = rng.randrange(len(words))
        if kind < 0.4:
            words = words[:i] + [pick(rng, FILLERS)] + words[i:]
        elif kind < 0.7:
            words = words[: i + 1] + [words[i]] + words[i + 1:]
        else:
            cut = rng.randint(1, min(3, len(words)))
            words = words[:cut] + [pick(rng, ["uh", "um", "i mean", "sorry", "no"])] + words
            words = " ".join(words).split(" ")
    return words


def generate_command(rng: random.Random, intent: str | None = None, disfluency: float = 0.25) -> dict:
    """One command: {"text", "intent", "slots"}."""
    intent = intent or pick(rng, INTENTS)
    text, slots = _fill(pick(rng, T[intent]), rng)
    words = text.split()
    if rng.random() < 0.45:
        words = pick(rng, OPENERS).split() + words
    if rng.random() < 0.3:
        words = words + pick(rng, CLOSERS).split()
    if rng.random() < 0.2:
        words = [pick(rng, FILLERS)] + words
    words = _disfluent(words, rng, disfluency)
    return {"text": " ".join(words), "intent": intent, "slots": slots}


def _draw(rng: random.Random, n: int, taken: set, stratified: bool) -> list[dict]:
    out: list[dict] = []
    tries = 0
    order = [INTENTS[i % len(INTENTS)] for i in range(n)] if stratified else [None] * n
    if stratified:
        rng.shuffle(order)
    for intent in order:
        while True:
            tries += 1
            if tries > 200 * (n + 10):
                raise RuntimeError(f"could not draw {n} distinct commands")
            c = generate_command(rng, intent)
            if c["text"] not in taken:
                taken.add(c["text"])
                out.append(c)
                break
    return out


def generate_splits(seed: int = 1, labelled: int = 300, transfer: int = 6000, val: int = 600, test: int = 1500) -> dict[str, list[dict]]:
    """Disjoint splits; test first so that no training split repeats a test command."""
    rng = random.Random(seed)
    taken: set = set()
    splits = {}
    splits["test"] = _draw(random.Random(rng.random()), test, taken, stratified=True)
    splits["val"] = _draw(random.Random(rng.random()), val, taken, stratified=True)
    splits["labelled"] = _draw(random.Random(rng.random()), labelled, taken, stratified=True)
    splits["transfer"] = _draw(random.Random(rng.random()), transfer, taken, stratified=False)
    return {k: splits[k] for k in ("labelled", "transfer", "val", "test")}


def write_splits(out: str, splits: dict[str, list[dict]]) -> str:
    folder = os.path.join(out, "commands")
    os.makedirs(folder, exist_ok=True)
    for name, rows in splits.items():
        with open(os.path.join(folder, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    with open(os.path.join(folder, "intents.json"), "w", encoding="utf-8") as f:
        json.dump(INTENTS, f, indent=1)
        f.write("\n")
    return folder


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeinfer_distill.data.commands", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--labelled", type=int, default=300)
    ap.add_argument("--transfer", type=int, default=6000)
    ap.add_argument("--val", type=int, default=600)
    ap.add_argument("--test", type=int, default=1500)
    a = ap.parse_args(list(argv) if argv is not None else None)
    splits = generate_splits(a.seed, a.labelled, a.transfer, a.val, a.test)
    folder = write_splits(a.out, splits)
    print(json.dumps({"out": folder, **{k: len(v) for k, v in splits.items()}, "intents": len(INTENTS)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
