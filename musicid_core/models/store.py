"""Model bundles on disk: saved atomically, loaded safely, refused when they do not fit.

A bundle is a folder ``models/<name>/`` holding ``model.keras`` (Keras v3 format, loaded with
``safe_mode=True`` so no code from it runs), ``labels.json`` (the songs, in output order) and
``meta.json`` (architecture, feature settings, validation metrics, verdict threshold, and the
SHA-256 of the other two files). ``models/current.json`` names the bundle in use.

Saving builds the new bundle in a hidden folder, renames it into place, and only then replaces
``current.json`` (atomically), so a crash or a cancel at any moment leaves the last good model in
use. The two most recent bundles are kept; older ones are removed.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import LibraryError, ModelError
from musicid_core.storage import atomic_write_bytes, file_sha256, read_checked_json, write_checked_json

META_SCHEMA = 1
KEEP_BUNDLES = 2
CURRENT = "current.json"


@dataclass(frozen=True)
class SongLabel:
    """What a model output stands for; a copy of the library's record at training time."""

    id: str
    title: str
    source: str
    artist: str = ""


@dataclass
class BundleMeta:
    arch: str
    features: FeatureSettings
    labels_sha256: str = ""
    model_sha256: str = ""
    library_fingerprint: str = ""
    trained_at: str = ""
    epochs: int = 0
    examples_per_song: int = 0
    train_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.5
    """Verdict threshold on the top song's ensemble score; see ``recognizer.decide``."""
    history: dict[str, list[float]] = field(default_factory=dict)
    unknown_class: bool = False
    """True when the model has one output more than songs: "not in your library"."""

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["features"] = self.features.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BundleMeta":
        data = dict(data)
        data["features"] = FeatureSettings.from_dict(data.get("features", {}))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class ModelBundle:
    path: Path
    model: Any
    labels: list[SongLabel]
    meta: BundleMeta


def save_bundle(models_dir: Path, model: Any, labels: list[SongLabel], meta: BundleMeta) -> Path:
    """Write a complete bundle, then make it current. Returns the bundle folder."""
    models_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    staging = models_dir / f".incoming-{stamp}"
    final = models_dir / f"bundle-{stamp}"
    staging.mkdir()
    try:
        model.save(staging / "model.keras")
        labels_bytes = json.dumps([label.__dict__ for label in labels], indent=1, ensure_ascii=False).encode()
        atomic_write_bytes(staging / "labels.json", labels_bytes)
        meta.labels_sha256 = file_sha256(staging / "labels.json")
        meta.model_sha256 = file_sha256(staging / "model.keras")
        write_checked_json(staging / "meta.json", META_SCHEMA, meta.to_dict())
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic_write_bytes(models_dir / CURRENT, json.dumps({"bundle": final.name}).encode())
    _prune(models_dir, keep=final.name)
    return final


def current_bundle_path(models_dir: Path) -> Path | None:
    pointer = models_dir / CURRENT
    if not pointer.exists():
        return None
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["bundle"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{pointer} is damaged ({exc}); train again to replace it") from None
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        raise ModelError(f"{pointer} names an invalid bundle {name!r}")
    return models_dir / name


def read_meta(bundle: Path) -> BundleMeta:
    try:
        return BundleMeta.from_dict(read_checked_json(bundle / "meta.json", META_SCHEMA))
    except LibraryError as exc:
        raise ModelError(f"model bundle {bundle.name}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ModelError(f"model bundle {bundle.name}: meta.json has unexpected contents ({exc})") from None


def load_bundle(bundle: Path, settings: FeatureSettings = DEFAULT_FEATURES) -> ModelBundle:
    """Load and verify a bundle: checksums, labels, feature settings, input and output shapes."""
    if not bundle.is_dir():
        raise ModelError(f"model bundle {bundle} is missing; train a model first ('musicid train')")
    meta = read_meta(bundle)
    for name, expected in (("model.keras", meta.model_sha256), ("labels.json", meta.labels_sha256)):
        path = bundle / name
        if not path.is_file():
            raise ModelError(f"model bundle {bundle.name}: {name} is missing")
        if file_sha256(path) != expected:
            raise ModelError(f"model bundle {bundle.name}: {name} fails its checksum (edited or damaged)")
    labels = _read_labels(bundle / "labels.json")
    if meta.features != settings:
        raise ModelError(
            f"model bundle {bundle.name} was made for other feature settings "
            f"({meta.features.n_mels} mels, hop {meta.features.hop_length}); retrain it"
        )
    import keras

    try:
        model = keras.models.load_model(bundle / "model.keras", compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types; all mean "unusable file"
        raise ModelError(f"model bundle {bundle.name}: model.keras cannot be loaded ({exc})") from None
    if tuple(model.input_shape[1:]) != settings.input_shape:
        raise ModelError(f"model bundle {bundle.name}: the model expects input {model.input_shape[1:]}")
    expected_outputs = len(labels) + (1 if meta.unknown_class else 0)
    if model.output_shape[-1] != expected_outputs:
        raise ModelError(f"model bundle {bundle.name}: {model.output_shape[-1]} outputs but {len(labels)} labels")
    return ModelBundle(bundle, model, labels, meta)


def load_current(models_dir: Path, settings: FeatureSettings = DEFAULT_FEATURES) -> ModelBundle:
    path = current_bundle_path(models_dir)
    if path is None:
        raise ModelError("there is no trained model yet; add songs and run 'musicid train'")
    return load_bundle(path, settings)


def _read_labels(path: Path) -> list[SongLabel]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        labels = [SongLabel(**{k: str(v) for k, v in item.items() if k in SongLabel.__dataclass_fields__}) for item in raw]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path} is not a valid label list ({exc})") from None
    if not labels:
        raise ModelError(f"{path} lists no songs")
    return labels


def _prune(models_dir: Path, keep: str) -> None:
    bundles = sorted(p for p in models_dir.glob("bundle-*") if p.is_dir())
    for old in bundles[:-KEEP_BUNDLES]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in models_dir.glob(".incoming-*"):
        shutil.rmtree(stale, ignore_errors=True)
