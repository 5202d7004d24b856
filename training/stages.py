"""How one training run's stages share a single progress bar (the Training tab's and the CLI's).

``TrainProgress.fraction`` restarts at 0 in every stage; a bar that showed it as is would jump
back to 0 % at each stage. Shares follow the measured time of a default run: building the
examples, fitting, evaluating, indexing the songs' landmarks, saving.
"""

from __future__ import annotations

STAGES = {
    "dataset": (0.0, 0.2), "training": (0.2, 0.92), "evaluating": (0.92, 0.93), "fingerprints": (0.93, 0.99),
    "saving": (0.99, 1.0),
}


def overall_fraction(stage: str, fraction: float) -> float:
    """The whole run's progress (0..1) for ``fraction`` of ``stage``; never moves backwards
    between stages because each stage's share starts where the previous one ended."""
    low, high = STAGES.get(stage, (0.0, 1.0))
    return low + (high - low) * max(0.0, min(1.0, fraction))
