"""The verdict: how likely the top-ranked song is the one playing, and whether to say ``match``.

Why one probability instead of two margins: the verdict used to say ``match`` when the top song
led the runner-up by the library's calibrated ``fingerprint_margin`` in aligned landmarks *or* by
its ``profile_margin`` in tonal-profile similarity, each set above the 99th percentile of foreign
recordings' margins. Each test alone had to reject nearly all foreign music, so together they
were far more cautious than needed: on music never tuned on (``benchmarks/RESULTS.md``, "Verdict")
they rejected every unknown recording but turned a quarter of the right answers at 10-s 0 dB,
and half at -5 dB, into "unknown". A recording with a fair lead in *both* checks is much stronger evidence than either
lead alone, which two separate thresholds cannot express.

Evidence (``Evidence``): the top song's lead over the best other song in aligned landmarks and in
profile similarity, each divided by the library's own calibrated margin (``index/margins.json``,
or a bundle's ``fingerprint_margin`` / ``profile_margin``). Chance leads grow with the number of
songs and the calibration measures that, so the ratios mean the same in a library of 10 songs
and of 10,000, and the coefficients fitted on one library transfer; a lead is negative when
another song ranks above the top one in that check. The network's belief enters as the top
song's averaged probability against an even share (``songs * p``, in nats), the score
normalised against the other songs: 0 when it knows nothing (no model, or a song added since
training), positive when it heard that song. ``probability`` is a logistic model
P(top song is right | evidence); ``THRESHOLD`` on it is where the verdict says ``match``.

The profile lead is also measured against the other songs' scores for *this* recording (issue 15,
point 3: score normalisation), in units of the spread of the best ``SPREAD_SONGS`` other songs'
similarities: a noisy or short recording spreads every song's similarity wider, so one lead means
less there than in a clean recording that leaves the other songs close together. Only the best
others count because a large library's shortlist scores only its best songs
(``musicid_core.shortlisted_index``). On the tuning side, fitted on four fifths of its songs and
read on the fifth (five folds by song), this input raised right ``match`` over all conditions from
83.3 to 86.1 % at the same rejection of unknown music (``benchmarks/RESULTS.md``, "Tenth
session"). The same in landmarks (the lead over the square root of the runner-up's count) took a
negative weight beside the landmark lead, which a verdict must not have, and is not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from musicid_core.fingerprint import FingerprintMatch

VERSION = 2
"""Changes whenever the model's inputs or coefficients do: margins were scaled for one verdict
(``training.fingerprints.calibrate_margin``) and are calibrated again for another
(``musicid_core.song_index.QUERY_PARAMETERS``)."""

# Fitted by ``python -m benchmarks.verdict_fit fit`` (maximum likelihood, logistic) on the TUNING
# side of ``benchmarks.by_source`` only: 830 recordings (57 enrolled songs of Wesnoth, Drascula and
# Planet Blupi, 570 recordings, 540 with the right song ranked first; 260 recordings of 13
# HyperRogue songs that are in no library), every condition of that benchmark (10/5/3 s,
# +10..-5 dB, plain and +-1 % speed), with that side's model of 2026-12-03 and its bundle's margins
# (14 landmarks, 0.1798), recordings analysed without their steady part. The held-out side was
# not used; its figures are in benchmarks/RESULTS.md, "Tenth session".
INTERCEPT = -2.1366
LANDMARK_WEIGHT = 4.3637
"""Log-odds per calibrated landmark margin of lead."""
PROFILE_WEIGHT = 9.3261
"""Log-odds per calibrated profile margin of lead."""
NETWORK_WEIGHT = 0.6491
"""Log-odds per nat of the network's belief above an even share."""
PROFILE_SPREAD_WEIGHT = 0.4010
"""Log-odds per unit of profile lead in the other songs' spread."""
THRESHOLD = 0.9218
"""The lowest probability at which each tuning condition's unknown recordings (26 each) and the
calibration's 162 impostor recordings matched against the tuning library were >= 95 % rejected
(at least 96.2 % and 95.1 %). Set on those, not on the held-out side."""
LEAD_CAP = 4.0
"""Leads are counted up to this many calibrated margins: beyond it a check is certain already, and
an unbounded lead of one check must not buy a contradicting other check's vote. The tuning fit
gave the same coefficients (to 0.01) for caps of 2 to 10 margins."""
SPREAD_SONGS = 20
"""Other songs whose profile similarities measure a recording's chance spread. Grouped
cross-validation on the tuning side gave right ``match`` 85.1 % with the best 14, 86.1-86.7 % with
20 to all 56; a large library's shortlist matches 120 songs' profiles (``shortlist.FIRST_STAGE``),
the best 15 of them in full."""
MIN_SPREAD_SONGS = SPREAD_SONGS
"""With fewer other songs the spread lead counts 0: the spread of a few songs is a poor estimate
(three close songs would make any lead look certain), and the fit saw it measured on 20."""
PROFILE_SPREAD_FLOOR = 0.002
"""The smallest spread of similarities divided by: the benchmark's recordings spread 0.003-0.06."""
SPREAD_CAP = 10.0
"""Leads in units of the spread are counted up to this (as ``LEAD_CAP``, in the same spirit)."""
NETWORK_CAP = math.log(57)
"""The network's belief is counted between -ln 57 and ln 57 nats, the range the fit saw (57 songs:
certainty about one song is ln 57 above an even share); in a larger library a surer network must
not count for more than was measured."""


