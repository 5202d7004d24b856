"""The speed search: a recording of an indexed song played 1 % fast or slow is matched with the
search and not without it, foreign music stays unknown, and the margins' calibration (training and
enrolment) counts every impostor with its best try and says which speeds it searched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core import fingerprint as fp
from musicid_core import speed_search
from musicid_core.models.store import SongLabel
from musicid_core.recognizer import Recognizer
from musicid_core.song_index import MARGINS_FILE, QUERY_PARAMETERS, IndexedSongs, Margins
from training.fingerprints import calibrate_margin

SR = synth.SR
SONGS = 4
LABELS = [SongLabel(f"id{i}", f"song{i}", f"s{i}.ogg") for i in range(SONGS)]
LANDMARK_MARGIN = 100.0
"""The landmarks' unit for these tests: a clean 12-s recording of a generated song lines up about
270 landmarks (nearly 3 units, a match), the same recording 1 % off speed about 80 (under one
unit), and undone to its speed again about 250."""


def played_at(audio: np.ndarray, speed: float) -> np.ndarray:
    """``audio`` played ``speed`` times as fast, pitch and tempo together (as a turntable)."""
    from fractions import Fraction

    from scipy import signal

    ratio = Fraction(speed).limit_denominator(1000)
    return signal.resample_poly(np.asarray(audio, np.float64), ratio.denominator, ratio.numerator).astype(np.float32)


@pytest.fixture(scope="module")
def index() -> fp.FingerprintIndex:
    """Landmarks only: the generated songs' held notes keep their tonal profiles through a 1 %
    drift, so the landmarks are the check the drift breaks here (as on real music)."""
    built = fp.FingerprintIndex.build(synth.song(i, seconds=30.0) for i in range(SONGS))
    built.profiles = None
    return built


def recording(song: int, speed: float, seconds: float = 12.0, seed: int = 0) -> np.ndarray:
    audio = synth.song(song, seconds=30.0) if song < SONGS else synth.song(synth.STRANGER, seconds=30.0)
    drifted = played_at(audio[5 * SR : 20 * SR], speed)[: int(seconds * SR)]
    return drifted + 0.05 * np.random.default_rng(seed).standard_normal(drifted.size).astype(np.float32)


def recognizer(index: fp.FingerprintIndex, speeds: tuple[float, ...]) -> Recognizer:
    """A recogniser without a network whose margins were calibrated through ``speeds``."""
    return Recognizer(None, IndexedSongs(LABELS, index, Margins(LANDMARK_MARGIN, 0.0, SONGS, None, speeds), "v"))


def test_undoing_a_speed_brings_the_recording_back_to_its_length_and_pitch() -> None:
    t = np.arange(2 * SR) / SR
    tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    fast = played_at(tone, 1.01)
    back = speed_search.undo_speed(fast, 1.01)
    assert abs(back.size - tone.size) <= 2 and back.dtype == np.float32
    def peak_hz(x: np.ndarray) -> float:  # one second of audio: 1-Hz bins
        return float(np.argmax(np.abs(np.fft.rfft(x[:SR] * np.hanning(SR)))))

    assert peak_hz(fast) == pytest.approx(444.4, abs=1.0)
    assert peak_hz(back) == pytest.approx(440.0, abs=1.0)


@pytest.mark.parametrize("speed", [1.01, 0.99])
def test_a_drifted_recording_is_matched_with_the_search_and_not_without(index: fp.FingerprintIndex, speed: float) -> None:
    audio = recording(2, speed)
    without = recognizer(index, ()).identify(audio)
    assert (without.verdict, without.speed) == ("unknown", 1.0)
    searched = recognizer(index, speed_search.SPEEDS)
    assert searched.search_speeds == speed_search.SPEEDS
    found = searched.identify(audio)
    assert (found.verdict, found.best.song.title, found.speed) == ("match", "song2", speed)
    assert found.confidence is not None and without.confidence is not None and found.confidence > without.confidence


def test_a_recording_at_its_speed_pays_no_search(index: fp.FingerprintIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[float] = []
    original = speed_search.undo_speed
    monkeypatch.setattr(speed_search, "undo_speed", lambda audio, speed: tries.append(speed) or original(audio, speed))
    found = recognizer(index, speed_search.SPEEDS).identify(recording(2, 1.0))
    assert (found.verdict, found.best.song.title, found.speed) == ("match", "song2", 1.0)
    assert tries == []
    stranger = recognizer(index, speed_search.SPEEDS).identify(recording(SONGS, 1.0))
    assert stranger.verdict == "unknown" and tries == list(speed_search.SPEEDS)  # unconfident: searched


@pytest.mark.parametrize("speed", [1.0, 1.01, 0.99])
def test_an_unknown_recording_stays_unknown_through_the_search(index: fp.FingerprintIndex, speed: float) -> None:
    found = recognizer(index, speed_search.SPEEDS).identify(recording(SONGS, speed, seed=3))
    assert found.verdict == "unknown"


def test_margins_calibrated_without_the_search_or_for_another_size_keep_the_nominal_verdict(index: fp.FingerprintIndex) -> None:
    assert speed_search.searchable((), 4, 4) == ()
    assert speed_search.searchable((0.97, 1.03), 4, 4) == ()
    assert speed_search.searchable(list(speed_search.SPEEDS), 4, 4) == speed_search.SPEEDS
    assert recognizer(index, (0.97,)).search_speeds == ()
    # Margins calibrated for another library size are stale for the search (enrolment calibrates
    # again past the same factor), and one song has no runner-up to lead.
    assert speed_search.searchable(speed_search.SPEEDS, 8, 4) == () == speed_search.searchable(speed_search.SPEEDS, 1, 1)
    assert speed_search.searchable(speed_search.SPEEDS, 5, 4) == speed_search.SPEEDS


def test_the_calibration_counts_each_impostor_with_its_best_try(index: fp.FingerprintIndex) -> None:
    # An "impostor" that is an indexed song 1 % slow: at nominal speed it lines up far fewer
    # landmarks than undone, so a calibration through the search must see the larger lead.
    audio = recording(2, 0.99)
    nominal = calibrate_margin(index, [], [], queries=[speed_search.analyse_tries(audio, ())])
    searched = calibrate_margin(index, [], [], queries=[speed_search.analyse_tries(audio, speed_search.SPEEDS)])
    assert searched["impostor_tries"] == 1 + len(speed_search.SPEEDS) and nominal["impostor_tries"] == 1
    assert searched["fingerprint_impostor_max"] > 2 * nominal["fingerprint_impostor_max"]
    assert searched["fingerprint_margin"] > nominal["fingerprint_margin"]
    # Calibrated from real impostors (noise), the search's operating point is still measured.
    impostors = [speed_search.analyse_tries(synth.noise(70 + i, seconds=12.0)) for i in range(2)]
    found = calibrate_margin(index, [], [], queries=impostors)
    assert found["verdict_impostors_rejected"] == 1.0
    assert speed_search.calibrated_speeds(impostors) == speed_search.SPEEDS
    assert speed_search.calibrated_speeds(impostors + [speed_search.analyse_tries(audio, (1.01,))]) == (1.01,)


def test_impostor_queries_are_made_through_the_search() -> None:
    from training.fingerprints import impostor_queries

    queries = impostor_queries([synth.noise(71, seconds=6.0)], [], seed=0)
    assert queries and all(q.speeds == speed_search.SPEEDS and len(q.analyses) == 1 + len(q.speeds) for q in queries)
    with pytest.raises(ValueError):
        speed_search.Tries((0.99,), queries[0].analyses[:1])


def test_enrolment_keeps_the_tries_and_recalibrates_margins_made_before_the_search(tmp_path: Path) -> None:
    from musicid_core.library import Library
    from musicid_core.song_index import SongIndex
    from training.enrolment import _queries_bytes, _read_queries, enrol, recalibrate_if_needed

    queries = [speed_search.analyse_tries(synth.noise(72, seconds=6.0)), speed_search.analyse_tries(synth.noise(73, seconds=5.0), (1.01,))]
    path = tmp_path / "q.npz"
    path.write_bytes(_queries_bytes(queries))
    back = _read_queries(path)
    assert back is not None and [q.speeds for q in back] == [speed_search.SPEEDS, (1.01,)]
    for a, b in zip(queries, back):
        assert all(np.array_equal(x.landmarks.hashes, y.landmarks.hashes) and np.array_equal(x.profiles, y.profiles)
                   for x, y in zip(a.analyses, b.analyses))

    library = Library(tmp_path / "data")
    negatives = synth.write_negatives(tmp_path / "negatives")
    files = [synth.write(tmp_path / "in" / f"song{i}.wav", synth.song(i, 20.0)) for i in range(3)]
    report = enrol(library, files, negatives_dir=negatives)
    index = SongIndex(library)
    assert report.margins is not None and report.margins.speeds == speed_search.SPEEDS
    assert index.margins() == report.margins
    # Margins stored before the search (no "speeds") are calibrated again at the next check.
    stored = json.loads((index.folder / MARGINS_FILE).read_text())
    del stored["speeds"]
    (index.folder / MARGINS_FILE).write_text(json.dumps(stored))
    assert index.margins() is not None and index.margins().speeds == ()  # type: ignore[union-attr]
    again = recalibrate_if_needed(library, index, negatives_dir=negatives)
    assert again is not None and again.speeds == speed_search.SPEEDS
    # Margins calibrated on recordings analysed otherwise (other QUERY_PARAMETERS) are calibrated again.
    assert index.margins().query_parameters == QUERY_PARAMETERS  # type: ignore[union-attr]
    assert recalibrate_if_needed(library, index, negatives_dir=negatives) is None
    stored = json.loads((index.folder / MARGINS_FILE).read_text())
    stored["query_parameters"] = [60, 1, 2, 2, 0]
    (index.folder / MARGINS_FILE).write_text(json.dumps(stored))
    again = recalibrate_if_needed(library, index, negatives_dir=negatives)
    assert again is not None and again.query_parameters == QUERY_PARAMETERS


def test_only_a_confident_try_replaces_the_nominal_answer() -> None:
    # Answers as (verdict, confidence); each speed's try is given by its "match" result.
    tries = {0.99: ("unknown", 0.9), 1.01: ("match", 0.97)}

    def run(nominal: tuple[str, float], speeds: tuple[float, ...], table: dict) -> tuple[str, float]:
        return speed_search.search(
            nominal, np.zeros(SR, np.float32), speeds, confident=lambda a: a[0] == "match", confidence=lambda a: a[1],
            answer_at=lambda speed, found: table[speed], match=lambda audio: None,  # type: ignore[arg-type,return-value]
        )

    assert run(("unknown", 0.5), (0.99, 1.01), tries) == ("match", 0.97)
    # A surer try that is still not a match leaves the nominal answer (and its ranking).
    assert run(("unknown", 0.5), (0.99,), tries) == ("unknown", 0.5)
    assert run(("unknown", 0.5), (0.99, 1.01), {0.99: ("match", 0.99), 1.01: ("match", 0.96)}) == ("match", 0.99)
    assert run(("match", 0.95), (0.99, 1.01), {0.99: ("match", 0.999), 1.01: ("match", 0.999)}) == ("match", 0.95)


class _StoredMatches:
    """A calibration index answering each analysis with a stored match (no audio needed)."""

    profiles = True
    n_songs = SONGS

    def __init__(self) -> None:
        self.found: dict[int, fp.FingerprintMatch] = {}

    def tries(self, *matches: fp.FingerprintMatch) -> speed_search.Tries:
        blank = fp.QueryAnalysis(fp.Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.int32)), np.zeros((0, 0), np.float32))
        analyses = tuple(fp.QueryAnalysis(blank.landmarks, blank.profiles.copy()) for _ in matches)
        self.found.update({id(a): m for a, m in zip(analyses, matches)})
        return speed_search.Tries(speed_search.SPEEDS[: len(matches) - 1], analyses)

    def match_query(self, query: fp.QueryAnalysis) -> fp.FingerprintMatch:
        return self.found[id(query)]


def _match(counts: list[int], similarity: list[float]) -> fp.FingerprintMatch:
    from musicid_core.tonal_profile import ProfileMatch

    return fp.FingerprintMatch(np.array(counts), np.zeros(len(counts), np.int64), 0, ProfileMatch(np.array(similarity)))


def test_the_margins_grow_until_the_verdict_rejects_95_percent_of_the_impostors() -> None:
    from training.fingerprints import REJECTION_TARGET

    index = _StoredMatches()
    chance = _match([3, 4, 3, 5], [0.10, 0.11, 0.10, 0.10])
    # Three impostors whose best try leads in both checks by a little under the percentile margins:
    # the two leads together would make them a match (the verdict's joint evidence).
    sly = _match([2, 12, 1, 2], [0.10, 0.18, 0.10, 0.10])
    queries = [index.tries(chance, chance, chance) for _ in range(17)] + [index.tries(chance, sly, chance) for _ in range(3)]
    percentile = calibrate_margin(index, [], [], queries=queries, rejection_target=0.0)  # type: ignore[arg-type]
    assert percentile["verdict_impostors_rejected"] == pytest.approx(17 / 20) and percentile["margin_scale"] == 1.0
    grown = calibrate_margin(index, [], [], queries=queries)  # type: ignore[arg-type]
    assert grown["verdict_impostors_rejected"] >= REJECTION_TARGET and grown["margin_scale"] > 1.0
    assert grown["percentile_impostors_rejected"] == percentile["verdict_impostors_rejected"]
    assert grown["fingerprint_margin"] > percentile["fingerprint_margin"]
    assert grown["profile_margin"] > percentile["profile_margin"]


def test_a_large_library_is_calibrated_and_matched_at_nominal_speed_only(index: fp.FingerprintIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    big = speed_search.SEARCH_UP_TO + 1
    assert speed_search.speeds_for(speed_search.SEARCH_UP_TO) == speed_search.SPEEDS and speed_search.speeds_for(big) == ()
    # Even margins calibrated through the search for that size give no search there.
    assert speed_search.searchable(speed_search.SPEEDS, big, big) == ()
    tries = [speed_search.analyse_tries(recording(SONGS, 1.0, seed=3))]
    nominal = speed_search.restricted(tries, speed_search.speeds_for(big))
    assert nominal[0].speeds == () and nominal[0].analyses == tries[0].analyses[:1]
    assert speed_search.calibrated_speeds(nominal) == ()
    assert speed_search.restricted(tries, speed_search.SPEEDS)[0] == tries[0]
    # A recogniser over a library past the limit pays no search for a drifted recording.
    monkeypatch.setattr(speed_search, "SEARCH_UP_TO", SONGS - 1)
    assert recognizer(index, speed_search.SPEEDS).search_speeds == ()
    assert recognizer(index, speed_search.SPEEDS).identify(recording(0, 1.01)).speed == 1.0
