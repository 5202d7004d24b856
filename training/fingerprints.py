"""The landmark index of a training run, and the verdict margin calibrated for it.

Built after the network is trained, from the same songs in the same (output) order, and saved in
the same bundle, so the two can never describe different libraries.

The margin thresholds (landmarks and tonal profiles) are set like the CNN's threshold: from
recordings that must be rejected.
Fragments of the held-out negative music (never anyone's library) of 5, 10 and 20 s go through
the training augmentation (multi-noise, room loudness, reverb, phone microphone) and are matched;
the threshold sits above nearly all of their margins, and both are raised together until the
verdict rejects ``REJECTION_TARGET`` of those recordings. Chance alignments grow with the number of
songs, so this adapts the threshold to the library instead of fixing one number.

The verdict weighs the network's belief too, so the impostors whose negative clip training never
used (one in four, ``ClipBank.validation_only``) are judged with the network's answers for them
(``training.heard_impostors``; ``calibrate_margin``'s ``networks``); the others stay analyses only,
as the network was trained to call them "not in your library".

Each impostor recording goes through the recogniser's speed search (``musicid_core.speed_search``):
it is analysed at nominal speed and at every search speed, and what counts is its best try (its
largest leads, its most confident claim), because a recogniser that searches answers with its
most confident try.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from musicid_core import speed_search, verdict
from musicid_core.errors import TrainingCancelled
from musicid_core.fingerprint import SAMPLE_RATE, RecordingMatcher
from musicid_core.library import Library, Song
from musicid_core.song_index import PACKED_ABOVE, SongIndex, fingerprint_index
from musicid_core.speed_search import Tries
from training.augment import augment_in_room

MIN_MARGIN = 8.0
"""Never accept on fewer aligned landmarks beyond the runner-up than this, whatever the calibration
says: with 20 negative songs the calibration sees only a few hundred impostor recordings."""
CALIBRATION_LENGTHS_S = (5.0, 10.0, 20.0)
CALIBRATION_PER_CLIP = 4
CALIBRATION_PERCENTILE = 99.0
CALIBRATION_HEADROOM = 2.0
MIN_PROFILE_MARGIN = 0.05
"""Never accept on a tonal-profile lead below this: the benchmark's foreign recordings led the
57-song library by up to about 0.1 (smaller libraries give larger chance leads, which the
calibration measures; it set 0.30 for 10 songs and 0.165 for 57)."""
PROFILE_HEADROOM = 0.01
REJECTION_TARGET = 0.95
"""Share of the impostor recordings the verdict must reject at the calibrated margins (issue 15:
unknown music answered ``unknown`` >= 95 %). The percentiles alone do not ensure it: a lead short
of both margins can still make a ``match`` when the two checks agree, and the speed search gives
every impostor several tries."""
MARGIN_STEP = 1.05
"""Both margins grow by this factor at a time until ``REJECTION_TARGET`` is met."""
MAX_MARGIN_SCALE = 4.0


def build_index(
    library: Library, songs: Sequence[Song], progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> RecordingMatcher:
    """Landmarks and profiles of every song, song ``i`` being model output ``i``: taken from the
    library's song index (``musicid_core.song_index``), where enrolment already put them, and
    analysed there first for a song that lacks them. Polls ``should_stop`` per song.

    A library of more than ``PACKED_ABOVE`` songs gets no in-memory index (it would not fit: about
    2.5 MB per song): the song index's packed snapshot is returned, for calibration only, and the
    bundle is saved without one (recognisers match through the song index)."""
    index = SongIndex(library)
    large = len(songs) > PACKED_ABOVE
    analyses = []
    for i, song in enumerate(songs):
        if should_stop():
            raise TrainingCancelled("training was cancelled; the previous model is still in use")
        if progress is not None:
            progress(i, len(songs))
        analysis = index.analysis(song)
        if not large:
            analyses.append(analysis)
    if not songs:
        raise ValueError("no songs to index")
    if large:
        snapshot = index.snapshot()
        if snapshot is None:
            raise ValueError("no songs to index")
        return snapshot.fingerprints
    return fingerprint_index(analyses)


def impostor_recordings(
    negatives: Sequence[np.ndarray], noise: Sequence[np.ndarray], seed: int = 0,
) -> Iterator[tuple[int, np.ndarray]]:
    """(negative clip number, recording) of every recording the calibration makes: fragments of
    each negative clip of each ``CALIBRATION_LENGTHS_S`` through the room augmentation, seeded."""
    rng = np.random.default_rng(seed)
    for number, clip in enumerate(negatives):
        clip = np.asarray(clip, dtype=np.float32)
        for seconds in CALIBRATION_LENGTHS_S:
            n = int(seconds * SAMPLE_RATE)
            if clip.size < n:
                continue
            for _ in range(CALIBRATION_PER_CLIP if clip.size > n else 1):
                start = int(rng.integers(0, clip.size - n + 1))
                fragment = clip[start : start + n]
                yield number, augment_in_room(fragment, noise, rng, SAMPLE_RATE) if noise else fragment


def impostor_queries(
    negatives: Sequence[np.ndarray], noise: Sequence[np.ndarray], seed: int = 0,
    speeds: Sequence[float] = speed_search.SPEEDS,
) -> list[Tries]:
    """The recordings a verdict must reject (``impostor_recordings``), analysed at nominal speed
    and at each search speed. They do not depend on the library, so enrolment keeps them
    (``training.enrolment``) and recalibrates by matching alone."""
    return [speed_search.analyse_tries(recording, speeds) for _, recording in impostor_recordings(negatives, noise, seed)]


def calibrate_margin(
    index: RecordingMatcher, negatives: Sequence[np.ndarray], noise: Sequence[np.ndarray], seed: int = 0,
    queries: Optional[Sequence[Tries]] = None, rejection_target: float = REJECTION_TARGET,
    networks: Optional[Sequence[Optional[np.ndarray]]] = None,
) -> dict[str, float]:
    """``fingerprint_margin`` and ``profile_margin`` (the units the verdict measures leads in,
    ``musicid_core.verdict``), the impostor margins they were set from, and the share of the
    impostors the verdict rejects with them (``verdict_impostors_rejected``); ``queries``:
    ``impostor_queries`` made already. Each impostor counts with its best try (module docstring):
    store the margins with ``speed_search.calibrated_speeds(queries)``, the speeds they allow.
    ``rejection_target`` 0 gives the percentile margins alone (the calibration before the search).
    ``networks``: per impostor, the network's averaged song probabilities for it, or None for one
    judged without the network (``verdict.impostor_probability``)."""
    margins, profile_margins, matched = [], [], []
    for tries in impostor_queries(negatives, noise, seed) if queries is None else queries:
        found = [index.match_query(query) for query in tries.analyses]
        matched.append(found)
        margins.append(max(f.margin for f in found))
        if all(f.profiles is not None for f in found):
            profile_margins.append(max(f.profiles.margin for f in found))  # type: ignore[union-attr]
    result = {"fingerprint_margin": MIN_MARGIN, "fingerprint_impostors": float(len(margins)),
              "impostor_tries": float(max((len(t) for t in matched), default=0))}
    if index.profiles is not None:
        result["profile_margin"] = MIN_PROFILE_MARGIN
    if margins:
        percentile = float(np.percentile(margins, CALIBRATION_PERCENTILE))
        result.update({
            "fingerprint_margin": max(MIN_MARGIN, float(np.ceil(percentile + CALIBRATION_HEADROOM))),
            "fingerprint_impostor_p99": percentile,
            "fingerprint_impostor_max": float(max(margins)),
        })
    if profile_margins:
        percentile = float(np.percentile(profile_margins, CALIBRATION_PERCENTILE))
        result.update({
            "profile_margin": round(max(MIN_PROFILE_MARGIN, percentile + PROFILE_HEADROOM), 4),
            "profile_impostor_p99": percentile,
            "profile_impostor_max": float(max(profile_margins)),
        })
    if matched:
        # The operating point these margins give the verdict: how many impostors it rejects, each
        # with its most confident try; both margins grow together until enough are (leads are
        # divided by the margins, so rejection can only rise with them).
        base_landmarks, base_profile = result["fingerprint_margin"], result.get("profile_margin", 0.0)
        heard_by_network = list(networks) if networks is not None else [None] * len(matched)
        if len(heard_by_network) != len(matched):
            raise ValueError(f"{len(heard_by_network)} network answers for {len(matched)} impostor recordings")

        def rejected(scale: float) -> tuple[float, float, float]:
            landmarks, profile = float(np.ceil(base_landmarks * scale)), round(base_profile * scale, 4)
            claims = [max(verdict.impostor_probability(f, landmarks, profile, heard) for f in found)
                      for found, heard in zip(matched, heard_by_network)]
            return float(np.mean(np.array(claims) < verdict.THRESHOLD)), landmarks, profile

        scale = 1.0
        share, landmarks, profile = rejected(scale)
        result["percentile_impostors_rejected"] = share
        while share < rejection_target and scale * MARGIN_STEP <= MAX_MARGIN_SCALE:
            scale *= MARGIN_STEP
            share, landmarks, profile = rejected(scale)
        result.update({"fingerprint_margin": landmarks, "margin_scale": scale, "verdict_impostors_rejected": share})
        if "profile_margin" in result:
            result["profile_margin"] = profile
    return result
