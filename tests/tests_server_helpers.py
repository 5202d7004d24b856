"""Helpers shared by the phone-server tests (tests/server, tests/gui/test_phone_tab.py).

A module of its own, not ``conftest``: tests/gui and tests/server each have a conftest, and
``from conftest import`` would find whichever was imported first."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import synth

from musicid_core.library import Library
from musicid_server.config import ServerConfig
from musicid_server.context import ServerContext
from musicid_server.pairing import Pairing
from musicid_server.training_jobs import BackgroundTraining


def wav_bytes(audio: np.ndarray, sr: int = synth.SR, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def library_snapshot(library: Library) -> dict[str, str]:
    """Every file of the catalogue, the songs and the models, by content hash."""
    found = {}
    for folder in ("songs", "models"):
        for path in sorted((library.root / folder).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(library.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    found["catalogue.json"] = hashlib.sha256(library.catalogue_path.read_bytes()).hexdigest()
    return found


def make_context(library: Library, folder: Path, recognizer: Any, **config: Any) -> ServerContext:
    training = BackgroundTraining(library, base_options=synth.tiny_training(synth.write_negatives(folder / "neg")))
    return ServerContext(library=library, pairing=Pairing(folder / "server"), recognizer=recognizer,
                         training=training, config=ServerConfig(**config), fingerprint="AB:CD")


def library_recording(index: int = 2, seconds: float = 8.0, seed: int = 9) -> np.ndarray:
    return synth.noisy_excerpt(index, start_s=2.0, seconds=seconds, rng=np.random.default_rng(seed), snr_db=0.0)


def foreign_recording(seconds: float = 8.0) -> np.ndarray:
    return synth.song(41, seconds=seconds)


HOSTILE: dict[str, int] = {}


def count_hostile(kind: str, n: int = 1) -> None:
    HOSTILE[kind] = HOSTILE.get(kind, 0) + n
