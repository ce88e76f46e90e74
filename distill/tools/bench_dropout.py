"""Benchmark: fast_dropout.Dropout against torch.nn.Dropout in one run, on the voice teacher's shapes.

    python distill/tools/bench_dropout.py [--repeats 7] [--steps 20] [--threads 2] [--json]

Two measurements, each alternating ours and the baseline `repeats` times (medians and the ratio reported, this
machine being shared and noisy): (1) one dropout call on each tensor shape a teacher step drops (batch 32 of 32
frames: [32, 32, 128] hidden states, [32, 4, 32, 32] attention weights, [32, 32, 256] feed-forward); (2) whole
training steps of the committed voice teacher (FrameTransformer 128 x 4 layers, AdamW, deterministic mode as the
factory runs). Every repeat also checks that both give the same weights bit for bit.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from edgeinfer_distill import fast_dropout  # noqa: E402
from edgeinfer_distill.models import FrameTransformer  # noqa: E402
from edgeinfer_distill.trainer import set_deterministic  # noqa: E402

SHAPES = [(32, 32, 128), (32, 4, 32, 32), (32, 32, 256)]


def with_dropout(model: nn.Module, cls) -> nn.Module:
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(module, name, cls(child.p))
    return model


def time_calls(cls, calls: int) -> float:
    drop = cls(0.1).train()
    xs = [torch.randn(s) for s in SHAPES]
    for x in xs:
        drop(x)
    start = time.perf_counter()
    for _ in range(calls):
        for x in xs:
            drop(x)
    return (time.perf_counter() - start) / calls * 1e3


def time_steps(cls, steps: int) -> tuple[float, str]:
    torch.manual_seed(1)
    model = with_dropout(FrameTransformer(frames=32, classes=31, dim=128, layers=4, heads=4, ff=256, dropout=0.1), cls)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 32, 96, generator=g), torch.randint(0, 31, (32,), generator=g)

    def step():
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps * 1e3
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()[:16]
    return seconds, digest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args()
    set_deterministic(args.threads)
    if not fast_dropout.available():
        print(f"fast dropout unavailable: {fast_dropout._why_not}", file=sys.stderr)
        return 1
    calls = {"ours": [], "torch": []}
    steps = {"ours": [], "torch": []}
    for _ in range(args.repeats):
        calls["ours"].append(time_calls(fast_dropout.Dropout, 50))
        calls["torch"].append(time_calls(nn.Dropout, 50))
        ours, ours_digest = time_steps(fast_dropout.Dropout, args.steps)
        theirs, theirs_digest = time_steps(nn.Dropout, args.steps)
        if ours_digest != theirs_digest:
            print(f"weights differ after {args.steps + 1} steps: {ours_digest} vs {theirs_digest}", file=sys.stderr)
            return 1
        steps["ours"].append(ours)
        steps["torch"].append(theirs)
    rows = []
    for name, data, unit in (("dropout masks of one teacher step's shapes", calls, "ms per 3 calls"), ("voice teacher training step", steps, "ms per step")):
        ours, theirs = statistics.median(data["ours"]), statistics.median(data["torch"])
        rows.append({"bench": "fast-dropout", "case": name, "unit": unit, "ours_median": round(ours, 3), "torch_median": round(theirs, 3),
                     "speedup": round(theirs / ours, 2), "repeats": args.repeats, "threads": args.threads, "bit_for_bit": True,
                     "torch": torch.__version__})
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['case']}: ours {row['ours_median']} vs nn.Dropout {row['torch_median']} {row['unit']} ({row['speedup']}x), same weights bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
