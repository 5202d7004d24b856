"""The demo: a newcomer's first working recogniser, with no music or model of their own.

``install_demo`` enrols the shipped excerpts (``resources/demo/songs``) and makes the shipped
model (``resources/demo/model``, trained on exactly those files by
``resources/demo/build_demo.py``) the current model. It does this only in a library that is
empty or holds nothing but the demo songs, and never replaces a model the person trained: the
demo must not mix strangers' songs into someone's own library or throw their model away.

Qt-free; the CLI (``musicid demo``) and the GUI's first-run choice both call it.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from musicid_core import diskspace
from musicid_core.errors import ModelError, MusicIdError
from musicid_core.fingerprint import INDEX_FILE
from musicid_core.library import Library, Song
from musicid_core.models import store
from musicid_core.progress import ProgressFn, ShouldStopFn, or_default
from musicid_core.resources import demo_dir
from musicid_core.storage import atomic_write_bytes, file_sha256

DEMO_BUNDLE_SUFFIX = "-demo"


class DemoError(MusicIdError):
    """The demo files are missing or inconsistent (a broken installation)."""


@dataclass
class DemoResult:
    """What ``install_demo`` did; ``refused`` carries the reason, written for the person."""

    installed: bool
    songs_added: list[Song] = field(default_factory=list)
    songs_present: int = 0
    bundle: Optional[Path] = None
    model_was_current: bool = False
    recordings: list[Path] = field(default_factory=list)
    message: str = ""

    @property
    def refused(self) -> bool:
        return not self.installed


def demo_song_files(folder: Path | None = None) -> list[Path]:
    return sorted((folder or demo_dir()).joinpath("songs").glob("*.ogg"))


def demo_recordings(folder: Path | None = None) -> list[Path]:
    """Shipped noisy recordings of demo songs, for "identify a file" (10 s each)."""
    return sorted((folder or demo_dir()).joinpath("recordings").glob("*.ogg"))


def demo_model_dir(folder: Path | None = None) -> Path:
    return (folder or demo_dir()) / "model"


def demo_song_ids(folder: Path | None = None) -> set[str]:
    """The library ids the demo files get: the same rule as ``Library._add_one_song``."""
    return {file_sha256(path)[:12] for path in demo_song_files(folder)}


def demo_available(folder: Path | None = None) -> bool:
    folder = folder or demo_dir()
    return bool(demo_song_files(folder)) and (demo_model_dir(folder) / "meta.json").is_file()


def is_demo_library(library: Library, folder: Path | None = None) -> bool:
    """True when the library holds songs and all of them are demo songs."""
    songs = library.songs()
    return bool(songs) and {s.id for s in songs} <= demo_song_ids(folder)


def install_demo(
    library: Library,
    progress: Optional[ProgressFn] = None,
    should_stop: Optional[ShouldStopFn] = None,
    folder: Path | None = None,
) -> DemoResult:
    """Enrol the demo songs and make the shipped model current, unless that would touch the
    person's own songs or model; then nothing changes and ``message`` says why.

    Takes a few seconds (decoding eight 45 s excerpts); no TensorFlow is imported."""
    progress, should_stop = or_default(progress, should_stop)
    folder = folder or demo_dir()
    if not demo_available(folder):
        raise DemoError(f"the demo files are missing from {folder}; reinstall MusicID")
    shipped = demo_model_dir(folder)
    shipped_meta = _verified_meta(shipped)
    ids = demo_song_ids(folder)
    labels = {item["id"] for item in json.loads((shipped / "labels.json").read_text(encoding="utf-8"))}
    if labels != ids:
        raise DemoError(f"the demo model in {shipped} does not match the demo songs; reinstall MusicID")

    own = [s for s in library.songs() if s.id not in ids]
    if own:
        return DemoResult(False, songs_present=len(library.songs()), message=(
            f"The demo was not installed: this library already has {len(own)} song(s) of your own, and the demo "
            f"would mix its songs in and replace your model. Nothing was changed. To try the demo, use a separate "
            f"data folder (for example: musicid --data-dir ~/musicid-demo demo)."))
    current = _current_or_none(library)
    is_demo_model = current is not None and _model_sha(current) == shipped_meta.model_sha256
    if current is not None and not is_demo_model:
        return DemoResult(False, songs_present=len(library.songs()), message=(
            f"The demo was not installed: a model you trained ({current.name}) is in use and the demo would "
            f"replace it. Nothing was changed. To try the demo, use a separate data folder "
            f"(for example: musicid --data-dir ~/musicid-demo demo)."))

    report = library.add_songs(demo_song_files(folder), progress=lambda f, m: progress(0.9 * f, m),
                               should_stop=should_stop)
    if report.failed:
        path, reason = report.failed[0]
        raise DemoError(f"a demo song could not be read ({path}: {reason}); reinstall MusicID")
    if report.cancelled:
        return DemoResult(False, report.added, len(library.songs()), message="The demo installation was cancelled.")
    if is_demo_model:
        bundle = current
    else:
        progress(0.95, "Installing the demo model")
        bundle = install_bundle_copy(shipped, library.models_dir)
    progress(1.0, "Demo ready")
    return DemoResult(
        True, report.added, len(library.songs()), bundle, is_demo_model, demo_recordings(folder),
        message=f"Demo ready: {len(ids)} demo songs and a model trained on them. Play one of them near the "
                f"microphone, or identify one of the demo recordings in {folder / 'recordings'}.",
    )


def install_bundle_copy(source: Path, models_dir: Path) -> Path:
    """Copy a finished bundle in with the store's own crash-safe steps: build in a hidden
    ``.incoming-*`` folder, check every checksum, rename into place, then switch
    ``current.json`` atomically. A crash at any point leaves the previous state in use, and so
    does a full, read-only or vanished data folder (``diskspace.StorageError``)."""
    doing = "installing the demo model"
    needed = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    diskspace.ensure_free_space(models_dir.parent, needed, doing=doing)
    with diskspace.translated(doing, models_dir.parent):
        return _copy_bundle(source, models_dir)


def _copy_bundle(source: Path, models_dir: Path) -> Path:
    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    staging = models_dir / f".incoming-{stamp}"
    final = models_dir / f"bundle-{stamp}{DEMO_BUNDLE_SUFFIX}"
    try:
        shutil.copytree(source, staging)
        _verified_meta(staging)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic_write_bytes(models_dir / store.CURRENT, json.dumps({"bundle": final.name}).encode())
    store._prune(models_dir, keep=final.name)  # same retention rule as a trained bundle
    return final


def _verified_meta(bundle: Path) -> store.BundleMeta:
    """Checksums of every file the meta names, without loading TensorFlow."""
    meta = store.read_meta(bundle)
    expected = {"model.keras": meta.model_sha256, "labels.json": meta.labels_sha256}
    if meta.fingerprints_sha256:
        expected[INDEX_FILE] = meta.fingerprints_sha256
    if meta.lite_sha256:
        expected[store.LITE_FILE] = meta.lite_sha256
    # Extra arrays (e.g. reference embeddings) exist in some bundle versions; check them when named.
    expected.update({f"{name}.npy": digest for name, digest in getattr(meta, "arrays_sha256", {}).items()})
    for name, digest in expected.items():
        path = bundle / name
        if not path.is_file() or file_sha256(path) != digest:
            raise DemoError(f"the demo model file {path} is missing or damaged; reinstall MusicID")
    return meta


def _current_or_none(library: Library) -> Optional[Path]:
    """The current bundle folder, or None if there is none (a dangling pointer counts as none)."""
    try:
        path = store.current_bundle_path(library.models_dir)
    except ModelError:
        return library.models_dir / store.CURRENT  # damaged pointer: treat as the person's, do not touch
    return path if path is not None and path.is_dir() else None


def _model_sha(bundle: Path) -> str:
    try:
        return store.read_meta(bundle).model_sha256
    except ModelError:
        return ""
