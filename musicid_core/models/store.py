"""Model bundles on disk: saved atomically, loaded safely, refused when they do not fit.

A bundle is a folder ``models/<name>/`` holding ``model.keras`` (Keras v3 format, loaded with
``safe_mode=True`` so no code from it runs), ``labels.json`` (the songs, in output order) and
``meta.json`` (architecture, feature settings, validation metrics, verdict threshold, and the
SHA-256 of the other files), and, for models trained since landmark fingerprints were added,
``fingerprints.npz`` (the songs' landmark index and, since they were added, tonal profiles, see
``musicid_core.fingerprint``; loaded without pickles), and, for models trained since it exists,
``model.tflite``: the same network for LiteRT, which recognition uses instead of Keras so that a
recognising process need not import TensorFlow (``musicid_core.models.runtime``).
``models/current.json`` names the bundle in use.

Saving builds the new bundle in a hidden folder, renames it into place, and only then replaces
``current.json`` (atomically), so a crash or a cancel at any moment leaves the last good model in
use. The two most recent bundles are kept; older ones are removed.

A damaged current bundle (checksum, schema, labels, unloadable model) is reported with a
``ModelError`` and never silently replaced; ``fall_back`` moves it aside as ``damaged-<name>`` and
makes the newest previous bundle that verifies current (``musicid model fallback``).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from musicid_core import diskspace
from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import LibraryError, ModelError
from musicid_core.fingerprint import INDEX_FILE, FingerprintIndex, StaleIndexError
from musicid_core.models.runtime import LITE_FILE, LitePredictor, convert_to_lite, lite_available
from musicid_core.storage import atomic_write_bytes, file_sha256, read_checked_json, write_checked_json

log = logging.getLogger(__name__)

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
    fingerprints_sha256: str = ""
    """Checksum of ``fingerprints.npz``; empty for bundles without a landmark index."""
    fingerprint_margin: float = 0.0
    """Verdict threshold on the landmark margin (``training.fingerprints.calibrate_margin``)."""
    profile_margin: float = 0.0
    """Verdict threshold on the tonal-profile margin; 0 for bundles without profiles."""
    margin_speeds: list[float] = field(default_factory=list)
    """The search speeds the margins' impostors were tried at (``musicid_core.speed_search``);
    empty for bundles calibrated before the search, which are recognised without it."""
    lite_sha256: str = ""
    """Checksum of ``model.tflite``; empty for bundles without it (recognised with Keras)."""
    impostor_network: dict[str, Any] = field(default_factory=dict)
    """The network's answers for the calibration impostors it never trained on
    (``training.heard_impostors.HeardImpostors.to_dict``); empty for bundles made before them."""

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
    fingerprints: Optional[FingerprintIndex] = None
    lite: Optional[LitePredictor] = None
    """The network under LiteRT; when set, ``model`` is None (Keras was not loaded)."""


def save_bundle(
    models_dir: Path, model: Any, labels: list[SongLabel], meta: BundleMeta,
    fingerprints: Optional[FingerprintIndex] = None,
) -> Path:
    """Write a complete bundle, then make it current. Returns the bundle folder.

    Refused first (``diskspace.StorageError``) when the data folder lacks the room the bundle
    needs; a write that fails anyway removes what it staged and leaves the current model."""
    doing = "saving the new model"
    data_folder = models_dir.parent  # models/ may not exist yet; its data folder must
    diskspace.ensure_free_space(data_folder, bundle_bytes(model, fingerprints), doing=doing)
    with diskspace.translated(doing, data_folder):
        return _save_bundle(models_dir, model, labels, meta, fingerprints)


def bundle_bytes(model: Any, fingerprints: Optional[FingerprintIndex] = None) -> int:
    """A generous estimate of a bundle's size: the weights and the two Adam moments (Keras saves
    the optimizer too) as float32, the index's arrays uncompressed, and room for the JSON files."""
    count_params = getattr(model, "count_params", None)
    total = 3 * 4 * int(count_params()) if callable(count_params) else 0
    if fingerprints is not None:
        total += fingerprints.hashes.nbytes + fingerprints.songs.nbytes + fingerprints.times.nbytes
        if fingerprints.profiles is not None:
            total += sum(a.nbytes for a in fingerprints.profiles.arrays().values())
    return total + (64 << 10)


