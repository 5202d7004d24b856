"""Enrolment: songs added to the library are identified at once, before any training."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core.library import Library
from musicid_core.models.current import CurrentRecognizer
from musicid_core.song_index import ANALYSIS_PARAMETERS, MARGINS_FILE, QUERY_PARAMETERS, SongIndex
from training.enrolment import enrol, recalibrate_if_needed, recalibrate_if_outdated, unenrol


@pytest.fixture(scope="module")
def negatives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated negatives: a calibration in a fraction of the bundled music's time (one test
    below calibrates on the bundled negatives, as the app does)."""
    return synth.write_negatives(tmp_path_factory.mktemp("negatives"))


def _files(tmp_path: Path, indices: range, seconds: float = 20.0) -> list[Path]:
    return [synth.write(tmp_path / "in" / f"song{i}.wav", synth.song(i, seconds)) for i in indices]


def _answer(recognizer, song: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    result = recognizer.identify(synth.noisy_excerpt(song, 2.0, 8.0, np.random.default_rng(song)))
    return result.verdict, result.best.song.title


def test_enrolled_songs_are_identified_without_a_model(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    report = enrol(library, _files(tmp_path, range(3)))
    assert len(report.imported.added) == 3 and report.index_failed == []
    assert report.margins is not None and report.margins.songs == 3  # calibrated for this size
    recognizer = CurrentRecognizer(library).current()
    assert recognizer.bundle is None and recognizer.untrained_songs == 3
    assert recognizer.fingerprint_threshold == report.margins.fingerprint_margin
    assert [_answer(recognizer, i) for i in range(3)] == [("match", f"song{i}") for i in range(3)]
    stranger = recognizer.identify(synth.noisy_excerpt(synth.STRANGER, 2.0, 8.0, np.random.default_rng(9)))
    assert stranger.verdict == "unknown"


def test_a_song_added_after_training_is_identified_beside_the_trained_ones(trained_library, tmp_path: Path, negatives: Path) -> None:  # type: ignore[no-untyped-def]
    library, _ = trained_library
    copy = Library(shutil.copytree(library.root, tmp_path / "copy"))
    current = CurrentRecognizer(copy)
    before = current.current()
    assert before.bundle is not None and before.untrained_songs == 0
    new = synth.N_SONGS + 3
    enrol(copy, _files(tmp_path, range(new, new + 1)), negatives_dir=negatives)
    after = current.current()
    assert after.bundle is before.bundle  # the network was not loaded again
    assert len(after.labels) == synth.N_SONGS + 1 and after.untrained_songs == 1
    assert _answer(after, new) == ("match", f"song{new}")
    assert _answer(after, 1) == ("match", "song1")


def test_a_library_analysed_by_an_earlier_version_is_analysed_again_not_matched_stale(trained_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An upgrade that changes the songs' analysis (``fingerprint.ANALYSIS_PARAMETERS``): neither
    the bundle's index nor the stored analyses may be matched against recordings analysed anew."""
    from musicid_core.fingerprint import INDEX_FILE, StaleIndexError
    from musicid_core.models import store
    from musicid_core.storage import file_sha256, write_checked_json

    library, _ = trained_library
    copy = Library(shutil.copytree(library.root, tmp_path / "copy"))
    bundle = store.current_bundle_path(copy.models_dir)
    assert bundle is not None
    with np.load(bundle / INDEX_FILE) as data:  # the bundle's index as an earlier version stored it
        np.savez(bundle / INDEX_FILE, **{k: data[k] for k in data.files if k != "parameters"})
    meta = store.read_meta(bundle)
    meta.fingerprints_sha256 = file_sha256(bundle / INDEX_FILE)
    write_checked_json(bundle / "meta.json", store.META_SCHEMA, meta.to_dict())
    index = SongIndex(copy)
    index.update()
    for song in copy.songs():  # and every song's stored analysis
        path = index.path(song.id)
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["parameters"] = arrays["parameters"] + 1
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    with pytest.raises(StaleIndexError):
        store.FingerprintIndex.load(bundle / INDEX_FILE, synth.N_SONGS)
    assert store.load_current(copy.models_dir).fingerprints is None  # the network still loads
    heard: list[str] = []
    recognizer = CurrentRecognizer(copy).current(progress=lambda fraction, message: heard.append(message))
    assert recognizer.songs is not None and len(recognizer.labels) == synth.N_SONGS
    assert heard[-1] == f"Indexed {synth.N_SONGS} of {synth.N_SONGS} songs"  # what the app's status bar shows
    with np.load(index.path(copy.songs()[0].id)) as data:
        assert np.array_equal(data["parameters"], ANALYSIS_PARAMETERS)  # analysed again
    assert _answer(recognizer, 1) == ("match", "song1")


def test_unenrol_removes_the_song_from_the_library_and_the_index(tmp_path: Path, negatives: Path) -> None:
    library = Library(tmp_path / "data")
    enrol(library, _files(tmp_path, range(2)), negatives_dir=negatives)
    current = CurrentRecognizer(library)
    song = next(s for s in library.songs() if s.title == "song1")
    unenrol(library, song.id)
    assert not SongIndex(library).path(song.id).exists()
    recognizer = current.current()
    assert [label.title for label in recognizer.labels] == ["song0"]
    assert _answer(recognizer, 1)[0] == "unknown"


def test_a_cancelled_import_leaves_the_songs_it_took_indexed_and_resumes(tmp_path: Path, negatives: Path) -> None:
    library = Library(tmp_path / "data")
    files = _files(tmp_path, range(3))
    calls = iter([False, False, True])
    first = enrol(library, files, should_stop=lambda: next(calls, True))
    assert first.imported.cancelled and len(first.imported.added) == 2 and first.margins is None
    assert SongIndex(library).unindexed(library.songs()) == []
    second = enrol(library, files, negatives_dir=negatives)
    assert len(second.imported.added) == 1 and len(second.imported.duplicates) == 2
    assert len(library.songs()) == 3 and SongIndex(library).unindexed(library.songs()) == []


def test_margins_are_calibrated_again_only_when_the_library_size_moves(tmp_path: Path, negatives: Path) -> None:
    library = Library(tmp_path / "data")
    enrol(library, _files(tmp_path, range(4)), negatives_dir=negatives)
    index = SongIndex(library)
    assert index.margins() is not None and index.margins().songs == 4  # type: ignore[union-attr]
    assert enrol(library, _files(tmp_path, range(4, 5)), negatives_dir=negatives).margins is None  # 5/4: within
    assert recalibrate_if_needed(library, index) is None
    grown = enrol(library, _files(tmp_path, range(5, 7)), negatives_dir=negatives)
    assert grown.margins is not None and grown.margins.songs == 7 and index.margins() == grown.margins


def test_margins_made_for_another_verdict_are_calibrated_again_when_a_recogniser_loads(tmp_path: Path, negatives: Path) -> None:
    library = Library(tmp_path / "data")
    enrol(library, _files(tmp_path, range(3)), negatives_dir=negatives)
    index = SongIndex(library)
    assert recalibrate_if_outdated(library, index, negatives_dir=negatives) is None  # current: nothing to do
    # As an upgrade leaves them: calibrated with the same analysis for an older verdict.
    stored = json.loads((index.folder / MARGINS_FILE).read_text())
    stored["query_parameters"] = list(QUERY_PARAMETERS[:-1]) + [QUERY_PARAMETERS[-1] - 1]
    stored["fingerprint_margin"] = 999.0
    (index.folder / MARGINS_FILE).write_text(json.dumps(stored))
    heard: list[str] = []
    recognizer = CurrentRecognizer(library, partial(recalibrate_if_outdated, negatives_dir=negatives)).current(
        progress=lambda fraction, message: heard.append(message))
    assert heard == ["Calibrating the verdict for 3 songs"]  # what the app's status bar shows meanwhile
    margins = index.margins()
    assert margins is not None and margins.query_parameters == QUERY_PARAMETERS and margins.fingerprint_margin < 999
    assert recognizer.fingerprint_threshold == margins.fingerprint_margin
    # Margins never calibrated are left to enrolment (a load does not start a calibration).
    (index.folder / MARGINS_FILE).unlink()
    assert recalibrate_if_outdated(library, index, negatives_dir=negatives) is None and index.margins() is None


def test_a_new_models_answers_for_the_impostors_are_counted_when_it_recognises(trained_library, tmp_path: Path, negatives: Path) -> None:  # type: ignore[no-untyped-def]
    from musicid_core.models.store import META_SCHEMA, current_bundle_path, read_meta_and_labels
    from musicid_core.storage import write_checked_json
    from training.enrolment import cached_impostor_queries, heard_by_current_model, impostor_recipe
    from training.heard_impostors import HeardImpostors

    library, _ = trained_library
    bundle = current_bundle_path(library.models_dir)
    assert bundle is not None
    meta, labels = read_meta_and_labels(bundle)
    # Training heard the impostors of the clips it kept out (its seed differs from enrolment's, so
    # the answers are its own calibration's only: no recipe to reuse them by).
    assert meta.impostor_network["recordings"] and meta.impostor_network["recipe"] == ""

    copy = Library(shutil.copytree(library.root, tmp_path / "copy"))
    index = SongIndex(copy)
    index.update()
    recalibrate_if_needed(copy, index, force=True, negatives_dir=negatives)
    without = index.margins()
    assert without is not None and without.network == ""
    assert recalibrate_if_outdated(copy, index, negatives_dir=negatives) is None  # nothing heard: current

    # A bundle that heard enrolment's own impostors and backs whichever song the checks name for
    # each (a high belief in every song: the hub songs' effect at its strongest).
    impostors = len(cached_impostor_queries(copy, negatives))
    ids = tuple(label.id for label in labels)
    sure = HeardImpostors(impostor_recipe(negatives, copy), tuple(range(impostors)), (ids,) * impostors,
                          ((0.9,) * len(ids),) * impostors, (0.0,) * impostors)
    path = current_bundle_path(copy.models_dir)
    stored = meta.to_dict()
    stored["features"] = meta.features.to_dict()
    stored["impostor_network"] = sure.to_dict()
    write_checked_json(path / "meta.json", META_SCHEMA, stored)  # type: ignore[operator]
    assert heard_by_current_model(copy, negatives).bundle == path.name  # type: ignore[union-attr]
    with_network = recalibrate_if_outdated(copy, index, negatives_dir=negatives)
    assert with_network is not None and with_network.network == path.name  # type: ignore[union-attr]
    # Impostors the network is sure of claim more: the margins rise until they are rejected again.
    assert with_network.fingerprint_margin > without.fingerprint_margin
    assert (with_network.impostors_rejected or 0) >= 0.95
    assert recalibrate_if_outdated(copy, index, negatives_dir=negatives) is None  # calibrated for this model
    # Answers made for other impostor recordings are not used.
    stored["impostor_network"] = dict(sure.to_dict(), recipe="another")
    write_checked_json(path / "meta.json", META_SCHEMA, stored)  # type: ignore[operator]
    assert heard_by_current_model(copy, negatives).heard is None
