"""Independent training jobs side by side in forked CPU worker processes.

Why: the factory's jobs are small (batches of 32-64 windows of 34 x 96 frames), and two torch threads on one job scale
poorly; on a 2-core machine one job per core, one thread each, finishes a pair of jobs sooner than the same jobs in
turn on two threads. Reproducible by construction: every job seeds itself (seed_everything before building and before
training), runs in a fresh fork that sees nothing of its siblings, and gets `threads // workers` threads, so its result
is the one the same job gives when run alone in turn with that many threads, whatever the schedule
(tests/test_side_by_side.py checks it bit for bit).

Progress: a worker writes its events to a file; the parent forwards them in job order (the earliest unfinished job
live, a later one once its predecessors are done), so the stdout stream has the shape a sequential run writes. Logs go
straight to stderr. A worker that fails or dies fails the run naming its stage; the others are stopped.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from .progress import Progress

POLL_SECONDS = 0.1


@dataclass
class Job:
    """One training job: `run()` executes in the worker and returns a picklable result (modules, dicts, tensors)."""

    stage: str
    run: Callable[[], Any]


def can_run_side_by_side(device: str) -> bool:
    """Only on the CPU of a single process: a CUDA context does not survive fork, and under torchrun the ranks already
    share the work."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return False
    return device == "cpu" or (device == "auto" and not torch.cuda.is_available())


def _die_with_parent() -> None:
    """A worker must not outlive the factory (killed by the Node driver or by hand): SIGTERM when the parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _worker(ctx, job: Job, threads: int, events: str, result: str, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    torch.set_num_threads(threads)
    # The worker's events as JSON lines in its own file (Progress flushes each line); the parent forwards them.
    ctx.progress = Progress(stream=open(events, "a", encoding="utf-8"), enabled=True)
    before = dict(ctx.timings)
    try:
        value = job.run()
        timings = {k: v - before.get(k, 0.0) for k, v in ctx.timings.items() if v != before.get(k, 0.0)}
        payload = {"ok": True, "value": value, "timings": timings}
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it with the stage's name
        payload = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    torch.save(payload, result + ".tmp")
    os.replace(result + ".tmp", result)


class _Running:
    def __init__(self, process, events: str, result: str):
        self.process, self.events, self.result = process, events, result
        self.offset = 0

    def forward(self, progress: Progress) -> None:
        """Emits the complete lines written since the last call."""
        if not os.path.exists(self.events):
            return
        with open(self.events, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].decode("utf-8").splitlines():
            obj = json.loads(line)
            progress.emit(obj.pop("event"), **obj)
        self.offset += end


def run_jobs(ctx, jobs: list[Job], workers: int, threads: Optional[int] = None) -> list[Any]:
    """Runs `jobs` and returns their results in order: in this process in turn when `workers` <= 1 or there is one job
    (or the device is not the CPU), else up to `workers` at a time in forked processes with `threads` torch threads
    each (default ctx.job_threads, else this process's threads // workers); a lone job too when this process keeps
    fewer threads than that. ctx.timings gains each job's stage times; ctx.progress gets every job's events in job
    order."""
    if workers <= 1 or not can_run_side_by_side(str(ctx.device)):
        return [job.run() for job in jobs]
    threads = threads or getattr(ctx, "job_threads", None) or max(1, torch.get_num_threads() // workers)
    # A lone job runs here, unless this process keeps fewer threads than a job gets (parent_threads): in a worker it
    # gets them, and gives what it gives in turn on that many.
    if len(jobs) <= 1 and threads <= torch.get_num_threads():
        return [job.run() for job in jobs]
    import multiprocessing as mp

    fork = mp.get_context("fork")
    results: list[Any] = [None] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="edgeinfer-jobs-") as tmp:
        waiting = list(range(len(jobs)))
        running: dict[int, _Running] = {}
        finished: dict[int, _Running] = {}
        forwarded = 0
        progress = ctx.progress
        try:
            while forwarded < len(jobs):
                while waiting and len(running) < workers:
                    i = waiting.pop(0)
                    events, result = os.path.join(tmp, f"{i}.jsonl"), os.path.join(tmp, f"{i}.pt")
                    p = fork.Process(target=_worker, args=(ctx, jobs[i], threads, events, result, os.getpid()), daemon=True)
                    p.start()
                    running[i] = _Running(p, events, result)
                for i, r in list(running.items()):
                    if r.process.exitcode is not None:
                        finished[i] = running.pop(i)
                current = running.get(forwarded) or finished.get(forwarded)
                current.forward(progress)
                if forwarded in finished:
                    current.forward(progress)  # lines written between the check above and the exit
                    results[forwarded] = _collect(ctx, jobs[forwarded], current)
                    forwarded += 1
                    continue
                time.sleep(POLL_SECONDS)
        finally:
            for r in running.values():
                if r.process.is_alive():
                    r.process.terminate()
            for r in running.values():
                r.process.join()
    return results


def _collect(ctx, job: Job, r: _Running) -> Any:
    code = r.process.exitcode
    if not os.path.exists(r.result):
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        raise RuntimeError(f"side-by-side job {job.stage!r}: its worker process {how} before giving a result")
    payload = torch.load(r.result, weights_only=False)
    if not payload["ok"]:
        raise RuntimeError(f"side-by-side job {job.stage!r} failed: {payload['error']}\n{payload['traceback']}")
    for k, v in payload["timings"].items():
        ctx.timings[k] = ctx.timings.get(k, 0.0) + v
    return payload["value"]


def parent_threads(threads: int, workers: int, device: str, report_workers: Optional[int] = None) -> int:
    """The torch threads of the factory's own process when it will fork jobs of `threads // workers` threads each.

    Why: PyTorch's CPU build runs its threads on GNU OpenMP (libgomp), whose thread pool does not survive fork: once
    this process has run a parallel region on more than one thread, a forked worker that runs one of its own waits
    forever (measured: `--threads 4 --workers 2` sat idle). Workers of one thread never start a team, so they are
    safe; for workers of more, this process keeps to one thread (no pool to inherit): its own work (teacher logits,
    scoring, export; the text experiment's students and QAT) runs on one, and run_jobs sends even a lone job to a
    worker. `report_workers` (the report-only jobs' own count, see workers_from) counts the same way."""
    if any(w > 1 and threads // w > 1 for w in (workers, report_workers or workers)) and can_run_side_by_side(device):
        return 1
    return threads


def workers_from(config: dict, override: Optional[int] = None, key: str = "workers", default: int = 1) -> int:
    """The config's `key` ("workers", default 1; or "report_workers", default the run's workers), or the flag that
    overrides it; an integer >= 1.

    "report_workers": the jobs whose models only feed the report (the hard-label baselines and the size sweep's
    students) run this many at a time, threads // report_workers threads each, whatever `workers` the shipped chain
    (teacher, distilled student, QAT) uses: a config can keep that chain on the thread count that reproduces its
    committed model and still run the baselines side by side."""
    value = override if override is not None else config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"config '{key}' must be an integer >= 1, got {value!r}")
    return value
