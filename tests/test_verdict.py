"""The fitted verdict: more evidence never lowers the probability, ``match`` is said from the
threshold up, the library's calibrated margins scale the evidence (old bundles' margins too), and
a recording that lines up with no song is never named."""

from __future__ import annotations

import numpy as np
import pytest

from musicid_core import fingerprint as fp
from musicid_core import tonal_profile as tp
from musicid_core import verdict
from musicid_core.models.store import SongLabel
from musicid_core.recognizer import decide

LABELS = [SongLabel(f"id{i}", f"song{i}", f"s{i}.ogg") for i in range(4)]
FLAT_NETWORK = np.array([[0.25, 0.25, 0.25, 0.25, 0.0]])


def _found(counts: list[int], similarity: list[float] | None) -> fp.FingerprintMatch:
    profiles = None if similarity is None else tp.ProfileMatch(np.array(similarity))
    return fp.FingerprintMatch(np.array(counts), np.zeros(len(counts), np.int64), 500, profiles)


def test_the_fitted_coefficients_count_every_kind_of_evidence_for_the_song() -> None:
    assert verdict.LANDMARK_WEIGHT > 0 and verdict.PROFILE_WEIGHT > 0 and verdict.NETWORK_WEIGHT >= 0
    assert verdict.PROFILE_SPREAD_WEIGHT >= 0
    assert 0 < verdict.THRESHOLD < 1


@pytest.mark.parametrize("field", ["landmark_lead", "profile_lead", "network_belief", "profile_lead_in_spread"])
def test_probability_never_falls_as_one_kind_of_evidence_grows(field: str) -> None:
    values = np.linspace(-3, 6, 37)
    probabilities = [verdict.probability(verdict.Evidence(**{"landmark_lead": 0.3, "profile_lead": 0.3,
                                                              "network_belief": 0.0, field: v})) for v in values]
    assert np.all(np.diff(probabilities) >= 0)
    assert probabilities[-1] > probabilities[0]  # and it does rise: the evidence is used
    assert all(0.0 <= p <= 1.0 for p in probabilities)


def test_evidence_is_measured_in_the_librarys_margins() -> None:
    found = _found([2, 26, 1, 0], [0.2, 0.5, 0.3, 0.1])
    small, large = verdict.evidence(1, found, 12.0, 0.1), verdict.evidence(1, found, 24.0, 0.2)
    assert small.landmark_lead == pytest.approx(2.0) and small.profile_lead == pytest.approx(2.0)
    assert large.landmark_lead == pytest.approx(1.0) and large.profile_lead == pytest.approx(1.0)
    # A song that another song beats in a check has a negative lead there.
    assert verdict.evidence(2, found, 12.0, 0.1).landmark_lead == pytest.approx(-25 / 12)


def test_decide_uses_the_margins_it_is_given_so_old_bundles_margins_still_scale_the_verdict() -> None:
    found = _found([3, 20, 4, 2], [0.20, 0.33, 0.21, 0.19])
    calibrated_small = decide(FLAT_NETWORK, LABELS, 0.5, landmarks=found, fingerprint_threshold=8, profile_threshold=0.08)
    calibrated_large = decide(FLAT_NETWORK, LABELS, 0.5, landmarks=found, fingerprint_threshold=40, profile_threshold=0.4)
    assert calibrated_small.best.song.title == calibrated_large.best.song.title == "song1"
    assert calibrated_small.confidence > calibrated_large.confidence
    assert calibrated_small.verdict == "match" and calibrated_large.verdict == "unknown"


def test_match_is_said_exactly_from_the_threshold_up() -> None:
    assert verdict.is_match(verdict.THRESHOLD) and not verdict.is_match(np.nextafter(verdict.THRESHOLD, 0))
    for lead in np.linspace(0, 3, 31):
        found = _found([0, int(round(12 * lead)), 0, 0], [0.2, 0.2 + 0.1 * lead, 0.2, 0.2])
        result = decide(FLAT_NETWORK, LABELS, 0.5, landmarks=found, fingerprint_threshold=12, profile_threshold=0.1)
        assert result.confidence is not None
        assert (result.verdict == "match") == (result.confidence >= verdict.THRESHOLD)


def test_a_clear_impostor_is_answered_unknown_even_when_the_network_is_sure() -> None:
    # Chance landmarks and profiles, as foreign music gives them; the network sure of song1 (it
    # cannot reject unknown music by itself).
    sure = np.array([[0.0, 1.0, 0.0, 0.0, 0.0]] * 3)
    for counts, similarity in (([3, 3, 3, 3], [0.300, 0.301, 0.302, 0.300]), ([4, 6, 5, 4], [0.31, 0.33, 0.30, 0.29])):
        result = decide(sure, LABELS, 0.5, landmarks=_found(counts, similarity), fingerprint_threshold=12, profile_threshold=0.1)
        assert result.verdict == "unknown", result.confidence
        assert result.confidence < verdict.THRESHOLD


def test_without_profiles_the_landmarks_alone_can_still_answer() -> None:
    found = _found([1, 60, 2, 0], None)
    result = decide(FLAT_NETWORK, LABELS, 0.5, landmarks=found, fingerprint_threshold=12)
    assert result.best.song.title == "song1" and result.verdict == "match" and result.profile_margin is None


