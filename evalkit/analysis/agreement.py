"""Agreement of a judge's verdicts with human labels: macro-F1, balanced accuracy, Cohen's kappa, AUROC.

Used by `evalkit calibrate` (judges.calibration) and by the PPI summary of a run with labels.
"""

from __future__ import annotations

from typing import Any


def auroc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (ties count one half)."""
    import numpy as np
    from scipy.stats import rankdata

    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    ranks = rankdata(scores)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion(labels: Any, predicted: Any) -> tuple[int, int, int, int]:
    """(true positives, true negatives, false positives, false negatives) of binary predictions."""
    import numpy as np

    y, p = np.asarray(labels, dtype=int), np.asarray(predicted, dtype=int)
    return (int(((y == 1) & (p == 1)).sum()), int(((y == 0) & (p == 0)).sum()),
            int(((y == 0) & (p == 1)).sum()), int(((y == 1) & (p == 0)).sum()))


def macro_f1(tp: int, tn: int, fp: int, fn: int) -> float:
    f1_pos = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f1_neg = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    return (f1_pos + f1_neg) / 2


def agreement(labels: Any, predicted: Any, scores: Any) -> dict[str, float]:
    """macro-F1, balanced accuracy, Cohen's kappa of binary predictions; AUROC of graded scores."""
    tp, tn, fp, fn = confusion(labels, predicted)
    n = tp + tn + fp + fn
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
    return {
        "macro_f1": macro_f1(tp, tn, fp, fn),
        "balanced_accuracy": (tp / (tp + fn) + tn / (tn + fp)) / 2,
        "auroc": auroc(labels, scores),
        "cohen_kappa": (observed - expected) / (1 - expected) if expected != 1 else 0.0,
    }
