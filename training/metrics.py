"""Validation metrics and the verdict threshold, from probabilities in numpy/scikit-learn."""

from __future__ import annotations

import numpy as np


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, macro precision, macro one-vs-rest ROC AUC and top-5 accuracy."""
    from sklearn.metrics import precision_score, roc_auc_score

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
    """Pick the verdict threshold between single-window top scores of held-out genuine fragments
    and of impostor fragments.

    We want to reject nearly all impostors (95th percentile of their scores) but never demand
    more than 90 % of genuine single windows reach it; a multi-window recording averages its
    windows, which lifts genuine scores further above the threshold than impostor ones.
    """
    impostor_95 = float(np.quantile(impostor_scores, 0.95)) if impostor_scores.size else 0.5
    genuine_10 = float(np.quantile(genuine_scores, 0.10)) if genuine_scores.size else 0.5
    threshold = min(impostor_95, genuine_10)
    threshold = float(np.clip(threshold, 0.15, 0.9))
    return {
        "threshold": threshold,
        "impostor_rejected": float(np.mean(impostor_scores < threshold)) if impostor_scores.size else float("nan"),
        "genuine_accepted": float(np.mean(genuine_scores >= threshold)) if genuine_scores.size else float("nan"),
    }
