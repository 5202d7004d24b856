"""Start a retrain from the previous model: the network keeps its place as the library changes.

When songs were added or removed since the current bundle was trained, the new network is the
previous one with its output layer re-cut to the new song list: every layer up to the output is
copied, kept songs keep their output column (matched by song id, whatever their position),
removed songs' columns are dropped, new songs get fresh columns (Keras' own initialisation, bias
at the kept songs' mean so a new song starts neither favoured nor silenced), and the "not in your
library" column is kept. Fine-tuning that needs a fraction of the epochs of a run from scratch
(``training.budget``). A bundle that cannot be used (another architecture or feature settings,
damaged, no song in common) means training from scratch, never a failed run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from musicid_core.config import FeatureSettings
from musicid_core.errors import ModelError
from musicid_core.models.store import SongLabel, current_bundle_path, load_bundle, verify_bundle

log = logging.getLogger(__name__)

OUTPUT_LAYER = "song"
"""The name every architecture gives its softmax over the songs (``models.architectures``)."""


@dataclass
class PreviousModel:
    """The bundle a retrain starts from."""

    bundle: Path
    model: Any
    labels: list[SongLabel]
    unknown_class: bool


def starting_point(models_dir: Path, arch: str, settings: FeatureSettings, library_fingerprint: str) -> Optional[Path]:
    """The current bundle, when a retrain should start from it: the library changed since it was
    trained, it has the same architecture and feature settings, and its files verify. Checked
    without TensorFlow, so the budget can be chosen before anything is built."""
    try:
        path = current_bundle_path(models_dir)
        if path is None:
            return None
        meta, _ = verify_bundle(path)
    except ModelError as exc:
        log.warning("training from scratch: the current model cannot be a starting point (%s)", exc)
        return None
    if meta.library_fingerprint == library_fingerprint or meta.arch != arch or meta.features != settings:
        return None
    return path


def load_previous(bundle: Path, settings: FeatureSettings) -> PreviousModel:
    """The bundle's Keras network and labels (``ModelError`` when it cannot be loaded)."""
    loaded = load_bundle(bundle, settings, keras=True)
    return PreviousModel(bundle, loaded.model, loaded.labels, loaded.meta.unknown_class)


def column_map(previous_ids: Sequence[str], new_ids: Sequence[str], previous_unknown: bool, new_unknown: bool = True
               ) -> list[Optional[int]]:
    """For each new output column, the previous column it inherits (None: a new song, fresh).

    Songs are matched by id; the "not in your library" column (last) inherits the previous one."""
    where = {song_id: column for column, song_id in enumerate(previous_ids)}
    mapping: list[Optional[int]] = [where.get(song_id) for song_id in new_ids]
    if new_unknown:
        mapping.append(len(previous_ids) if previous_unknown else None)
    return mapping


def widen(previous: PreviousModel, model: Any, song_ids: Sequence[str]) -> int:
    """Copy ``previous.model``'s weights into ``model`` (a fresh build of the same architecture with
    one output per song in ``song_ids`` plus "not in your library"). Returns the number of songs
    that kept their column; raises ``ModelError`` when the two networks differ in more than the
    output layer, or when no song is kept (nothing worth starting from)."""
    old_layers, new_layers = list(previous.model.layers), list(model.layers)
    if len(old_layers) != len(new_layers):
        raise ModelError(f"the previous model has {len(old_layers)} layers, the new one {len(new_layers)}")
    mapping = column_map([label.id for label in previous.labels], song_ids, previous.unknown_class)
    kept = sum(1 for column in mapping[: len(song_ids)] if column is not None)
    if kept == 0:
        raise ModelError("the previous model shares no song with the library")
    for old, new in zip(old_layers, new_layers):
        if new.name == OUTPUT_LAYER:
            new.set_weights(_recut_output(old.get_weights(), new.get_weights(), mapping))
            continue
        weights = old.get_weights()
        if type(old) is not type(new) or [w.shape for w in weights] != [tuple(w.shape) for w in new.weights]:
            raise ModelError(f"the previous model's layer {old.name} does not fit layer {new.name}")
        if weights:
            new.set_weights(weights)
    return kept


def _recut_output(old: list[np.ndarray], fresh: list[np.ndarray], mapping: list[Optional[int]]) -> list[np.ndarray]:
    """The output layer's kernel and bias with each column taken from the previous one it maps to."""
    old_kernel, old_bias = old
    kernel, bias = (np.array(w, copy=True) for w in fresh)
    if old_kernel.shape[0] != kernel.shape[0]:
        raise ModelError(f"the previous output layer reads {old_kernel.shape[0]} features, "
                         f"the new one {kernel.shape[0]}")
    inherited = [(new, old_col) for new, old_col in enumerate(mapping) if old_col is not None]
    for new, old_col in inherited:
        kernel[:, new] = old_kernel[:, old_col]
        bias[new] = old_bias[old_col]
    songs_kept = [old_bias[old_col] for new, old_col in inherited if new < len(mapping) - 1]
    for new, old_col in enumerate(mapping):
        if old_col is None and songs_kept:
            bias[new] = float(np.mean(songs_kept))
    return [kernel, bias]
