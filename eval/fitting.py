"""Fitting the answerability model (``chatbot.answer.answerability``) on calibration
rows: a small L2-regularised logistic regression, the threshold for a target
recall, and the AUC to report. Only ``chatbot-eval calibrate`` and the probes
use it; answering only loads the fitted JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from chatbot.answer.answerability import FEATURES, LogisticModel


def fit_logistic(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    names: Sequence[str] = FEATURES,
    l2: float = 1.0,
    steps: int = 2000,
    learning_rate: float = 0.5,
) -> LogisticModel:
    """Fit by full-batch gradient descent on standardised features, with an
    L2 penalty (per example) against over-fitting small calibration sets.
    The threshold is left at 0.5; ``choose_threshold`` sets it."""
    import numpy as np

    if len(rows) != len(labels) or not rows:
        raise ValueError("need as many labels as rows, and at least one row")
    y = np.asarray(labels, dtype=float)
    if y.min() == y.max():
        raise ValueError("need both answerable and unanswerable examples")
    raw = np.asarray([[float(r.get(name, 0.0)) for name in names] for r in rows])
    mean = raw.mean(axis=0)
    scale = raw.std(axis=0)
    scale[scale < 1e-9] = 1.0
    x = (raw - mean) / scale
    n = len(y)
    w = np.zeros(len(names))
    b = float(np.log(y.sum() / (n - y.sum())))
    for _ in range(steps):
        z = np.clip(x @ w + b, -40.0, 40.0)
        err = 1.0 / (1.0 + np.exp(-z)) - y
        w -= learning_rate * (x.T @ err / n + l2 * w / n)
        b -= learning_rate * float(err.mean())
    return LogisticModel(
        tuple(names),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in w),
        b,
        0.5,
    )


def choose_threshold(
    probabilities: Sequence[float], labels: Sequence[int], min_recall: float
) -> float:
    """The highest threshold that still passes ``min_recall`` of the answerable
    examples: refuse as many unanswerable ones as that recall allows."""
    positives = sorted((p for p, y in zip(probabilities, labels, strict=True) if y), reverse=True)
    if not positives:
        raise ValueError("no answerable examples to calibrate on")
    keep = max(1, math.ceil(min_recall * len(positives)))
    return positives[keep - 1]


def auc(probabilities: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (probability a random positive outranks a
    random negative; ties count half)."""
    pos = [p for p, y in zip(probabilities, labels, strict=True) if y]
    neg = [p for p, y in zip(probabilities, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    ranked = sorted(probabilities)
    # rank sums with average ranks for ties
    ranks: dict[float, float] = {}
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1] == ranked[i]:
            j += 1
        ranks[ranked[i]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(ranks[p] for p in pos)
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
