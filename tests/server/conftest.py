"""Fixtures for the phone server: a served copy of the tiny trained library, and helpers to
prove that a request left the library and the model exactly as they were."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import synth
from tests_server_helpers import wav_bytes  # noqa: F401 - re-exported for the tests here

from musicid_core.library import Library
from musicid_server.app import create_app
from musicid_server.config import ServerConfig
from musicid_server.context import ServerContext
from musicid_server.pairing import Pairing
from musicid_server.recognition import CurrentModel
from musicid_server.training_jobs import BackgroundTraining

MODEL_CACHE: dict[str, CurrentModel] = {}


def library_snapshot(library: Library) -> dict[str, str]:
    """Every file of the catalogue, the songs and the models, by content hash."""
    found = {}
    for folder in ("songs", "models"):
        for path in sorted((library.root / folder).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(library.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    found["catalogue.json"] = hashlib.sha256(library.catalogue_path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="session")
def shared_model(trained_library):  # type: ignore[no-untyped-def]
    """One loaded recognizer for the session's tests, as the app shares its ModelService."""
    library, _ = trained_library
    return CurrentModel(library)


def make_context(library: Library, folder: Path, recognizer: Any, **config: Any) -> ServerContext:
    training = BackgroundTraining(library, base_options=synth.tiny_training(synth.write_negatives(folder / "neg")))
    return ServerContext(library=library, pairing=Pairing(folder / "server"), recognizer=recognizer,
                         training=training, config=ServerConfig(**config), fingerprint="AB:CD")


@pytest.fixture
def served(trained_library, shared_model, tmp_path: Path) -> Iterator[tuple[Any, ServerContext, dict[str, str]]]:
    """(TestClient over https, context, auth headers) on the session's trained library, read-only;
    afterwards the library and the model must be byte-for-byte unchanged."""
    from fastapi.testclient import TestClient

    library, _ = trained_library
    before = library_snapshot(library)
    context = make_context(library, tmp_path, shared_model)
    with TestClient(create_app(context), base_url="https://testserver") as client:
        yield client, context, {"Authorization": f"Bearer {context.pairing.token}"}
    assert library_snapshot(library) == before, "a request changed the library or the model"


@pytest.fixture
def served_copy(trained_library, tmp_path: Path) -> Iterator[tuple[Any, ServerContext, dict[str, str]]]:
    """The same on a private copy of the trained library, for requests that change it."""
    from fastapi.testclient import TestClient

    library, _ = trained_library
    shutil.copytree(library.root, tmp_path / "copy", ignore=shutil.ignore_patterns(".lock"))
    copy = Library(tmp_path / "copy")
    context = make_context(copy, tmp_path, CurrentModel(copy))
    with TestClient(create_app(context), base_url="https://testserver") as client:
        yield client, context, {"Authorization": f"Bearer {context.pairing.token}"}
    context.training.wait(120)  # type: ignore[attr-defined]


def library_recording(index: int = 2, seconds: float = 8.0, seed: int = 9) -> np.ndarray:
    return synth.noisy_excerpt(index, start_s=2.0, seconds=seconds, rng=np.random.default_rng(seed), snr_db=0.0)


def foreign_recording(seconds: float = 8.0) -> np.ndarray:
    return synth.song(41, seconds=seconds)


HOSTILE: dict[str, int] = {}


def count_hostile(kind: str, n: int = 1) -> None:
    HOSTILE[kind] = HOSTILE.get(kind, 0) + n


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if HOSTILE:
        terminalreporter.section("phone server: hostile input tried")
        for kind, n in sorted(HOSTILE.items()):
            terminalreporter.write_line(f"{n:5d}  {kind}")
        terminalreporter.write_line(f"{sum(HOSTILE.values()):5d}  in all")