def _save_bundle(
    models_dir: Path, model: Any, labels: list[SongLabel], meta: BundleMeta, fingerprints: Optional[FingerprintIndex],
) -> Path:
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
        meta.lite_sha256 = _write_lite(model, staging / LITE_FILE)
        if fingerprints is not None:
            fingerprints.save(staging / INDEX_FILE)
            meta.fingerprints_sha256 = file_sha256(staging / INDEX_FILE)
        write_checked_json(staging / "meta.json", META_SCHEMA, meta.to_dict())
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        atomic_write_bytes(models_dir / CURRENT, json.dumps({"bundle": final.name}).encode())
    except BaseException:
        if _pointer_name(models_dir) != final.name:  # the old pointer stands: the new bundle is unused
            shutil.rmtree(final, ignore_errors=True)
        raise
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


def read_meta_and_labels(bundle: Path) -> tuple[BundleMeta, list[SongLabel]]:
    """A bundle's meta and labels, checked for shape but without the checksums (no hashing of the
    model): for callers that need what the bundle says, not the network (``verify_bundle``)."""
    return read_meta(bundle), _read_labels(bundle / "labels.json")


def verify_bundle(bundle: Path) -> tuple[BundleMeta, list[SongLabel]]:
    """Everything about a bundle that can be checked without TensorFlow: meta schema and checksum,
    the checksums of the model and labels files, and the label list."""
    if not bundle.is_dir():
        raise ModelError(f"model bundle {bundle} is missing; train a model first ('musicid train')")
    meta = read_meta(bundle)
    checked = [("model.keras", meta.model_sha256), ("labels.json", meta.labels_sha256)]
    if meta.fingerprints_sha256:
        checked.append((INDEX_FILE, meta.fingerprints_sha256))
    if meta.lite_sha256:
        checked.append((LITE_FILE, meta.lite_sha256))
    for name, expected in checked:
        path = bundle / name
        if not path.is_file():
            raise ModelError(f"model bundle {bundle.name}: {name} is missing")
        if file_sha256(path) != expected:
            raise ModelError(f"model bundle {bundle.name}: {name} fails its checksum (edited or damaged)")
    return meta, _read_labels(bundle / "labels.json")


def load_bundle(bundle: Path, settings: FeatureSettings = DEFAULT_FEATURES, keras: bool = False) -> ModelBundle:
    """Load and verify a bundle: checksums, labels, feature settings, input and output shapes.

    The network is run by LiteRT when the bundle has ``model.tflite`` and ``ai-edge-litert`` is
    installed (TensorFlow is then never imported); by Keras otherwise, or when ``keras`` is True
    (for callers that need the Keras model itself)."""
    meta, labels = verify_bundle(bundle)
    if meta.features != settings:
        raise ModelError(
            f"model bundle {bundle.name} was made for other feature settings "
            f"({meta.features.n_mels} mels, hop {meta.features.hop_length}); retrain it"
        )
    model: Any = None
    lite: Optional[LitePredictor] = None
    if meta.lite_sha256 and not keras and lite_available():
        try:
            lite = LitePredictor(bundle / LITE_FILE)
        except Exception as exc:  # noqa: BLE001 - the interpreter raises ValueError/RuntimeError alike
            raise ModelError(f"model bundle {bundle.name}: {LITE_FILE} cannot be loaded ({exc})") from None
        input_shape, outputs = lite.input_shape, lite.outputs
    else:
        model = _load_keras(bundle)
        input_shape, outputs = tuple(model.input_shape[1:]), model.output_shape[-1]
    if input_shape != settings.input_shape:
        raise ModelError(f"model bundle {bundle.name}: the model expects input {input_shape}")
    expected_outputs = len(labels) + (1 if meta.unknown_class else 0)
    if outputs != expected_outputs:
        raise ModelError(f"model bundle {bundle.name}: {outputs} outputs but {len(labels)} labels")
    fingerprints = None
    if meta.fingerprints_sha256:
        try:
            fingerprints = FingerprintIndex.load(bundle / INDEX_FILE, len(labels))
        except StaleIndexError as exc:
            # Made by an earlier version's analysis: recordings analysed now would not match it.
            # The library's song index (analysed again from the songs) takes its place.
            log.info("model bundle %s: %s; its songs' index is not used", bundle.name, exc)
        except ModelError as exc:
            raise ModelError(f"model bundle {bundle.name}: {exc}") from None
    return ModelBundle(bundle, model, labels, meta, fingerprints, lite)


