import json
import os
import subprocess
import sys
from collections import Counter

from edgeinfer_distill.data.commands import INTENTS, generate_command, generate_splits, main, read_jsonl
from edgeinfer_distill.data.tokenizer import WordTokenizer


def test_splits_counts_intents_and_disjoint():
    s = generate_splits(3, labelled=120, transfer=900, val=90, test=300)
    assert {k: len(v) for k, v in s.items()} == {"labelled": 120, "transfer": 900, "val": 90, "test": 300}
    assert len(INTENTS) == 30 and len(set(INTENTS)) == 30
    counts = Counter(r["intent"] for r in s["labelled"])
    assert set(counts) == set(INTENTS) and max(counts.values()) - min(counts.values()) <= 1  # stratified
    assert set(r["intent"] for r in s["transfer"]) == set(INTENTS)
    texts = {k: {r["text"] for r in v} for k, v in s.items()}
    for k in ("labelled", "transfer", "val"):
        assert not texts[k] & texts["test"], k
    assert not texts["labelled"] & texts["transfer"] and not texts["val"] & texts["labelled"]
    for rows in s.values():
        assert len({r["text"] for r in rows}) == len(rows)


def test_deterministic_by_seed():
    assert generate_splits(5, 60, 100, 30, 60) == generate_splits(5, 60, 100, 30, 60)
    assert generate_splits(5, 60, 100, 30, 60) != generate_splits(6, 60, 100, 30, 60)


def test_commands_look_real():
    import random

    rng = random.Random(0)
    rows = [generate_command(rng) for _ in range(3000)]
    texts = [r["text"] for r in rows]
    assert all(t == t.strip() and "  " not in t and t == t.lower() for t in texts)
    fillers = sum(any(w in t.split() for w in ("uh", "um", "er")) for t in texts)
    assert fillers > 100  # disfluencies present
    assert any(t.split()[i] == t.split()[i + 1] for t in texts for i in range(len(t.split()) - 1))  # repeats
    timers = [r for r in rows if r["intent"] == "set_timer"]
    assert timers and all("duration" in r["slots"] for r in timers)
    # the slot holds the clean value; a disfluency may fall inside it in the text
    assert sum(r["slots"]["duration"] in r["text"] for r in timers) > 0.9 * len(timers)
    bright = [r for r in rows if r["intent"] == "set_brightness"]
    assert all("brightness" in r["slots"] for r in bright)
    assert len(set(texts)) > 2000  # variety


def test_cli_writes_files(tmp_path):
    rc = main(["--out", str(tmp_path), "--seed", "1", "--labelled", "60", "--transfer", "90", "--val", "30", "--test", "45"])
    assert rc == 0
    folder = tmp_path / "commands"
    assert json.loads((folder / "intents.json").read_text()) == INTENTS
    for split, n in (("labelled", 60), ("transfer", 90), ("val", 30), ("test", 45)):
        rows = read_jsonl(str(folder / f"{split}.jsonl"))
        assert len(rows) == n and all(set(r) == {"text", "intent", "slots"} for r in rows)
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    out = subprocess.run([sys.executable, "-m", "edgeinfer_distill.data.commands", "--out", str(tmp_path / "b"), "--seed", "1", "--labelled", "60",
                          "--transfer", "90", "--val", "30", "--test", "45"], check=True, capture_output=True, text=True, env=env)
    assert json.loads(out.stdout)["labelled"] == 60
    assert (tmp_path / "b" / "commands" / "test.jsonl").read_text() == (folder / "test.jsonl").read_text()


def test_word_tokenizer():
    tok = WordTokenizer.build(["turn on the lights", "turn off the fan"], length=5)
    assert tok.vocab[:3] == ["<pad>", "<unk>", "<eos>"]
    ids = tok.batch(["turn on the lights", "turn on the purple lights please now"])
    assert ids.shape == (2, 5) and ids[0, 4] == 2 and ids[0, -1] == 2
    assert ids[1, -1] == 2 and tok.unk_id in ids[1].tolist()
    assert tok.decode(ids[0]) == "turn on the lights <eos>"