def test_the_calibration_measures_the_operating_point_and_the_margins_keep_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    import synth
    from musicid_core.library import Library
    from musicid_core.song_index import MARGINS_FILE, Margins, SongIndex
    from training.fingerprints import calibrate_margin

    index = fp.FingerprintIndex.build(synth.song(i, seconds=12.0) for i in range(3))
    found = calibrate_margin(index, [synth.noise(70 + i, seconds=12.0) for i in range(2)], [], seed=0)
    assert 0.0 <= found["verdict_impostors_rejected"] <= 1.0

    songs = SongIndex(Library(tmp_path / "data"))
    songs.folder.mkdir(parents=True, exist_ok=True)
    songs.save_margins(Margins(12.0, 0.1, 3, found["verdict_impostors_rejected"]))
    assert songs.margins() == Margins(12.0, 0.1, 3, found["verdict_impostors_rejected"])
    # Margins stored before the operating point was measured still load, without it.
    (songs.folder / MARGINS_FILE).write_text(json.dumps({"fingerprint_margin": 9, "profile_margin": 0.2, "songs": 4}))
    assert songs.margins() == Margins(9.0, 0.2, 4, None)


def _spread_found(spread: float, songs: int = 30) -> fp.FingerprintMatch:
    rng = np.random.default_rng(0)
    similarity = 0.2 + spread * rng.standard_normal(songs)
    similarity[1] = similarity.max() + 0.1
    return _found([0] * songs, list(similarity))


def test_the_same_profile_lead_counts_for_less_when_the_other_songs_are_spread_wider() -> None:
    close, wide = verdict.evidence(1, _spread_found(0.01), 12.0, 0.1), verdict.evidence(1, _spread_found(0.04), 12.0, 0.1)
    assert close.profile_lead == pytest.approx(wide.profile_lead) == pytest.approx(1.0)
    assert close.profile_lead_in_spread > wide.profile_lead_in_spread > 0
    assert verdict.probability(close) > verdict.probability(wide)
    # A song another song beats has a negative spread lead too.
    assert verdict.evidence(0, _spread_found(0.01), 12.0, 0.1).profile_lead_in_spread < 0


def test_a_small_library_has_no_spread_to_measure() -> None:
    few = verdict.evidence(1, _spread_found(0.01, songs=verdict.MIN_SPREAD_SONGS), 12.0, 0.1)
    enough = verdict.evidence(1, _spread_found(0.01, songs=verdict.MIN_SPREAD_SONGS + 1), 12.0, 0.1)
    assert few.profile_lead_in_spread == 0.0 and enough.profile_lead_in_spread > 0


def test_an_impostor_the_network_heard_is_judged_with_what_the_network_said() -> None:
    # Small leads in both checks for song 0. A network sure of song 0 makes the claim stronger than
    # the analysis alone; one sure of song 2 weakens song 0's claim, and song 2 (which neither check
    # ranks first) becomes one of the songs it may claim.
    found = _found([3, 1, 0, 0], [0.30, 0.28, 0.27, 0.25])
    alone = verdict.impostor_probability(found, 10, 0.1)
    sure_of_song0 = np.array([0.94, 0.02, 0.02, 0.02])
    assert verdict.impostor_probability(found, 10, 0.1, sure_of_song0) > alone
    sure_of_song2 = np.array([0.02, 0.02, 0.94, 0.02])
    expected = max(verdict.probability(verdict.evidence(top, found, 10, 0.1, sure_of_song2)) for top in (0, 2))
    assert verdict.impostor_probability(found, 10, 0.1, sure_of_song2) == pytest.approx(expected)


def test_margins_grow_when_the_impostors_network_answers_are_counted() -> None:
    from training.fingerprints import calibrate_margin

    class Stored:  # a calibration index answering each impostor with its stored match
        profiles = True

        def __init__(self, matches: dict) -> None:  # type: ignore[type-arg]
            self.matches = matches

        def match_query(self, query):  # type: ignore[no-untyped-def]
            return self.matches[query]

    from musicid_core.speed_search import Tries

    rng = np.random.default_rng(1)
    matches = {}
    for i in range(40):
        similarity = list(0.3 + 0.02 * rng.standard_normal(4))
        matches[i] = _found(list(rng.integers(0, 6, 4)), similarity)
    queries = [Tries((), (i,)) for i in range(40)]  # type: ignore[arg-type]
    sure = [np.array([0.94, 0.02, 0.02, 0.02]) for _ in range(40)]
    without = calibrate_margin(Stored(matches), [], [], queries=queries)  # type: ignore[arg-type]
    with_network = calibrate_margin(Stored(matches), [], [], queries=queries, networks=sure)  # type: ignore[arg-type]
    assert with_network["margin_scale"] > without["margin_scale"]
    assert with_network["verdict_impostors_rejected"] >= 0.95
    with pytest.raises(ValueError, match="network answers"):
        calibrate_margin(Stored(matches), [], [], queries=queries, networks=sure[:3])  # type: ignore[arg-type]
