"""Fixtures for the phone server: the tiny trained library served read-only (checked unchanged
afterwards) or as a private copy; the count of hostile inputs tried, printed at the end."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from tests_server_helpers import HOSTILE, library_snapshot, make_context

from musicid_core.library import Library
from musicid_server.app import create_app
from musicid_server.context import ServerContext
from musicid_core.models.current import CurrentRecognizer


@pytest.fixture(scope="session")
def shared_model(trained_library):  # type: ignore[no-untyped-def]
    """One loaded recognizer for the session's tests, as the app shares its ModelService."""
    library, _ = trained_library
    return CurrentRecognizer(library)


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
    context = make_context(copy, tmp_path, CurrentRecognizer(copy))
    with TestClient(create_app(context), base_url="https://testserver") as client:
        yield client, context, {"Authorization": f"Bearer {context.pairing.token}"}
    context.training.wait(120)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if HOSTILE:
        terminalreporter.section("phone server: hostile input tried")
        for kind, n in sorted(HOSTILE.items()):
            terminalreporter.write_line(f"{n:5d}  {kind}")
        terminalreporter.write_line(f"{sum(HOSTILE.values()):5d}  in all")
