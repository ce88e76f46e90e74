"""JSON-lines progress on stdout (the Node driver parses it) and logs on stderr.

Every stdout line is one JSON object with an "event" key: start, stage, epoch, step, result, export, done,
error. Nothing else may be printed to stdout while `run` is active: logs go to stderr through `log()`.
"""
from __future__ import annotations

import json
import math
import os
import sys
import threading
from typing import Any, TextIO

_lock = threading.Lock()


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class Progress:
    """Writes events to `stream` (stdout by default); only the main process writes under torchrun."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream
        self.enabled = is_main_process() if enabled is None else enabled
        self.events: list[dict] = []

    def emit(self, event: str, **fields: Any) -> dict:
        obj = _clean({"event": event, **fields})
        self.events.append(obj)
        if self.enabled:
            line = json.dumps(obj, separators=(",", ":"), allow_nan=False)
            stream = self.stream or sys.stdout
            with _lock:
                stream.write(line + "\n")
                stream.flush()
        return obj


class Silent(Progress):
    def __init__(self):
        super().__init__(enabled=False)


def log(*parts: Any) -> None:
    if is_main_process():
        print(*parts, file=sys.stderr, flush=True)
