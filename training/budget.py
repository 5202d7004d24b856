"""How much training a library of N songs gets: the one place the retraining budget is decided.

A full retrain costs (examples per song x songs) windows to build plus (examples x epochs) steps
to fit, so a budget fixed per song, as 200 x 6 was, grows linearly with the library: fine for
57 songs (minutes), days for 10,000. The policy keeps 200 x 6 up to ``SMALL_LIBRARY`` songs and
then lets the examples per song fall with the square root of the library (a bigger library's
network sees fewer fragments of each song but many more songs, and its per-song evidence is
backed by the landmarks and tonal profiles), never below ``MIN_EXAMPLES_PER_SONG``, with fewer
epochs. A run that starts from the previous bundle's weights (``training.widen``) needs about
half the epochs: most of the network already knows the library.

The measured costs behind the figures, and their extrapolation to 1,000 and 10,000 songs, are
printed by ``python -m benchmarks.training_budget`` and kept in docs/training-at-scale.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SMALL_LIBRARY = 250
"""Up to this many songs a library gets the budget MusicID was measured with (200 x 6)."""
FULL_EXAMPLES_PER_SONG = 200
FULL_EPOCHS = 6
MIN_EXAMPLES_PER_SONG = 40
MIN_WARM_EPOCHS = 2


@dataclass(frozen=True)
class Budget:
    examples_per_song: int
    epochs: int

    def example_steps(self, n_songs: int) -> int:
        """Training steps' examples of one run (the "not in your library" class excluded)."""
        return self.examples_per_song * self.epochs * n_songs


def examples_per_song(n_songs: int) -> int:
    if n_songs <= SMALL_LIBRARY:
        return FULL_EXAMPLES_PER_SONG
    return max(MIN_EXAMPLES_PER_SONG, round(FULL_EXAMPLES_PER_SONG * math.sqrt(SMALL_LIBRARY / n_songs)))


def epochs(n_songs: int, warm_start: bool = False) -> int:
    """6 epochs up to 250 songs, 5 up to 2,000, 4 beyond; half of that (at least 2) when the run
    starts from the previous model's weights."""
    full = FULL_EPOCHS if n_songs <= SMALL_LIBRARY else 5 if n_songs <= 2000 else 4
    return max(MIN_WARM_EPOCHS, math.ceil(full / 2)) if warm_start else full


def default_budget(n_songs: int, warm_start: bool = False) -> Budget:
    """The budget training uses for ``n_songs`` songs unless the caller chose one: 200 x 6 up to
    250 songs, 100 x 5 at 1,000, 40 x 4 at 10,000 (x 3, x 3 and x 2 epochs when widened)."""
    if n_songs < 1:
        raise ValueError(f"a budget needs at least one song, not {n_songs}")
    return Budget(examples_per_song(n_songs), epochs(n_songs, warm_start))
