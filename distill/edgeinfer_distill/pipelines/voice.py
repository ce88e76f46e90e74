"""Experiment (a): voice commands. Audio -> openWakeWord melspectrogram + embedding (made by the Node side
through edgeinfer's Engine) -> a command classifier over F embedding frames.

Input folder (config "features" or --features): {split}.features.npy float32 [N, F, 96], {split}.labels.npy
int64 [N] (indexes into labels.json, index 0 "none" = no command), labels.json, meta.json {"frames": F};
splits labelled, transfer (its labels are read for evaluation only, never as labels), val, test (held-out
voices).

Teacher: a transformer encoder over the frames (FrameTransformer), trained on the labelled split with hard
labels and feature-level augmentation (make_augment: time shift, noise, frame dropout; time and channel masks
on request), optionally strengthened by self-training on the transfer split's inputs (common.fit_teacher).
Student: ConvHead (two 1-D convolutions, mean over time, linear), tens of K parameters. Exported with softmax in
the graph, input `embeddings` [1, F, 96], output named by the JSON {"1": intent, ...} (lib/wakeword/command-stage.ts).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import torch

from ..models import ConvHead, FrameTransformer, WithSoftmax
from ..side_by_side import Job, run_jobs
from ..trainer import count_parameters, seed_everything
from . import common as C

SPLITS = ("labelled", "transfer", "val", "test")


def load_features(folder: str) -> tuple[dict, list[str], int]:
    with open(os.path.join(folder, "labels.json"), encoding="utf-8") as f:
        labels = json.load(f)
    with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    frames = int(meta["frames"])
    data = {}
    for split in SPLITS:
        x = np.load(os.path.join(folder, f"{split}.features.npy")).astype(np.float32, copy=False)
        y = np.load(os.path.join(folder, f"{split}.labels.npy")).astype(np.int64, copy=False)
        if x.ndim != 3 or x.shape[1] != frames or x.shape[2] != 96:
            raise ValueError(f"{split}.features.npy: expected [N, {frames}, 96], got {list(x.shape)}")
        if len(y) != len(x) or (len(y) and (y.min() < 0 or y.max() >= len(labels))):
            raise ValueError(f"{split}.labels.npy: {len(y)} labels in [0, {len(labels)}) expected for {len(x)} rows")
        data[split] = (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))
    if labels[0] != "none":
        raise ValueError('labels.json: index 0 must be "none"')
    return data, labels, frames


def write_random_features(folder: str, frames: int, sizes: dict, classes: int, seed: int = 0) -> None:
    """Random features in the Node side's format, each class with its own mean pattern over the frames (tests)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    protos = rng.normal(0, 1, (classes, frames, 96)).astype(np.float32)
    for split, n in sizes.items():
        y = rng.integers(0, classes, n).astype(np.int64)
        x = (protos[y] + rng.normal(0, 1.5, (n, frames, 96))).astype(np.float32)
        np.save(os.path.join(folder, f"{split}.features.npy"), x)
        np.save(os.path.join(folder, f"{split}.labels.npy"), y)
    with open(os.path.join(folder, "labels.json"), "w") as f:
        json.dump(["none"] + [f"intent_{i}" for i in range(1, classes)], f)
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump({"frames": frames, "note": "random test features"}, f)


AUGMENT_KEYS = ("shift", "noise", "frame_drop", "time_masks", "time_mask_width", "channel_masks", "channel_mask_width")


def make_augment(a: dict, scale: float):
    """Feature-level augmentation: shift in time by up to `shift` frames (edge frames repeated), each frame replaced by
    its neighbour with probability `frame_drop`, Gaussian noise of `noise` x the features' std, then SpecAugment's
    masks on the embedding frames: `time_masks` spans of up to `time_mask_width` frames set to the window's mean
    frame, and `channel_masks` spans of up to `channel_mask_width` of the 96 values set to their mean over the
    window (each width drawn in [0, max] per row). Unknown keys are an error (a misspelt one would silently train
    without it)."""
    unknown = sorted(set(a) - set(AUGMENT_KEYS))
    if unknown:
        raise ValueError(f"augment: unknown key(s) {unknown}; known: {list(AUGMENT_KEYS)}")
    for key in AUGMENT_KEYS:  # before any int() / float(): int("x") would fail without naming the key
        if key in a and (not isinstance(a[key], (int, float)) or isinstance(a[key], bool) or a[key] < 0):
            raise ValueError(f"augment.{key}: must be a number >= 0, got {a[key]!r}")
    shift, noise, drop = int(a.get("shift", 0)), float(a.get("noise", 0.0)), float(a.get("frame_drop", 0.0))
    masks = [(int(a.get("time_masks", 0)), int(a.get("time_mask_width", 0)), 1), (int(a.get("channel_masks", 0)), int(a.get("channel_mask_width", 0)), 2)]

    def augment(batch, g):
        x = batch["x"]
        n, f, d = x.shape
        if shift:
            s = torch.randint(-shift, shift + 1, (n,), generator=g)
            idx = (torch.arange(f)[None, :] - s[:, None]).clamp(0, f - 1)
            x = torch.gather(x, 1, idx[:, :, None].expand(n, f, d))
        if drop:
            m = torch.rand((n, f), generator=g) < drop
            prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)
            x = torch.where(m[:, :, None], prev, x)
        if noise:
            x = x + noise * scale * torch.randn(x.shape, generator=g)
        for count, width, axis in masks:
            if not (count and width):
                continue
            size = x.shape[axis]
            mean = x.mean(1, keepdim=True).expand(n, f, d)  # the window's mean frame
            pos = torch.arange(size)[None, :]
            for _ in range(count):
                w = torch.randint(0, min(width, size) + 1, (n, 1), generator=g)
                start = (torch.rand((n, 1), generator=g) * (size - w + 1)).floor().long()
                span = (pos >= start) & (pos < start + w)
                x = torch.where(span[:, :, None] if axis == 1 else span[:, None, :], mean, x)
        return {**batch, "x": x}

    return augment


