"""Widening: a retrain after songs come and go starts from the previous model's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import synth

from musicid_core.config import DEFAULT_FEATURES
from musicid_core.errors import ModelError
from musicid_core.library import Library
from musicid_core.models.architectures import build_model
from musicid_core.models.store import SongLabel, load_bundle
from training.widen import PreviousModel, column_map, starting_point, widen


def test_columns_follow_song_ids_not_positions() -> None:
    assert column_map(["a", "b", "c"], ["c", "a", "new"], previous_unknown=True) == [2, 0, None, 3]
    assert column_map(["a", "b"], ["b"], previous_unknown=False) == [1, None]


def _previous(ids: list[str], unknown: bool = True) -> PreviousModel:
    import keras

    keras.utils.set_random_seed(3)
    model = build_model("tiny", len(ids) + int(unknown))
    labels = [SongLabel(i, i, f"{i}.wav") for i in ids]
    return PreviousModel(Path("bundle-x"), model, labels, unknown)


def test_widen_copies_every_layer_and_recuts_the_output() -> None:
    previous = _previous(["a", "b", "c"])
    model = build_model("tiny", 4 + 1)
    kept = widen(previous, model, ["c", "d", "a", "e"])
    assert kept == 2
    for old, new in zip(previous.model.layers[:-1], model.layers[:-1]):
        for w_old, w_new in zip(old.get_weights(), new.get_weights()):
            np.testing.assert_array_equal(w_old, w_new)
    old_kernel, old_bias = previous.model.layers[-1].get_weights()
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_array_equal(kernel[:, 0], old_kernel[:, 2])  # c
    np.testing.assert_array_equal(kernel[:, 2], old_kernel[:, 0])  # a
    np.testing.assert_array_equal(kernel[:, 4], old_kernel[:, 3])  # not in your library
    assert bias[1] == bias[3] == pytest.approx(np.mean([old_bias[2], old_bias[0]]))  # d, e: fresh columns
    assert not np.allclose(kernel[:, 1], kernel[:, 3])


def test_widen_refuses_a_model_sharing_no_song_or_another_architecture() -> None:
    with pytest.raises(ModelError, match="shares no song"):
        widen(_previous(["a", "b"]), build_model("tiny", 3), ["x", "y"])
    with pytest.raises(ModelError, match="layer"):
        widen(_previous(["a", "b"]), build_model("fc", 3), ["a", "b"])


def test_a_changed_library_retrains_from_the_previous_bundle(tmp_path: Path) -> None:
    """Train on 3 songs, add one and remove one: the retrain starts from the first bundle with the
    kept songs' columns, and gets the smaller warm-start budget; an unchanged library does not."""
    from training.train import train

    library = Library(tmp_path / "data")
    files = [synth.write(tmp_path / f"song{i}.wav", synth.song(i, seconds=8.0)) for i in range(4)]
    library.add_songs(files[:3])
    library.add_noise([synth.write(tmp_path / "noise.wav", synth.noise(0))], pack="generated")
    options = synth.tiny_training(synth.write_negatives(tmp_path / "negatives"))
    options.epochs, options.examples_per_song = None, 16
    first = train(library, options)
    assert first.widened_from is None and first.options.epochs == 6  # a small library's budget
    assert starting_point(library.models_dir, "tiny", DEFAULT_FEATURES, library.fingerprint()) is None  # unchanged
    library.add_songs(files[3:])
    library.remove_song(library.songs()[0].id)
    second = train(library, options)
    assert second.widened_from == first.bundle.name and second.kept_songs == 2
    assert second.options.epochs == 3
    bundle = load_bundle(second.bundle)
    assert [label.title for label in bundle.labels] == [s.title for s in library.songs()]
