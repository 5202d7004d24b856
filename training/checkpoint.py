"""Training checkpoints: hours of training survive a crash, a kill or a power cut.

At the end of every epoch ``Checkpointer.save`` writes, into ``<data>/models/checkpoint/``:

- ``weights-<epoch>.npz``: the current and the best weights (plain arrays, loaded without pickle),
- ``state.json``: a checksummed document (schema, SHA-256) with the epoch, step count, history,
  best epoch, the batch shuffler's random state, the training options, the feature settings, the
  library fingerprint, and the SHA-256 of the weights file it goes with.

Each file is written atomically and ``state.json`` is replaced only after its weights file is
complete; older weights files are deleted after that. A kill at any moment therefore leaves either
the previous checkpoint or the new one. The optimizer's moments are not saved (they are rebuilt in
a few batches); its step count is, so the learning-rate schedule carries on where it stopped.

A checkpoint is resumed only when the songs, the noise clips, the options and the feature
settings are those it was made with; a damaged one is set aside (``checkpoint.damaged-<time>``)
and reported, never silently used.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from musicid_core import diskspace
from musicid_core.config import FeatureSettings
from musicid_core.errors import LibraryError, MusicIdError
from musicid_core.storage import atomic_write_bytes, file_sha256, payload_checksum, read_checked_json, write_checked_json

if TYPE_CHECKING:
    from musicid_core.library import Library
    from training.train import TrainOptions

CHECKPOINT_SCHEMA = 1
FOLDER = "checkpoint"
STATE = "state.json"


class CheckpointError(MusicIdError):
    """``--resume`` was asked for but there is no checkpoint that fits this library and these options."""


@dataclass
class ResumePoint:
    """Where the epoch loop starts: after ``epoch`` completed epochs (0: from scratch)."""

    epoch: int = 0
    steps_done: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {"loss": [], "accuracy": [], "val_accuracy": []})
    best_epoch: int = 0
    best_accuracy: float = -1.0
    best_weights: Optional[list[np.ndarray]] = None


def run_key(library: "Library", options: "TrainOptions", settings: FeatureSettings) -> dict[str, Any]:
    """Everything that decides the dataset and the schedule; a checkpoint fits only the same key."""
    chosen = {name.name: getattr(options, name.name) for name in fields(options)}
    chosen["negatives_dir"] = str(chosen["negatives_dir"]) if chosen["negatives_dir"] is not None else None
    return {
        "options": chosen,
        "features": settings.to_dict(),
        "library_fingerprint": library.fingerprint(),
        "noise_fingerprint": payload_checksum(sorted(f"{c.pack}/{c.id}" for c in library.noise_clips()))[:16],
    }


class Checkpointer:
    """Saves and restores the state of one training run (see the module docstring)."""

    def __init__(self, folder: Path, key: dict[str, Any], resume: bool = False) -> None:
        self.folder = folder
        self.key = key
        self.resume = resume
        self.notice = ""
        """What happened to an existing checkpoint (resumed, set aside), for the progress report."""
        self.saved = False
        """True once this run has written a checkpoint (so ``--resume`` can pick it up)."""

    @classmethod
    def for_library(
        cls, library: "Library", options: "TrainOptions", settings: FeatureSettings, resume: bool = False
    ) -> "Checkpointer":
        return cls(library.models_dir / FOLDER, run_key(library, options, settings), resume)

    # ----- restoring
    def check(self) -> None:
        """Fail fast, before the dataset is built, when ``resume`` cannot be honoured."""
        if self.resume:
            self._load_matching()

    def restore(self, model: Any, batches: Any) -> ResumePoint:
        """With ``resume``: load the matching checkpoint into ``model`` (weights, optimizer step)
        and ``batches`` (shuffle state) and say where to continue. Without: start from scratch.

        Raises ``CheckpointError`` when resuming is asked for and no checkpoint fits."""
        if not self.resume:
            return ResumePoint()
        state, weights = self._load_matching()
        model.set_weights(weights["current"])
        model.optimizer.iterations.assign(int(state["steps_done"]))
        batches.rng.bit_generator.state = state["rng_state"]
        batches.order = np.asarray(state["order"], dtype=np.int64)
        self.notice = f"Resuming after epoch {state['epoch']} of {self.key['options']['epochs']}"
        return ResumePoint(
            epoch=int(state["epoch"]), steps_done=int(state["steps_done"]),
            history={k: [float(v) for v in vs] for k, vs in state["history"].items()},
            best_epoch=int(state["best_epoch"]), best_accuracy=float(state["best_accuracy"]),
            best_weights=weights.get("best"),
        )

    def _load_matching(self) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
        if not (self.folder / STATE).exists():
            raise CheckpointError("there is no checkpoint to resume from; train without --resume")
        try:
            state = read_checked_json(self.folder / STATE, CHECKPOINT_SCHEMA)
            weights = _read_weights(self.folder, state)
        except (LibraryError, KeyError, TypeError, ValueError, OSError) as exc:
            where = self.set_aside()
            raise CheckpointError(
                f"the training checkpoint is damaged ({str(exc)[:160]}); it was moved to {where.name}. "
                "Train without --resume to start over"
            ) from None
        mismatch = _mismatch(state.get("key", {}), self.key)
        if mismatch:
            raise CheckpointError(
                f"the checkpoint was made with other {mismatch}; train without --resume to start over"
            )
        return state, weights

    # ----- saving
    def save(self, model: Any, batches: Any, point: ResumePoint) -> None:
        """Write the state after ``point.epoch`` completed epochs (atomic; see the module docstring).

        ``point`` also carries the step count, the history and the best epoch with its weights."""
        epoch, best = point.epoch, point
        self.folder.mkdir(parents=True, exist_ok=True)
        weights_name = f"weights-{epoch:04d}.npz"
        arrays = {f"current_{i}": w for i, w in enumerate(model.get_weights())}
        if best.best_weights is not None:
            arrays.update({f"best_{i}": w for i, w in enumerate(best.best_weights)})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
        diskspace.ensure_free_space(self.folder, len(data), doing="saving a training checkpoint")
        atomic_write_bytes(self.folder / weights_name, data)
        state = {
            "key": self.key, "epoch": epoch, "steps_done": point.steps_done, "history": point.history,
            "best_epoch": best.best_epoch, "best_accuracy": best.best_accuracy,
            "rng_state": _jsonable(batches.rng.bit_generator.state), "order": batches.order.tolist(),
            "weights_file": weights_name, "weights_sha256": hashlib.sha256(data).hexdigest(),
            "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        write_checked_json(self.folder / STATE, CHECKPOINT_SCHEMA, state)
        self.saved = True
        for old in self.folder.glob("weights-*.npz"):
            if old.name != weights_name:
                old.unlink(missing_ok=True)

    def clear(self) -> None:
        """The run finished and its bundle is saved: the checkpoint has served its purpose."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def set_aside(self) -> Path:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        target = self.folder.with_name(f"{FOLDER}.damaged-{stamp}")
        self.folder.rename(target)
        return target


