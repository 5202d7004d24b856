"""Item 4: model bundles never run code on load, labels are checked, and paths named by
catalogues, bundle pointers and zips stay inside the data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicid_core.errors import ModelError
from musicid_core.models import store
from reliability_helpers import count


def test_bundle_with_code_is_refused_and_the_code_never_runs(tmp_path: Path) -> None:
    from musicid_core.tfquiet import load_tensorflow

    load_tensorflow()
    import keras

    marker = tmp_path / "pwned"
    inputs = keras.Input(shape=store.DEFAULT_FEATURES.input_shape)
    hostile = keras.layers.Lambda(lambda x, m=str(marker): (open(m, "w").close(), x)[1])(inputs)  # noqa: SIM115
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(hostile))
    model = keras.Model(inputs, outputs)
    labels = [store.SongLabel(f"{i:012x}", f"s{i}", f"s{i}.wav") for i in range(2)]
    bundle = store.save_bundle(tmp_path / "models", model, labels, store.BundleMeta("tiny", store.DEFAULT_FEATURES))
    marker.unlink(missing_ok=True)  # building the model ran the lambda once, on purpose
    count("hostile bundles tried")
    with pytest.raises(ModelError, match="cannot be loaded"):
        store.load_bundle(bundle, keras=True)  # checksums are right: only safe mode stands in the way
    assert not marker.exists()
    # Recognition runs the LiteRT copy: a flatbuffer of tensor operations, which cannot hold the
    # lambda's Python code, so loading and running it runs no code either.
    if bundle.joinpath("model.tflite").is_file():
        from musicid_core.recognizer import Recognizer

        loaded = store.load_bundle(bundle)
        assert loaded.lite is not None and loaded.model is None
        Recognizer(loaded)
        assert not marker.exists()


@pytest.mark.parametrize("labels", [
    "{}", "[]", '["just a string"]', '[{"id": "a", "title": 3, "source": "x"}]',
    '[{"id": "a", "title": "t", "source": "x"}, {"id": "a", "title": "u", "source": "y"}]',
    '[{"title": "t", "source": "x"}]', "[" * 50000,
])
def test_label_files_are_checked(labels: str, tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(labels)
    count("hostile label files tried")
    with pytest.raises(ModelError):
        store._read_labels(path)


@pytest.mark.parametrize("pointer", ['{"bundle": "../../home"}', '{"bundle": "/etc"}', '{"bundle": ".incoming-x"}',
                                     '{"bundle": 5}', "[]", "not json"])
def test_bundle_pointer_cannot_leave_the_models_folder(pointer: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / store.CURRENT).write_text(pointer)
    count("hostile bundle pointers tried")
    with pytest.raises(ModelError):
        store.current_bundle_path(models)


def test_checkpoint_names_only_its_own_weights_file(tmp_path: Path) -> None:
    from training.checkpoint import CHECKPOINT_SCHEMA, STATE, CheckpointError, Checkpointer
    from musicid_core.storage import write_checked_json

    folder = tmp_path / "checkpoint"
    (tmp_path / "secret.npz").write_bytes(b"x")
    write_checked_json(folder / STATE, CHECKPOINT_SCHEMA, {"key": {}, "weights_file": "../secret.npz",
                                                           "weights_sha256": ""})
    count("hostile checkpoints tried")
    with pytest.raises(CheckpointError, match="damaged"):
        Checkpointer(folder, {}, resume=True).check()
    assert not folder.exists() and list(tmp_path.glob("checkpoint.damaged-*"))  # set aside, not used
    assert json.loads(next(tmp_path.glob("checkpoint.damaged-*")).joinpath(STATE).read_text())["payload"]