@dataclass(frozen=True)
class Evidence:
    """The top song's leads, in units of the library's calibrated margins (module docstring)."""

    landmark_lead: float
    profile_lead: Optional[float]
    """None without tonal profiles (indexes made before they existed); counted as no lead."""
    network_belief: float = 0.0
    """ln(songs x the network's averaged probability of the top song); 0 without a network."""
    profile_lead_in_spread: float = 0.0
    """The profile lead over the spread of the best ``SPREAD_SONGS`` other songs' similarities."""


def evidence(
    top: int, found: FingerprintMatch, fingerprint_margin: float, profile_margin: float,
    network: Optional[np.ndarray] = None,
) -> Evidence:
    """The leads of song ``top`` in ``found``, relative to the library's margins; ``network``: the
    network's averaged probabilities of the songs (None or even when there is no network)."""
    landmark = _lead(found.counts.astype(np.float64), top) / max(fingerprint_margin, 1e-9)
    profile_spread = 0.0
    profile = None
    if found.profiles is not None and profile_margin > 0:
        similarity = np.asarray(found.profiles.similarity, dtype=np.float64)
        profile = _lead(similarity, top) / profile_margin
        profile_spread = _lead_in_spread(similarity, top)
    belief = 0.0
    if network is not None and network.size:
        belief = math.log(max(float(network[top]) * network.size, 1e-300))
    return Evidence(landmark, profile, belief, profile_spread)


def probability(e: Evidence) -> float:
    """P(the top song is the one playing | its leads): the fitted logistic model."""
    landmark = min(e.landmark_lead, LEAD_CAP)
    profile = 0.0 if e.profile_lead is None else min(e.profile_lead, LEAD_CAP)
    belief = min(max(e.network_belief, -NETWORK_CAP), NETWORK_CAP)
    profile_spread = min(max(e.profile_lead_in_spread, -SPREAD_CAP), SPREAD_CAP)
    z = (INTERCEPT + LANDMARK_WEIGHT * landmark + PROFILE_WEIGHT * profile + NETWORK_WEIGHT * belief
         + PROFILE_SPREAD_WEIGHT * profile_spread)
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def is_match(p: float, threshold: float = THRESHOLD) -> bool:
    return p >= threshold


def _lead(values: np.ndarray, top: int) -> float:
    if values.size < 2:
        return float(values[top]) if values.size else 0.0
    return float(values[top] - np.max(np.delete(values, top)))


def _lead_in_spread(similarity: np.ndarray, top: int) -> float:
    others = np.delete(similarity, top)
    if others.size < MIN_SPREAD_SONGS:
        return 0.0
    best = -np.partition(-others, min(SPREAD_SONGS, others.size) - 1)[: SPREAD_SONGS]
    return float(similarity[top] - best.max()) / max(float(np.std(best)), PROFILE_SPREAD_FLOOR)


def impostor_probability(
    found: FingerprintMatch, fingerprint_margin: float, profile_margin: float, network: Optional[np.ndarray] = None,
) -> float:
    """The strongest claim an impostor recording can make: the probability of the landmarks' top
    song, of the profiles' top song or of the network's, whichever is highest. ``network``: the
    network's averaged song probabilities for that recording, when it heard it (None: the
    recording is kept as an analysis only and is judged without the network, as before).
    ``training.fingerprints.calibrate_margin`` measures the operating point's rejection with this."""
    tops = {found.best} | ({found.profiles.best} if found.profiles is not None else set())
    if network is not None and network.size:
        tops.add(int(np.argmax(network)))
    return max(probability(evidence(top, found, fingerprint_margin, profile_margin, network)) for top in tops)