def describe(folder: Path) -> str | None:
    """A one-line description of the checkpoint in ``folder`` (None if there is none)."""
    if not (folder / STATE).exists():
        return None
    try:
        state = read_checked_json(folder / STATE, CHECKPOINT_SCHEMA)
        return f"after epoch {state['epoch']} of {state['key']['options']['epochs']}, saved {state['saved_at']}"
    except (LibraryError, KeyError, TypeError) as exc:
        return f"damaged ({str(exc)[:120]})"


def _read_weights(folder: Path, state: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    name = str(state["weights_file"])
    if "/" in name or "\\" in name or not name.startswith("weights-"):
        raise ValueError(f"invalid weights file name {name[:40]!r}")
    path = folder / name
    if file_sha256(path) != state["weights_sha256"]:
        raise ValueError(f"{name} fails its checksum")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    result = {"current": _ordered(arrays, "current")}
    if any(key.startswith("best_") for key in arrays):
        result["best"] = _ordered(arrays, "best")
    return result


def _ordered(arrays: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    count = sum(1 for key in arrays if key.startswith(prefix + "_"))
    return [arrays[f"{prefix}_{i}"] for i in range(count)]


def _mismatch(saved: dict[str, Any], wanted: dict[str, Any]) -> str:
    """Which part of the run key differs, in words ('' when they agree)."""
    words = {"library_fingerprint": "songs", "noise_fingerprint": "noise clips",
             "features": "feature settings", "options": "training options"}
    for key, word in words.items():
        if _jsonable(saved.get(key)) != _jsonable(wanted.get(key)):
            return word
    return ""


def _jsonable(value: Any) -> Any:
    """The value as it reads back from JSON (tuples become lists), for comparisons and saving."""
    return json.loads(json.dumps(value, default=str))

