"""What the trained network says about the calibration impostors it never trained on.

Why: the verdict weighs the network's belief in the top song (``musicid_core.verdict``), but the
margins were calibrated on impostor recordings kept as analyses only, i.e. as if the network said
nothing. On the by-source benchmark's held-out side that let strangers through: two songs of that
library are "hubs" the network favours for music it does not know, and foreign recordings named
as them passed with the network's belief behind small leads (``benchmarks/RESULTS.md``,
"Thirteenth session"). One negative clip in four is never trained on as the "not in your
library" class (``ClipBank.split`` keeps it for validation), so the network hears those
recordings as it would hear a stranger; its answers for them become part of their claims, and the
margins rise until the verdict *with* the network rejects ``REJECTION_TARGET`` of the impostors.
The other impostors stay analyses only: the network was trained to call them "not in your
library", which would make them look easier than strangers are.

The answers are kept in the bundle's ``meta.json`` (``BundleMeta.impostor_network``) so that a
recalibration after songs are added (``training.enrolment``) counts them too without running the
network: per heard recording the ``TOP_SONGS`` most probable songs, by id, and the largest
probability of any other trained song (an upper bound used for all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from musicid_core.config import FeatureSettings
from musicid_core.features import recording_windows

TOP_SONGS = 64
"""Songs kept per heard recording: the verdict asks the belief of the top song only, which is
the network's own top or a song the checks rank first, and the rest get an upper bound."""


@dataclass(frozen=True)
class HeardImpostors:
    recipe: str
    """Which impostor recordings these are (``training.enrolment.impostor_recipe``); empty when
    they were made otherwise than enrolment makes them, so only the training run can use them."""
    recordings: tuple[int, ...]
    """Their places in the impostor list (``training.fingerprints.impostor_recordings`` order)."""
    songs: tuple[tuple[str, ...], ...]
    """Per recording, the ids of its ``TOP_SONGS`` most probable songs, most probable first."""
    probabilities: tuple[tuple[float, ...], ...]
    rest: tuple[float, ...]
    """Per recording, the largest probability of a trained song not in ``songs``."""

    def answers(self, song_ids: Sequence[str], trained_ids: Iterable[str], impostors: int) -> list[Optional[np.ndarray]]:
        """Per impostor recording (``impostors`` of them), the network's song probabilities in
        ``song_ids`` order, or None for one it did not hear. A song the network was not trained on
        gets the neutral share 1 / trained songs, as ``Recognizer.song_probabilities`` gives it."""
        trained = set(trained_ids)
        neutral = 1.0 / max(len(trained), 1)
        out: list[Optional[np.ndarray]] = [None] * impostors
        for place, ids, values, rest in zip(self.recordings, self.songs, self.probabilities, self.rest):
            if not 0 <= place < impostors:
                raise ValueError(f"heard impostor {place} is not among the {impostors} impostor recordings")
            known = dict(zip(ids, values))
            out[place] = np.array([known.get(s, rest if s in trained else neutral) for s in song_ids], dtype=np.float64)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "recordings": list(self.recordings), "songs": [list(s) for s in self.songs],
                "probabilities": [[round(float(p), 6) for p in row] for row in self.probabilities],
                "rest": [round(float(r), 6) for r in self.rest]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HeardImpostors":
        """Raises ValueError, KeyError or TypeError for contents that are not a heard set."""
        heard = cls(str(data["recipe"]), tuple(int(r) for r in data["recordings"]),
                    tuple(tuple(str(s) for s in row) for row in data["songs"]),
                    tuple(tuple(float(p) for p in row) for row in data["probabilities"]),
                    tuple(float(r) for r in data["rest"]))
        rows = {len(heard.recordings), len(heard.songs), len(heard.probabilities), len(heard.rest)}
        if len(rows) != 1 or any(len(s) != len(p) for s, p in zip(heard.songs, heard.probabilities)):
            raise ValueError("heard impostors with rows of different lengths")
        return heard


def hear(
    predict: Callable[[np.ndarray], np.ndarray], recordings: Sequence[tuple[int, np.ndarray]], unheard_clips: Iterable[int],
    song_ids: Sequence[str], settings: FeatureSettings, recipe: str = "",
) -> HeardImpostors:
    """The network's answers (``predict``: windows (n, mels, frames, 1) -> probabilities, song
    columns in ``song_ids`` order first) for the recordings of ``recordings`` — (negative clip
    number, audio) in impostor order — whose clip is in ``unheard_clips``: the clips training
    never used."""
    never_trained = set(unheard_clips)
    places, songs, probabilities, rest = [], [], [], []
    for place, (clip, audio) in enumerate(recordings):
        if clip not in never_trained:
            continue
        windows = recording_windows(audio, settings)
        averaged = np.asarray(predict(windows[..., np.newaxis].astype(np.float32)), dtype=np.float64).mean(axis=0)
        of_songs = averaged[: len(song_ids)]
        order = np.argsort(-of_songs, kind="stable")
        kept, others = order[:TOP_SONGS], order[TOP_SONGS:]
        places.append(place)
        songs.append(tuple(song_ids[i] for i in kept))
        probabilities.append(tuple(float(of_songs[i]) for i in kept))
        rest.append(float(of_songs[others].max()) if others.size else 0.0)
    return HeardImpostors(recipe, tuple(places), tuple(songs), tuple(probabilities), tuple(rest))
