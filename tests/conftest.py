"""Shared fixtures: a private data folder per test, tiny generated audio, one tiny trained model.

Qt runs offscreen; TensorFlow is kept quiet and single-threaded-ish so tests stay fast and stable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

import synth  # noqa: E402


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may touch the real user data folder."""
    folder = tmp_path / "musicid-data"
    monkeypatch.setenv("MUSICID_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def trained_library(tmp_path_factory: pytest.TempPathFactory):
    """A library of 4 generated songs plus generated noise, with a tiny model trained on it.

    Trained once per test session (~20 s on 2 cores); tests must not modify it.
    """
    from musicid_core.library import Library
    from training.train import train

    root = tmp_path_factory.mktemp("trained")
    songs = [synth.write(root / "songs" / f"song{i}.wav", synth.song(i)) for i in range(synth.N_SONGS)]
    noises = [synth.write(root / "noise" / f"noise{i}.wav", synth.noise(i)) for i in range(4)]
    library = Library(root / "data")
    library.add_songs(songs)
    library.add_noise(noises, pack="generated")
    result = train(library, synth.tiny_training(synth.write_negatives(root / "negatives")))
    return library, result