def _load_keras(bundle: Path) -> Any:
    from musicid_core.tfquiet import load_tensorflow

    load_tensorflow()
    import keras

    try:
        return keras.models.load_model(bundle / "model.keras", compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types; all mean "unusable file"
        raise ModelError(f"model bundle {bundle.name}: model.keras cannot be loaded ({exc})") from None


def _write_lite(model: Any, path: Path) -> str:
    """Write the network for LiteRT and return its checksum; "" when it cannot be converted, so
    the bundle is still saved and recognised with Keras (a lost speed-up, never a lost model)."""
    try:
        data = convert_to_lite(model)
    except Exception as exc:  # noqa: BLE001 - the converter raises many types
        log.warning("the model could not be converted for LiteRT (%s); recognition will use Keras", exc)
        return ""
    atomic_write_bytes(path, data)
    return file_sha256(path)


NO_MODEL_YET = "there is no trained model yet; add songs and run 'musicid train'"


def load_current(models_dir: Path, settings: FeatureSettings = DEFAULT_FEATURES) -> ModelBundle:
    """The current bundle; if it is damaged the error says whether a previous one can take over."""
    try:
        path = current_bundle_path(models_dir)
        if path is None:
            raise ModelError(NO_MODEL_YET)
        return load_bundle(path, settings)
    except ModelError as exc:
        if _previous_good(models_dir, exclude=_pointer_name(models_dir)) is None:
            raise
        raise ModelError(
            f"{exc}. The previous model is intact: run 'musicid model fallback' to use it, or train again"
        ) from None


@dataclass
class FallbackReport:
    damaged: Path | None
    """Where the damaged current bundle was moved (None if only the pointer was bad)."""
    reason: str
    current: Path


def fall_back(models_dir: Path) -> FallbackReport:
    """Set a damaged current bundle aside and make the newest previous good bundle current.

    Refuses (``ModelError``) when the current bundle is fine or when no previous bundle verifies:
    it never leaves the folder with fewer usable models than before."""
    reason = _current_problem(models_dir)
    if reason is None:
        raise ModelError("the current model is intact; there is nothing to fall back from")
    current_name = _pointer_name(models_dir)
    previous = _previous_good(models_dir, exclude=current_name)
    if previous is None:
        raise ModelError(f"the current model is unusable ({reason}) and no previous model is intact; train again")
    damaged = None
    if current_name and (models_dir / current_name).is_dir():
        damaged = models_dir / f"damaged-{current_name}"
        (models_dir / current_name).rename(damaged)
    atomic_write_bytes(models_dir / CURRENT, json.dumps({"bundle": previous.name}).encode())
    return FallbackReport(damaged, reason, previous)


def bundles(models_dir: Path) -> list[Path]:
    """Bundle folders, newest first (names carry a sortable UTC time stamp)."""
    return sorted((p for p in models_dir.glob("bundle-*") if p.is_dir()), reverse=True)


def _current_problem(models_dir: Path) -> str | None:
    """Why the current bundle cannot be used (without TensorFlow), or None when it verifies."""
    try:
        path = current_bundle_path(models_dir)
        if path is None:
            return "there is no current model"
        verify_bundle(path)
    except ModelError as exc:
        return str(exc)
    return None


def _pointer_name(models_dir: Path) -> str | None:
    try:
        path = current_bundle_path(models_dir)
    except ModelError:
        return None
    return path.name if path is not None else None


def _previous_good(models_dir: Path, exclude: str | None) -> Path | None:
    for candidate in bundles(models_dir):
        if candidate.name == exclude:
            continue
        try:
            verify_bundle(candidate)
        except ModelError:
            continue
        return candidate
    return None


def _read_labels(path: Path) -> list[SongLabel]:
    """The label list, checked: a list of objects whose fields are all text, ids unique."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelError(f"{path} is not a valid label list ({str(exc)[:120]})") from None
    if not isinstance(raw, list) or not raw:
        raise ModelError(f"{path} is not a non-empty list of songs")
    labels = []
    for item in raw:
        if not isinstance(item, dict) or not all(isinstance(item.get(k, ""), str) for k in SongLabel.__dataclass_fields__):
            raise ModelError(f"{path} holds an entry that is not a song label: {str(item)[:80]}")
        if not item.get("id") or "title" not in item or "source" not in item:
            raise ModelError(f"{path} holds a song label without id, title or source: {str(item)[:80]}")
        labels.append(SongLabel(**{k: item[k] for k in SongLabel.__dataclass_fields__ if k in item}))
    if len({label.id for label in labels}) != len(labels):
        raise ModelError(f"{path} names the same song twice")
    return labels


def _prune(models_dir: Path, keep: str) -> None:
    """Keep the newest ``KEEP_BUNDLES`` bundles (and ``keep``): the previous one is the fallback."""
    for old in bundles(models_dir)[KEEP_BUNDLES:]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in models_dir.glob(".incoming-*"):
        shutil.rmtree(stale, ignore_errors=True)
