"""Speed search: a recording played slightly fast or slow is tried again at the speeds that undo it.

A turntable or a phone that resamples plays a song up to about 1 % fast or slow, pitch and tempo
together. The network barely notices, but the two alignment checks do: a landmark's frequencies
and time steps no longer hash alike, its time offsets drift by 0.1 s over 10 s (the tolerance is
2 frames, 23 ms), and the tonal profiles shift by 17 cents. On the by-source benchmark a ±1 %
drift cost held-out 10-s 0 dB recordings 26 points of ranked first and 40 of right ``match``
(``benchmarks/RESULTS.md``).

So when a recording at its nominal speed gives no confident answer (verdict not ``match``), the
recogniser resamples it to each speed of ``SPEEDS`` (the recording as it would sound had it been
played at the nominal speed, had it been played that much fast or slow), matches the landmarks
and profiles again, keeps the network's probabilities of the nominal audio, and answers with the
try whose verdict is most confident. A confident recording pays nothing; an unconfident one pays
one resampling and one analysis per speed.

Taking the best of several tries raises the chance that foreign music passes, so the margins must
be calibrated on impostor recordings searched the same way (``Tries``,
``training.fingerprints.calibrate_margin``), and margins record the speeds they were calibrated
through (``BundleMeta.margin_speeds``, ``Margins.speeds``): a recogniser searches only with margins
calibrated for exactly ``SPEEDS`` (``searchable``), so a bundle or a library calibrated before
the search keeps its old, nominal-only verdict until it is calibrated again.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np

from musicid_core.fingerprint import FingerprintMatch, QueryAnalysis, analyse_query

SPEEDS: tuple[float, ...] = (0.99, 1.01)
"""Playback speeds tried after the nominal one, nearest first. Chosen on the by-source
benchmark's tuning side only (``benchmarks.speed_grid``): see ``benchmarks/RESULTS.md``."""


def undo_speed(audio: np.ndarray, speed: float) -> np.ndarray:
    """``audio`` brought back to nominal speed, had it been played ``speed`` times as fast
    (a recording of a song played 1 % fast is stretched by 1 %, its pitch lowered by 1 %)."""
    from scipy import signal

    ratio = Fraction(speed).limit_denominator(1000)
    return signal.resample_poly(np.asarray(audio, np.float32), ratio.numerator, ratio.denominator).astype(np.float32)


SEARCH_UP_TO = 250
"""Larger libraries are not searched (and are calibrated at nominal speed only: ``speeds_for``).
Every unconfident recording pays for each try in full, and a large library's matching is the
costliest part of identifying (``benchmarks.scale``, index alone, no drifted recordings, 2 cores
shared): at 1,000 songs the search doubled the median identify, 147 -> 302 ms, and the larger
margins its calibration needs cost held-out 0-dB right ``match`` 72.5 -> 65.0 % (at 100 songs,
73 -> 190 ms and 70.0 -> 65.0 %). Up to ``song_index.PACKED_ABOVE`` songs the in-memory index is
fast enough, and there the by-source benchmark measured what the search buys (RESULTS.md)."""


def speeds_for(songs: int) -> tuple[float, ...]:
    """The search speeds a library of ``songs`` songs is calibrated and searched with."""
    return SPEEDS if songs <= SEARCH_UP_TO else ()


def restricted(queries: Sequence["Tries"], speeds: Sequence[float]) -> list["Tries"]:
    """The same impostor recordings with only the tries at ``speeds`` (and the nominal one): what a
    library searched at ``speeds`` is calibrated on."""
    kept = []
    for tries in queries:
        pairs = [(s, a) for s, a in zip(tries.speeds, tries.analyses[1:]) if s in speeds]
        kept.append(Tries(tuple(s for s, _ in pairs), (tries.analyses[0],) + tuple(a for _, a in pairs)))
    return kept


SIZE_RATIO = 1.25
"""Margins calibrated for a library this many times smaller or larger are stale for the search
(enrolment calibrates again past the same factor: ``training.enrolment.RECALIBRATE_RATIO``)."""


def searchable(calibrated_speeds: Iterable[float], songs: int, calibrated_songs: int) -> tuple[float, ...]:
    """The speeds a recogniser of ``songs`` songs may search with margins calibrated through
    ``calibrated_speeds`` for ``calibrated_songs`` songs: ``SPEEDS`` when those are exactly the
    calibration's and the margins fit the library's size, none otherwise. Margins calibrated on
    nominal-speed impostors alone, or for another number of songs (chance leads grow with it),
    would let the best of several tries pass foreign music the calibration never measured; and a
    library of one song has no runner-up to measure a lead against."""
    if tuple(float(s) for s in calibrated_speeds) != SPEEDS or songs < 2 or not speeds_for(songs):
        return ()
    return SPEEDS if calibrated_songs / SIZE_RATIO <= songs <= calibrated_songs * SIZE_RATIO else ()


@dataclass(frozen=True)
class Tries:
    """One recording analysed at its nominal speed and at each search speed (what the calibration
    matches: an impostor is accepted when any try of it would be)."""

    speeds: tuple[float, ...]
    """The search speeds, without the nominal 1.0 (``analyses[0]``)."""
    analyses: tuple[QueryAnalysis, ...]
    """The nominal analysis first, then one per speed of ``speeds``."""

    def __post_init__(self) -> None:
        if len(self.analyses) != len(self.speeds) + 1:
            raise ValueError(f"{len(self.analyses)} analyses for {len(self.speeds)} speeds and the nominal one")


def analyse_tries(audio: np.ndarray, speeds: Sequence[float] = SPEEDS) -> Tries:
    """``analyse_query`` of the recording at nominal speed and undone to each of ``speeds``."""
    audio = np.asarray(audio, np.float32)
    return Tries(tuple(speeds), (analyse_query(audio),) + tuple(analyse_query(undo_speed(audio, s)) for s in speeds))


def calibrated_speeds(queries: Sequence[Tries]) -> tuple[float, ...]:
    """The search speeds every impostor recording was tried at: what margins calibrated on
    ``queries`` may be searched with (stored with them)."""
    if not queries:
        return ()
    common = set(queries[0].speeds)
    for tries in queries[1:]:
        common &= set(tries.speeds)
    return tuple(s for s in queries[0].speeds if s in common)


Answer = TypeVar("Answer")


def search(
    nominal: Answer, audio: np.ndarray, speeds: Sequence[float], confident: Callable[[Answer], bool],
    confidence: Callable[[Answer], float], answer_at: Callable[[float, FingerprintMatch], Answer],
    match: Callable[[np.ndarray], FingerprintMatch],
) -> Answer:
    """``nominal`` when it is ``confident`` or there is nothing to search; otherwise the most
    confident of the tries ``answer_at(speed, match(undo_speed(audio, speed)))`` that is
    ``confident`` itself, and ``nominal`` when none is. A try that is not confident either does not
    replace the nominal answer: its ranking is no surer, and on the tuning side taking it cost
    recordings at their own speed their right first place (``benchmarks.speed_grid``)."""
    if not speeds or confident(nominal):
        return nominal
    best: Answer | None = None
    for speed in speeds:
        answer = answer_at(speed, match(undo_speed(audio, speed)))
        if confident(answer) and (best is None or confidence(answer) > confidence(best)):
            best = answer
    return nominal if best is None else best
