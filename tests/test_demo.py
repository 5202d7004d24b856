"""The shipped demo: its model loads safely and recognises the shipped noisy recordings, and
``install_demo`` sets up a fresh data folder without ever touching a person's own songs or model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from musicid_core.demo import demo_model_dir, demo_recordings, demo_song_files, demo_song_ids, install_demo
from musicid_core.library import Library
from musicid_core.models import store
from musicid_core.resources import demo_dir
from musicid_core.storage import write_checked_json

MANIFEST = json.loads((demo_dir() / "demo.json").read_text(encoding="utf-8"))


def test_shipped_demo_is_small_and_consistent() -> None:
    size = sum(f.stat().st_size for f in demo_dir().rglob("*") if f.is_file())
    assert size < 6_000_000, f"resources/demo grew to {size / 1e6:.1f} MB"
    labels = json.loads((demo_model_dir() / "labels.json").read_text(encoding="utf-8"))
    assert {item["id"] for item in labels} == demo_song_ids() == {s["id"] for s in MANIFEST["songs"]}
    assert len(demo_song_files()) >= 6 and len(demo_recordings()) >= 2
    assert (demo_dir() / "LICENSE.md").is_file()


@pytest.fixture(scope="module")
def shipped_recognizer():
    from musicid_core.models.store import load_bundle  # runs the shipped model.tflite under LiteRT
    from musicid_core.recognizer import Recognizer

    return Recognizer(load_bundle(demo_model_dir()))


@pytest.mark.parametrize("entry", MANIFEST["recordings"], ids=lambda e: Path(e["file"]).stem)
def test_shipped_model_identifies_shipped_noisy_recording(shipped_recognizer, entry: dict) -> None:
    from musicid_core.audio.decode import load_audio

    result = shipped_recognizer.identify(load_audio(demo_dir() / entry["file"]), top_k=3)
    assert result.best.song.id == entry["song_id"], [(m.song.title, round(m.score, 3)) for m in result.matches]


def test_model_is_loaded_in_safe_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    calls: list[dict] = []
    original = keras.models.load_model

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(keras.models, "load_model", spy)
    store.load_bundle(demo_model_dir(), keras=True)  # recognition itself runs model.tflite, which holds no code
    assert calls and calls[0].get("safe_mode") is True


def test_install_demo_into_fresh_data_dir(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    result = install_demo(library)
    assert result.installed, result.message
    assert {s.id for s in library.songs()} == demo_song_ids()
    current = store.current_bundle_path(library.models_dir)
    assert current == result.bundle and current.is_dir()
    bundle = store.load_bundle(current)
    assert [label.id for label in bundle.labels] == [
        item["id"] for item in json.loads((demo_model_dir() / "labels.json").read_text(encoding="utf-8"))
    ]
    assert bundle.meta.library_fingerprint == library.fingerprint()  # not reported as stale

    again = install_demo(library)  # idempotent: nothing added, the same model kept
    assert again.installed and again.songs_added == [] and again.model_was_current
    assert store.current_bundle_path(library.models_dir) == current


def test_install_demo_refuses_a_library_with_own_songs(tmp_path: Path) -> None:
    import synth

    library = Library(tmp_path / "data")
    library.add_songs([synth.write(tmp_path / "mine.wav", synth.song(0))])
    before = (library.catalogue_path.read_bytes(), sorted(p.name for p in library.root.rglob("*")))
    result = install_demo(library)
    assert result.refused and "own" in result.message
    assert (library.catalogue_path.read_bytes(), sorted(p.name for p in library.root.rglob("*"))) == before


def test_install_demo_never_replaces_a_trained_model(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    # A model the person trained (any bundle that is not the shipped one), with no songs left.
    fake = library.models_dir / "bundle-20240101-000000-000000"
    shutil.copytree(demo_model_dir(), fake)
    meta = store.read_meta(fake)
    meta.model_sha256 = "0" * 64
    write_checked_json(fake / "meta.json", store.META_SCHEMA, meta.to_dict())
    (library.models_dir / store.CURRENT).write_text(json.dumps({"bundle": fake.name}), encoding="utf-8")
    result = install_demo(library)
    assert result.refused and "trained" in result.message
    assert library.songs() == []
    assert json.loads((library.models_dir / store.CURRENT).read_text())["bundle"] == fake.name


def test_cli_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musicid_cli.main import main

    assert main(["--data-dir", str(tmp_path / "d"), "demo"]) == 0
    assert "Demo ready" in capsys.readouterr().out
    library = Library(tmp_path / "own")
    import synth

    library.add_songs([synth.write(tmp_path / "mine.wav", synth.song(1))])
    assert main(["--data-dir", str(tmp_path / "own"), "demo"]) == 1
    assert "not installed" in capsys.readouterr().err
