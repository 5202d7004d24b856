"""Validation metrics and the verdict threshold, from probabilities in numpy/scikit-learn."""

from __future__ import annotations

import numpy as np


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, macro precision, macro one-vs-rest ROC AUC and top-5 accuracy.

    ``probabilities`` may be the song columns of a model with a "not in your library" output;
    they are renormalised over the songs first."""
    from sklearn.metrics import precision_score, roc_auc_score

    probabilities = probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    predicted = probabilities.argmax(axis=1)
    n_classes = probabilities.shape[1]
    top5 = np.argsort(-probabilities, axis=1)[:, :5]
    metrics = {
        "accuracy": float(np.mean(predicted == labels)),
        "precision": float(precision_score(labels, predicted, average="macro", zero_division=0)),
        "top5": float(np.mean(np.any(top5 == labels[:, None], axis=1))),
    }
    try:
        if n_classes == 2:
            metrics["roc_auc"] = float(roc_auc_score(labels, probabilities[:, 1]))
        else:
            metrics["roc_auc"] = float(
                roc_auc_score(labels, probabilities, multi_class="ovr", average="macro", labels=np.arange(n_classes))
            )
    except ValueError:  # a class absent from validation: AUC is undefined, say so rather than guess
        metrics["roc_auc"] = float("nan")
    return metrics


def calibrate_threshold(genuine_scores: np.ndarray, impostor_scores: np.ndarray) -> dict[str, float]:
    """Pick the verdict threshold between the single-window top-song scores of held-out
    enrolled-song windows (genuine) and of "not in your library" windows (impostors) — each
    counted only where the top song already beats the "not in your library" output.

    We want to reject nearly all impostors (95th percentile of their scores) but never demand
    more than 95 % of genuine single windows reach it: a song that is in the library and called
    "unknown" is a failure the person notices at once.
    """
    impostor_95 = float(np.quantile(impostor_scores, 0.95)) if impostor_scores.size else 0.0
    genuine_05 = float(np.quantile(genuine_scores, 0.05)) if genuine_scores.size else 0.5
    threshold = min(impostor_95, genuine_05)
    return {
        "threshold": threshold,
        "genuine_p05": genuine_05,
        "impostor_p95": impostor_95,
        "impostor_rejected": float(np.mean(impostor_scores < threshold)) if impostor_scores.size else float("nan"),
        "genuine_accepted": float(np.mean(genuine_scores >= threshold)) if genuine_scores.size else float("nan"),
    }
