"""A word-level tokenizer built from the generated training text (no downloads): lower-case words split on
spaces, ids by frequency (ties by word), <pad> = 0, <unk> = 1, <eos> = 2 appended to every command (the
classifier reads the hidden state at <eos>, the last real token). Sequences are right-padded with <pad> to
a fixed length L; longer ones keep their first L - 1 words."""
from __future__ import annotations

import json
from collections import Counter
from typing import Iterable

import numpy as np

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"


class WordTokenizer:
    def __init__(self, vocab: list[str], length: int):
        if vocab[:3] != [PAD, UNK, EOS]:
            raise ValueError("vocab must start with <pad>, <unk>, <eos>")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.length = length

    pad_id, unk_id, eos_id = 0, 1, 2

    @classmethod
    def build(cls, texts: Iterable[str], length: int, min_count: int = 1) -> "WordTokenizer":
        counts = Counter(w for t in texts for w in t.split())
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, EOS] + words, length)

    def encode(self, text: str) -> list[int]:
        ids = [self.index.get(w, self.unk_id) for w in text.split()][: self.length - 1]
        return ids + [self.eos_id]

    def batch(self, texts: Iterable[str]) -> np.ndarray:
        rows = [self.encode(t) for t in texts]
        out = np.full((len(rows), self.length), self.pad_id, dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    def decode(self, ids) -> str:
        return " ".join(self.vocab[i] for i in ids if i not in (self.pad_id,))

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"type": "word", "length": self.length, "pad": PAD, "unk": UNK, "eos": EOS, "vocab": self.vocab}, f)

    @classmethod
    def load(cls, path: str) -> "WordTokenizer":
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return cls(d["vocab"], d["length"])