def run(ctx: C.Context) -> dict:
    cfg = ctx.config
    seed = cfg.get("seed", 1)
    t_start = time.time()
    ctx.stage("data")
    folder = cfg.get("features")
    if not folder:
        raise ValueError("voice: no features folder (config 'features' or --features DIR)")
    data, labels, frames = load_features(folder)
    classes = len(labels)
    (xl, yl), (xt, yt_eval), (xv, yv), (xs, ys) = (data[s] for s in SPLITS)
    if ctx.quick and cfg.get("quick_rows"):
        q = cfg["quick_rows"]
        xl, yl, xt, yt_eval, xv, yv, xs, ys = xl[: q["labelled"]], yl[: q["labelled"]], xt[: q["transfer"]], yt_eval[: q["transfer"]], \
            xv[: q["val"]], yv[: q["val"]], xs[: q["test"]], ys[: q["test"]]
    val = (xv, yv)
    scale = float(xl.std())
    data_info = {"labelled": len(xl), "transfer": len(xt), "val": len(xv), "test": len(xs), "classes": classes, "frames": frames,
                 "features": os.path.abspath(folder)}
    meta_path = os.path.join(folder, "meta.json")
    with open(meta_path) as f:
        data_info["features_meta"] = json.load(f)
    ctx.timings["data"] = time.time() - t_start

    ts = cfg["teacher"]
    tm = ts["model"]

    def build_teacher(s):
        seed_everything(s)
        return FrameTransformer(frames, classes, tm.get("dim", 128), tm.get("layers", 4), tm.get("heads", 4), tm.get("ff", 256), tm.get("dropout", 0.1))

    augment = make_augment(ts.get("augment", {}), scale)
    teacher, t_info = C.fit_teacher(ctx, build_teacher, seed, xl, yl, xt, val, classes, ts, augment)
    ctx.result("teacher", "teacher", teacher, C.scores(C.predict(teacher, xs), ys, classes), **t_info)

    ctx.stage("teacher_logits")
    sd = cfg["student"]["distill"]
    align = sd.get("align_weight", 0) > 0
    lt_l, ft_l = C.teacher_targets(ctx, teacher, xl, align)
    lt_t, ft_t = C.teacher_targets(ctx, teacher, xt, align)
    teacher_transfer_acc = C.scores(lt_t, yt_eval, classes)["accuracy"]
    dist_data = C.distill_data(xl, yl, xt, lt_l, lt_t, ft_l, ft_t)
    s_augment = make_augment(cfg["student"].get("augment", {}), scale)
    t_dim = tm.get("dim", 128)

    def build_student(width):
        seed_everything(seed + 1)
        return ConvHead(classes, width=width, dropout=cfg["student"].get("dropout", 0.1))

    def distilled(width, stage):
        student = build_student(width)
        loss = C.distill_loss(sd, width, t_dim)
        summary = C.train(ctx, stage, C.Objective(student, loss), dist_data, val, classes, cfg["student"]["train"], augment=s_augment)
        return student, loss, summary

    def hard(width, stage):
        student = build_student(width)
        hard_loss = C.distill_loss({"alpha": 1.0, "label_smoothing": cfg["student"].get("label_smoothing", 0.0)})
        summary = C.train(ctx, stage, C.Objective(student, hard_loss), {"x": xl, "y": yl}, val, classes, cfg["student"]["hard_train"],
                          augment=s_augment)
        return student, summary

    def scored(stage, model_name, model, **extra):
        # Scored where the model was trained (a worker process when side by side); ctx.results is set by the caller.
        return ctx.result(stage, model_name, model, C.scores(C.predict(model, xs), ys, classes), **extra)

    def distilled_job(w, stage, model_name, keep_loss=False):
        def run():
            ctx.stage(stage)
            m, loss, summary = distilled(w, stage)
            return m, (loss if keep_loss else None), scored(stage, model_name, m, **({"train": summary} if keep_loss else {}))
        return Job(stage, run)

    def hard_job(w, stage, model_name, with_summary=False):
        def run():
            ctx.stage(stage)
            m, summary = hard(w, stage)
            return m, None, scored(stage, model_name, m, **({"train": summary} if with_summary else {}))
        return Job(stage, run)

    def run_side_by_side(jobs, workers, threads):
        """The jobs' (model, loss, row) in order, run `workers` at a time; their result rows recorded here."""
        done = run_jobs(ctx, jobs, workers, threads)
        for job, (_, _, row) in zip(jobs, done):
            ctx.results[job.stage] = row
        return done

    # The students do not depend on each other. The distilled student is the shipped chain's (ctx.workers); the
    # hard-label baseline and the sweep only feed the report: one pool of ctx.report_workers, so a short job fills a
    # core while a long one runs.
    width = cfg["student"]["width"]
    sweep_widths = [w for w in cfg.get("sweep", {}).get("widths", []) if w != width]
    report_jobs = [hard_job(width, "student_hard", "student_hard", with_summary=True)]
    for w in sweep_widths:
        report_jobs += [distilled_job(w, f"sweep_w{w}_distilled", f"student_w{w}_distilled"), hard_job(w, f"sweep_w{w}_hard", f"student_w{w}_hard")]
    shipped = distilled_job(width, "student_distilled", "student_fp32", keep_loss=True)
    if ctx.report_workers == ctx.workers and ctx.report_job_threads == ctx.job_threads:
        (student, loss, _), (student_h, _, _), *rest = run_side_by_side([shipped] + report_jobs, ctx.workers, ctx.job_threads)
    else:
        (student, loss, _), = run_side_by_side([shipped], ctx.workers, ctx.job_threads)
        (student_h, _, _), *rest = run_side_by_side(report_jobs, ctx.report_workers, ctx.report_job_threads)
    swept = {w: (rest[2 * i], rest[2 * i + 1]) for i, w in enumerate(sweep_widths)}

    ctx.stage("student_qat")
    q = cfg["qat"]
    qloss = C.distill_loss(sd, width, t_dim)
    if loss.align is not None:
        qloss.align.load_state_dict(loss.align.state_dict())
    # A job like the others: with several threads per job it trains in a worker on as many (side_by_side.run_jobs).
    (student_q, q_sum), = run_jobs(ctx, [Job("student_qat", lambda: C.qat_finetune(ctx, "student_qat", student, qloss, dist_data, val, classes, q,
                                                                                   xt[: q.get("calibration_rows", 512)]))], ctx.workers)
    ctx.result("student_qat_int8", "student_qat_int8", student_q, C.scores(C.predict(student_q, xs), ys, classes), train=q_sum)

    sweep = []
    for w in cfg.get("sweep", {}).get("widths", []):
        if w == width:
            m_d, r_d, r_h = student, ctx.results["student_distilled"], ctx.results["student_hard"]
        else:
            (m_d, _, r_d), (_, _, r_h) = swept[w]
        sweep.append(C.sweep_row(w, count_parameters(m_d), r_d, r_h))

    ctx.stage("export")
    t0 = time.time()
    inputs_path = labels_path = calib_path = None
    if ctx.main:
        inputs_path = C.save_npy(os.path.join(ctx.out, "test_inputs.npy"), xs.numpy().astype(np.float32))
        labels_path = C.save_npy(os.path.join(ctx.out, "test_labels.npy"), ys.numpy().astype(np.int64))
        calib_path = C.save_npy(os.path.join(ctx.out, "calibration_inputs.npy"), xt[: cfg.get("calibration_rows", 300)].numpy().astype(np.float32))
    output_name = json.dumps({str(i): labels[i] for i in range(1, classes)}, separators=(", ", ": "))
    for name, model in (("teacher", teacher), ("student_fp32", student), ("student_hard", student_h), ("student_qat_int8", student_q)):
        C.export_model(ctx, "export", name, model, xs, inputs_path, "embeddings", output_name, wrap=WithSoftmax)
    ctx.timings["export"] = time.time() - t0
    q_exp = ctx.exports.get("student_qat_int8", {})
    if "onnxruntime_argmax_agreement" in q_exp:
        ctx.results["student_qat_int8"]["onnxruntime_argmax_agreement"] = q_exp["onnxruntime_argmax_agreement"]
    return {
        "data": data_info,
        "models": {"teacher": tm | {"params": ctx.results["teacher"]["params"]},
                   "student": {"kind": "ConvHead", "width": width, "params": ctx.results["student_distilled"]["params"]}},
        "teacher_transfer_accuracy": teacher_transfer_acc,
        "sweep": sweep,
        "sweep_finding": C.crossover(sweep) if sweep else None,
        "files": {"test_inputs": inputs_path, "test_labels": labels_path, "calibration_inputs": calib_path},
        "input": {"name": "embeddings", "dtype": "float32", "shape": [1, frames, 96]},
        "output": {"name": output_name, "shape": [1, classes], "kind": "probabilities (softmax in the graph), index 0 = none"},
        "labels": labels,
    }


def stages(cfg: dict) -> list[str]:
    out = ["data"] + C.teacher_stages(cfg["teacher"]) + ["teacher_logits", "student_distilled", "student_hard"]
    for w in cfg.get("sweep", {}).get("widths", []):
        if w != cfg["student"]["width"]:
            out += [f"sweep_w{w}_distilled", f"sweep_w{w}_hard"]
    return out + ["student_qat", "export"]
