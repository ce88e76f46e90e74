"""Experiment (b): text commands with small decoder-only language models (Llama family: grouped-query
attention, rotary embeddings), intent classification.

Recipe (every choice is in distill/experiments/text.json):
1. data: the command generator's splits; a word-level tokenizer from the labelled + transfer text.
2. teacher: (optionally) language-model pretraining on the text of the labelled + transfer splits (next-word
   prediction, no labels), then the labelled split with hard labels (label smoothing, early stopping on val
   accuracy), then rounds of self-training on the transfer split's text (common.fit_teacher: confident
   pseudo-labels; the transfer split's intents are never read).
3. teacher logits (and pooled hidden states for alignment) on labelled + transfer, cached on disk.
4. student (<= 1/4 of the teacher's parameters), distilled: alpha * CE on labelled rows + (1 - alpha) * T^2 *
   KL on all rows + alignment of the pooled hidden state (cosine, learned projection).
5. the same student (same init) on hard labels only: CE on the labelled split.
6. QAT: the distilled student with fake quant (INT8 attention projections, FP16 MLP, FP32 embedding / norms /
   classifier by default), fine-tuned with the distillation loss, observers frozen for the last epoch(s).
7. size sweep: students of other widths, each distilled and hard-label-only.
Intent as a classification head on the last real token (not a generated token): one forward pass, one
logits vector over exactly the intents, so accuracy and macro-F1 need no decoding or answer parsing.
"""
from __future__ import annotations

import copy
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.commands import INTENTS, generate_splits, write_splits
from ..data.tokenizer import WordTokenizer
from ..models import DecoderClassifier, llama_config
from ..trainer import count_parameters, seed_everything
from . import common as C


class LMObjective(nn.Module):
    """Next-token prediction over the real tokens (pad targets ignored)."""

    def __init__(self, model: DecoderClassifier):
        super().__init__()
        self.model = model

    def forward(self, batch):
        ids = batch["x"]
        logits = self.model.lm_logits(ids[:, :-1])
        target = ids[:, 1:].masked_fill(ids[:, 1:] == self.model.pad_id, C.IGNORE)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=C.IGNORE)
        return loss, {"lm": float(loss.detach())}


def lm_val_fn(x: torch.Tensor):
    def f(objective: nn.Module) -> dict:
        losses = []
        for i in range(0, len(x), 256):
            losses.append(float(objective({"x": x[i:i + 256].to(next(objective.parameters()).device)})[0]) * len(x[i:i + 256]))
        return {"val_loss": sum(losses) / len(x)}

    return f


def build(spec: dict, vocab: int, length: int, classes: int, seed: int) -> DecoderClassifier:
    seed_everything(seed)
    cfg = llama_config(vocab, spec["hidden"], spec["layers"], spec["heads"], spec["kv_heads"], spec["intermediate"], length, 0,
                       spec.get("attention_dropout", 0.0))
    return DecoderClassifier(cfg, classes, pad_id=0, dropout=spec.get("dropout", 0.1))


