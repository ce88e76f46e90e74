"""python -m edgeinfer_distill.run --config distill/experiments/X.json --out DIR [--quick] [--features DIR]
                                   [--device auto|cpu|cuda] [--threads N] [--workers N] [--resume] [--cache DIR]

Runs one experiment (config key "experiment": "text" or "voice"). stdout carries JSON lines only (start, stage,
epoch, step, result, export, done, error); logs go to stderr. Exit code 0 on success, 1 on error (after an
"error" event), 2 on bad arguments. Under torchrun every rank runs the same stages; rank 0 writes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

from .progress import Progress, log


def load_config(path: str, quick: bool) -> dict:
    from .pipelines.common import deep_merge

    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    if quick:
        cfg = deep_merge(cfg, cfg.get("quick", {}))
    cfg.pop("quick", None)
    return cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeinfer_distill.run", description="edgeinfer distillation factory: run one experiment")
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny data, 1-2 epochs (CI)")
    ap.add_argument("--features", help="voice: folder of {split}.features.npy / {split}.labels.npy / labels.json / meta.json")
    ap.add_argument("--device", default=None, help="auto (default), cpu, cuda")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: config 'threads' or 1)")
    ap.add_argument("--workers", type=int, default=None,
                    help="independent training jobs side by side in forked CPU processes (default: config 'workers' or 1)")
    ap.add_argument("--report-workers", type=int, default=None,
                    help="report-only jobs (hard-label baselines, the size sweep) side by side (default: config 'report_workers', else --workers)")
    ap.add_argument("--resume", action="store_true", help="continue stages from their checkpoints in OUT/checkpoints")
    ap.add_argument("--cache", help="teacher-logits cache folder (default OUT/cache)")
    args = ap.parse_args(argv)
    progress = Progress()
    t0 = time.time()
    try:
        cfg = load_config(args.config, args.quick)
        experiment = cfg.get("experiment")
        if args.features:
            cfg["features"] = args.features
        import torch

        from .cache import TeacherCache
        from .pipelines import common as C
        from .side_by_side import parent_threads, workers_from
        from .trainer import set_deterministic

        threads, workers = args.threads or cfg.get("threads", 1), workers_from(cfg, args.workers)
        report_workers = workers_from(cfg, args.report_workers, "report_workers", workers)
        device = args.device or cfg.get("device", "auto")
        own_threads = parent_threads(threads, workers, device, report_workers)
        torch.set_num_threads(own_threads)
        if own_threads != threads:
            log(f"side by side: {workers} jobs of {threads // workers} threads; this process keeps to {own_threads} thread "
                "(an OpenMP thread pool does not survive fork)")

        if experiment == "text":
            from .pipelines import text as pipeline
        elif experiment == "voice":
            from .pipelines import voice as pipeline
        else:
            raise ValueError(f"config 'experiment' must be 'text' or 'voice', got {experiment!r}")
        set_deterministic()
        os.makedirs(args.out, exist_ok=True)
        out = os.path.abspath(args.out)
        ctx = C.Context(out=out, progress=progress, config=cfg, quick=args.quick, resume=args.resume,
                        device=device, workers=workers, job_threads=max(1, threads // workers),
                        report_workers=report_workers, report_job_threads=max(1, threads // report_workers))
        ctx.cache = TeacherCache(args.cache or os.path.join(out, "cache"))
        progress.emit("start", experiment=experiment, stages=pipeline.stages(cfg), quick=args.quick, config=os.path.abspath(args.config), out=out)
        extra = pipeline.run(ctx)
        seconds = time.time() - t0
        report = {"experiment": experiment, "quick": args.quick, "seed": cfg.get("seed", 1), "config": cfg,
                  "device": str(ctx.device), "torch_threads": threads, "workers": ctx.workers, "job_threads": ctx.job_threads,
                  "report_workers": ctx.report_workers, "report_job_threads": ctx.report_job_threads, "seconds": round(seconds, 1),
                  "timings": {k: round(v, 1) for k, v in ctx.timings.items()},
                  "results": ctx.results, "acceptance": C.acceptance(ctx.results), "exports": ctx.exports, **extra,
                  "teacher_cache": {"rows_computed": ctx.cache.computed, "hits": ctx.cache.hits}}
        path = C.write_report(ctx, report)
        progress.emit("done", report=path, seconds=round(seconds, 1))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Every rank done before gloo / nccl is torn down (a rank leaving while its peer still uses the group
            # aborts that peer), then the group released instead of left to interpreter exit.
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
        return 0
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - every failure becomes an error event
        traceback.print_exc(file=sys.stderr)
        progress.emit("error", message=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
