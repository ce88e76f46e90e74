"""Teacher logits computed once and kept on disk, so a big teacher runs once per (teacher, data).

The key is sha256 over: the teacher's weights (every state_dict entry's name, dtype, shape and bytes), the
input tensors' bytes, dtypes and shapes, and the cache options (top-k, temperature, a caller tag). Any change
of either gives a new file; the same teacher and data hit the cache even across processes and runs.

Storage (one .npz per key, written atomically):
- full logits, float32 [N, ..., C], when the class axis is small (C <= `topk_above`, default 1024);
- top-k compressed otherwise: indices int32 [N, ..., k], logits float16 [N, ..., k] and the tail's
  logsumexp at the given temperature, float32 [N, ...] (see losses.TopK for how the loss uses them).
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn as nn

from .losses import TopK, topk_compress


def state_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def data_hash(inputs: dict[str, torch.Tensor] | torch.Tensor) -> str:
    h = hashlib.sha256()
    items = sorted(inputs.items()) if isinstance(inputs, dict) else [("", inputs)]
    for name, tensor in items:
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class TeacherCache:
    """`logits(teacher, inputs, forward)` returns the teacher's logits on `inputs` (a tensor or a dict of
    tensors, rows along dim 0), computing them in batches with `forward(teacher, batch) -> logits` only when
    no file holds them yet. `computed` counts the rows the teacher actually ran on (tests check it)."""

    def __init__(self, root: str, topk: int = 64, topk_above: int = 1024):
        self.root = root
        self.topk = topk
        self.topk_above = topk_above
        self.computed = 0
        self.hits = 0
        os.makedirs(root, exist_ok=True)

    def key(self, teacher: nn.Module, inputs, temperature: float, tag: str) -> str:
        h = hashlib.sha256()
        h.update(state_hash(teacher).encode())
        h.update(data_hash(inputs).encode())
        h.update(json.dumps({"topk": self.topk, "above": self.topk_above, "T": temperature, "tag": tag}).encode())
        return h.hexdigest()[:40]

    def logits(self, teacher: nn.Module, inputs, forward: Callable[[nn.Module, object], torch.Tensor], batch_size: int = 256,
               temperature: float = 1.0, tag: str = "", device: Optional[torch.device] = None, compress: bool = True) -> torch.Tensor | TopK:
        path = os.path.join(self.root, self.key(teacher, inputs, temperature, f"{tag}|compress={compress}") + ".npz")
        if os.path.exists(path):
            self.hits += 1
            return self._load(path)
        n = len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)
        was_training = teacher.training
        teacher.eval()
        parts = []
        device = device or next(teacher.parameters()).device
        with torch.no_grad():
            for i in range(0, n, batch_size):
                batch = {k: v[i:i + batch_size].to(device) for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[i:i + batch_size].to(device)
                out = forward(teacher, batch).float().cpu()
                parts.append(out)
                self.computed += len(out)
        teacher.train(was_training)
        logits = torch.cat(parts)
        if compress and logits.shape[-1] > self.topk_above:
            k = topk_compress(logits, self.topk, temperature)
            arrays = {"indices": k.indices.to(torch.int32).numpy(), "logits": k.logits.to(torch.float16).numpy(),
                      "tail_lse": k.tail_lse.float().numpy(), "temperature": np.array(temperature, dtype=np.float64)}
        else:
            arrays = {"full": logits.numpy().astype(np.float32)}
        tmp = path + f".{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        return self._load(path)

    @staticmethod
    def _load(path: str) -> torch.Tensor | TopK:
        with np.load(path) as z:
            if "full" in z:
                return torch.from_numpy(z["full"].copy())
            return TopK(indices=torch.from_numpy(z["indices"].astype(np.int64)), logits=torch.from_numpy(z["logits"].copy()),
                        tail_lse=torch.from_numpy(z["tail_lse"].copy()), temperature=float(z["temperature"]))