def run(ctx: C.Context) -> dict:
    cfg = ctx.config
    seed = cfg.get("seed", 1)
    d = cfg["data"]
    t_start = time.time()

    # 1. data
    ctx.stage("data")
    splits = generate_splits(seed, d["labelled"], d["transfer"], d["val"], d["test"])
    if ctx.main:
        write_splits(os.path.join(ctx.out, "data"), splits)
    tok = WordTokenizer.build([r["text"] for k in ("labelled", "transfer") for r in splits[k]], d["length"])
    if ctx.main:
        tok.save(os.path.join(ctx.out, "tokenizer.json"))
    classes = len(INTENTS)
    enc = lambda rows: torch.from_numpy(tok.batch([r["text"] for r in rows]))
    lab = lambda rows: torch.tensor([INTENTS.index(r["intent"]) for r in rows], dtype=torch.long)
    xl, yl = enc(splits["labelled"]), lab(splits["labelled"])
    xt, yt_eval = enc(splits["transfer"]), lab(splits["transfer"])  # yt_eval: evaluation only, never a label
    xv, yv = enc(splits["val"]), lab(splits["val"])
    xs, ys = enc(splits["test"]), lab(splits["test"])
    val = (xv, yv)
    data_info = {k: len(v) for k, v in splits.items()} | {"classes": classes, "vocab": len(tok.vocab), "length": d["length"],
                                                          "test_oov_rate": float((xs == tok.unk_id).sum() / (xs != 0).sum())}
    ctx.timings["data"] = time.time() - t_start

    # 2. teacher
    ts = cfg["teacher"]
    teacher = build(ts["model"], len(tok.vocab), d["length"], classes, seed)
    pre = None
    if ts.get("pretrain", {}).get("epochs", 0) > 0:
        ctx.stage("teacher_pretrain")
        text = torch.cat([xl, xt])
        C.train(ctx, "teacher_pretrain", LMObjective(teacher), {"x": text}, val, classes, ts["pretrain"], val_fn=lm_val_fn(xv))
        pre = f"language-model pretraining on the labelled + transfer text ({len(text)} commands, no labels), {ts['pretrain']['epochs']} epochs; "
    teacher, t_info = C.fit_teacher(ctx, lambda s: build(ts["model"], len(tok.vocab), d["length"], classes, s), seed, xl, yl, xt, val,
                                    classes, ts, model=teacher)
    if pre:
        t_info["recipe"] = pre + t_info["recipe"]
    ctx.result("teacher", "teacher", teacher, C.scores(C.predict(teacher, xs), ys, classes), **t_info)

    # 3. teacher targets (cached)
    ctx.stage("teacher_logits")
    sd = cfg["student"]["distill"]
    align = sd.get("align_weight", 0) > 0
    lt_l, ft_l = C.teacher_targets(ctx, teacher, xl, align)
    lt_t, ft_t = C.teacher_targets(ctx, teacher, xt, align)
    teacher_transfer_acc = C.scores(lt_t, yt_eval, classes)["accuracy"]
    dist_data = C.distill_data(xl, yl, xt, lt_l, lt_t, ft_l, ft_t)

    def distilled(spec, stage):
        student = build(spec, len(tok.vocab), d["length"], classes, seed + 1)
        loss = C.distill_loss(sd, spec["hidden"], ts["model"]["hidden"])
        summary = C.train(ctx, stage, C.Objective(student, loss), dist_data, val, classes, cfg["student"]["train"])
        return student, loss, summary

    def hard(spec, stage):
        student = build(spec, len(tok.vocab), d["length"], classes, seed + 1)
        hard_loss = C.distill_loss({"alpha": 1.0, "label_smoothing": cfg["student"].get("label_smoothing", 0.0)})
        summary = C.train(ctx, stage, C.Objective(student, hard_loss), {"x": xl, "y": yl}, val, classes, cfg["student"]["hard_train"])
        return student, summary

    # 4-5. the student, distilled and hard-label-only
    spec = cfg["student"]["model"]
    ctx.stage("student_distilled")
    student, loss, s_sum = distilled(spec, "student_distilled")
    ctx.result("student_distilled", "student_fp32", student, C.scores(C.predict(student, xs), ys, classes), train=s_sum)
    ctx.stage("student_hard")
    student_h, h_sum = hard(spec, "student_hard")
    ctx.result("student_hard", "student_hard", student_h, C.scores(C.predict(student_h, xs), ys, classes), train=h_sum)

    # 6. QAT
    ctx.stage("student_qat")
    q = cfg["qat"]
    calib_x = xt[: q.get("calibration_rows", 512)]
    qloss = C.distill_loss(sd, spec["hidden"], ts["model"]["hidden"])
    if loss.align is not None:  # keep the learned projection
        qloss.align.load_state_dict(loss.align.state_dict())
    student_q, q_sum = C.qat_finetune(ctx, "student_qat", student, qloss, dist_data, val, classes, q, calib_x)
    ctx.result("student_qat_int8", "student_qat_int8", student_q, C.scores(C.predict(student_q, xs), ys, classes), train=q_sum)

    # 7. sweep
    sweep = []
    for sspec in cfg.get("sweep", {}).get("models", []):
        w = sspec["hidden"]
        if sspec == spec:
            m_d, r_d, r_h = student, ctx.results["student_distilled"], ctx.results["student_hard"]
        else:
            ctx.stage(f"sweep_h{w}_distilled")
            m_d, _, _ = distilled(sspec, f"sweep_h{w}_distilled")
            r_d = C.scores(C.predict(m_d, xs), ys, classes)
            ctx.result(f"sweep_h{w}_distilled", f"student_h{w}_distilled", m_d, r_d)
            ctx.stage(f"sweep_h{w}_hard")
            m_h, _ = hard(sspec, f"sweep_h{w}_hard")
            r_h = C.scores(C.predict(m_h, xs), ys, classes)
            ctx.result(f"sweep_h{w}_hard", f"student_h{w}_hard", m_h, r_h)
        sweep.append(C.sweep_row(w, count_parameters(m_d), r_d, r_h) | {"model": sspec})

    # exports
    ctx.stage("export")
    t0 = time.time()
    inputs_path = labels_path = calib_path = None
    if ctx.main:
        inputs_path = C.save_npy(os.path.join(ctx.out, "test_inputs.npy"), xs.numpy().astype(np.int64))
        labels_path = C.save_npy(os.path.join(ctx.out, "test_labels.npy"), ys.numpy().astype(np.int64))
        calib_path = C.save_npy(os.path.join(ctx.out, "calibration_inputs.npy"), xt[: cfg.get("calibration_rows", 300)].numpy().astype(np.int64))
    for name, model in (("teacher", teacher), ("student_fp32", student), ("student_hard", student_h), ("student_qat_int8", student_q)):
        C.export_model(ctx, "export", name, model, xs, inputs_path, "input_ids", "logits")
    ctx.timings["export"] = time.time() - t0
    q_exp = ctx.exports.get("student_qat_int8", {})
    if "onnxruntime_argmax_agreement" in q_exp:
        ctx.results["student_qat_int8"]["onnxruntime_argmax_agreement"] = q_exp["onnxruntime_argmax_agreement"]

    params_t, params_s = ctx.results["teacher"]["params"], ctx.results["student_distilled"]["params"]
    return {
        "data": data_info,
        "models": {"teacher": ts["model"] | {"params": params_t}, "student": spec | {"params": params_s, "ratio_to_teacher": params_s / params_t}},
        "teacher_transfer_accuracy": teacher_transfer_acc,
        "sweep": sweep,
        "sweep_finding": C.crossover(sweep) if sweep else None,
        "files": {"test_inputs": inputs_path, "test_labels": labels_path, "calibration_inputs": calib_path,
                  "tokenizer": os.path.join(ctx.out, "tokenizer.json")},
        "input": {"name": "input_ids", "dtype": "int64", "shape": [1, d["length"]],
                  "padding": "right-padded with <pad> = 0 after <eos>; no attention mask input: causal attention keeps padding from "
                             "changing the last real token, whose position is computed in the graph ((input_ids != 0).sum - 1)"},
        "output": {"name": "logits", "shape": [1, classes], "kind": "logits"},
        "labels": INTENTS,
    }


def stages(cfg: dict) -> list[str]:
    out = ["data"] + (["teacher_pretrain"] if cfg["teacher"].get("pretrain", {}).get("epochs", 0) > 0 else [])
    out += C.teacher_stages(cfg["teacher"]) + ["teacher_logits", "student_distilled", "student_hard", "student_qat"]
    for s in cfg.get("sweep", {}).get("models", []):
        if s != cfg["student"]["model"]:
            out += [f"sweep_h{s['hidden']}_distilled", f"sweep_h{s['hidden']}_hard"]
    return out + ["export"]
