"""The impostor-network benchmark's variants: which impostors count and which carry the network's
answer (only songs' columns, never the "not in your library" one)."""

from __future__ import annotations

import numpy as np

from benchmarks.impostor_network import HOLDOUT_EVERY, VARIANTS, variant_inputs
from training.noise_bank import ClipBank


def _evidence(n: int) -> dict:  # type: ignore[type-arg]
    return {"impostor_counts": np.arange(n)[:, None], "impostor_similarity": np.arange(n)[:, None] * 0.1}


def test_never_trained_negatives_are_the_ones_training_keeps_for_validation() -> None:
    clips = [np.full(4, i, np.float32) for i in range(12)]
    _, validation = ClipBank(clips, "test").split(HOLDOUT_EVERY)
    assert [int(c[0]) for c in validation] == [i for i in range(12) if i % HOLDOUT_EVERY == 0]


def test_each_variant_keeps_its_impostors_and_their_network_answers() -> None:
    clip = np.array([0, 0, 1, 2, 4, 5])
    network = np.tile(np.array([0.5, 0.3, 0.2]), (6, 1)) * np.arange(1, 7)[:, None]
    kept, answers = variant_inputs(_evidence(6), network, clip, *VARIANTS["every impostor, analyses only (shipped)"])
    assert len(kept["impostor_counts"]) == 6 and answers == [None] * 6
    kept, answers = variant_inputs(_evidence(6), network, clip, "all", "untrained")
    assert [a is not None for a in answers] == [True, True, False, False, True, False]
    np.testing.assert_array_equal(answers[4], network[4, :-1])
    kept, answers = variant_inputs(_evidence(6), network, clip, "untrained", "all")
    assert kept["impostor_counts"][:, 0].tolist() == [0, 1, 4] and all(a.size == 2 for a in answers)
