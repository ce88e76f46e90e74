"""Accuracy and macro-F1 (the mean of per-class F1 over the classes present in the labels or the predictions)."""
from __future__ import annotations

import numpy as np


def accuracy(pred, labels) -> float:
    pred, labels = np.asarray(pred), np.asarray(labels)
    return float((pred == labels).mean()) if len(labels) else 0.0


def confusion(pred, labels, classes: int) -> np.ndarray:
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(pred)), 1)
    return m


def macro_f1(pred, labels, classes: int | None = None) -> float:
    pred, labels = np.asarray(pred), np.asarray(labels)
    if not len(labels):
        return 0.0
    classes = classes or int(max(pred.max(), labels.max())) + 1
    m = confusion(pred, labels, classes)
    tp = np.diag(m).astype(np.float64)
    fp = m.sum(0) - tp
    fn = m.sum(1) - tp
    present = (m.sum(0) + m.sum(1)) > 0
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(f1[present].mean())


def per_class_f1(pred, labels, classes: int) -> list[float]:
    m = confusion(pred, labels, classes)
    tp = np.diag(m).astype(np.float64)
    denom = 2 * tp + (m.sum(0) - tp) + (m.sum(1) - tp)
    return [float(v) for v in np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)]
