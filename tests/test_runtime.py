"""The network under LiteRT: written into every trained bundle, checksummed, answering as Keras does,
and a recognising process that never imports TensorFlow; older bundles still load with Keras."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import synth

from musicid_core.errors import ModelError
from musicid_core.features import recording_windows
from musicid_core.models import store
from musicid_core.models.runtime import LITE_FILE
from musicid_core.recognizer import Recognizer
from musicid_core.storage import file_sha256, read_checked_json, write_checked_json


def _windows() -> np.ndarray:
    rng = np.random.default_rng(5)
    clips = [synth.noisy_excerpt(i, 1.0 + i, 8.0, rng, snr_db=0.0) for i in range(synth.N_SONGS)]
    clips += [synth.noise(60, seconds=6.0), synth.tone(700.0, seconds=6.0)]
    return np.concatenate([recording_windows(c) for c in clips])[..., np.newaxis]


def test_training_writes_a_checksummed_lite_model_that_recognition_uses(trained_library) -> None:  # type: ignore[no-untyped-def]
    _, result = trained_library
    meta = store.read_meta(result.bundle)
    assert meta.lite_sha256 == file_sha256(result.bundle / LITE_FILE)
    bundle = store.load_bundle(result.bundle)
    assert bundle.lite is not None and bundle.model is None


def test_lite_probabilities_and_rankings_equal_keras(trained_library) -> None:  # type: ignore[no-untyped-def]
    _, result = trained_library
    lite = Recognizer(store.load_bundle(result.bundle))
    keras = Recognizer(store.load_bundle(result.bundle, keras=True))
    windows = _windows()
    p_lite, p_keras = lite._predict(windows), keras._predict(windows)
    assert p_lite.shape == p_keras.shape == (len(windows), synth.N_SONGS + 1)
    assert float(np.abs(p_lite - p_keras).max()) < 1e-4
    np.testing.assert_array_equal(np.argsort(-p_lite, axis=1, kind="stable"), np.argsort(-p_keras, axis=1, kind="stable"))
    for n in (1, 3, len(windows)):  # the interpreter resizes when the window count changes
        np.testing.assert_allclose(lite._predict(windows[:n]), p_keras[:n], atol=1e-4)
    excerpt = synth.noisy_excerpt(2, 2.0, 8.0, np.random.default_rng(1), snr_db=0.0)
    a, b = lite.identify(excerpt), keras.identify(excerpt)
    assert [m.song.id for m in a.matches] == [m.song.id for m in b.matches] and a.verdict == b.verdict


def _without_lite(source: Path, target: Path) -> Path:
    """A copy of a bundle as an earlier version wrote it: no model.tflite, no checksum for it."""
    shutil.copytree(source, target)
    (target / LITE_FILE).unlink()
    payload = read_checked_json(target / "meta.json", store.META_SCHEMA)
    payload.pop("lite_sha256")
    write_checked_json(target / "meta.json", store.META_SCHEMA, payload)
    return target


def test_an_older_bundle_without_it_is_recognised_with_keras(trained_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, result = trained_library
    bundle = store.load_bundle(_without_lite(result.bundle, tmp_path / "old"))
    assert bundle.lite is None and bundle.model is not None
    answer = Recognizer(bundle).identify(synth.noisy_excerpt(1, 3.0, 8.0, np.random.default_rng(2)))
    assert answer.best.song.title == "song1"


def test_a_damaged_lite_model_fails_its_checksum(trained_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, result = trained_library
    copy = tmp_path / "damaged"
    shutil.copytree(result.bundle, copy)
    data = bytearray((copy / LITE_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / LITE_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="model.tflite fails its checksum"):
        store.load_bundle(copy)


def test_identify_from_the_command_line_never_imports_tensorflow(trained_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    library, _ = trained_library
    clip = synth.write(tmp_path / "clip.wav", synth.noisy_excerpt(3, 2.0, 6.0, np.random.default_rng(4)))
    code = (
        "import sys, json; from musicid_cli.main import main;"
        f"rc = main(['--data-dir', {str(library.root)!r}, 'identify', {str(clip)!r}, '--json']);"
        "print(json.dumps({'rc': rc, 'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    answer, modules = (json.loads(line) for line in run.stdout.splitlines()[-2:])
    assert answer["matches"][0]["title"] == "song3"
    assert modules == {"rc": 0, "tf": False, "keras": False}, run.stderr[-2000:]
