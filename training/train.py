"""Train a model on the library and save it as the current bundle.

``train`` builds the augmented datasets (``dataset``), fits the chosen architecture with a
cosine-decaying learning rate, keeps the weights of the best validation epoch, calibrates the
verdict threshold, indexes the songs' landmarks (``training.fingerprints``), and saves the bundle
atomically (``models.store``). When the library changed since the current bundle, the network
starts from that bundle's weights with its output layer re-cut to the new songs
(``training.widen``). Unless the caller chose them, examples per song and epochs come from the
library's size (``training.budget``); the run uses every local GPU or a cluster's workers
(``training.distribute``) and bfloat16 on CPUs that have it (``training.precision``).
Progress goes to a plain
callable with epoch, batch, loss, accuracy and ETA; ``should_stop`` is polled every batch, so a
cancel takes effect within one batch and leaves the previous model untouched.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from musicid_core import diskspace
from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import TrainingCancelled
from musicid_core.library import Library, songs_fingerprint
from musicid_core.models.architectures import DEFAULT_ARCH, build_model
from musicid_core.models.store import BundleMeta, SongLabel, bundle_bytes, save_bundle
from musicid_core.progress import ShouldStopFn, never_stop
from musicid_core.speed_search import analyse_tries, calibrated_speeds, speeds_for
from training import budget, distribute, precision, widen
from training.batchnorm import refresh_batchnorm
from training.checkpoint import Checkpointer, CheckpointError, ResumePoint
from training.dataset import Datasets, WindowSet, build_datasets
from musicid_core.fingerprint import FingerprintIndex
from training.enrolment import impostor_recipe
from training.fingerprints import build_index, calibrate_margin, impostor_recordings
from training.heard_impostors import hear
from training.metrics import calibrate_threshold, classification_metrics
from training.noise_bank import load_negative_bank, load_noise_bank

log = logging.getLogger(__name__)

DEFAULT_EPOCHS = budget.FULL_EPOCHS
DEFAULT_EXAMPLES_PER_SONG = budget.FULL_EXAMPLES_PER_SONG
"""The budget of a library up to ``budget.SMALL_LIBRARY`` songs trained from scratch."""
FINE_TUNE_LEARNING_RATE = 1.0
"""The fraction of the learning rate a run that starts from the previous model uses. Measured
on 12 real songs + 4 added, 3 epochs (benchmarks/results/training-widen-lr-fast-n12+4.json):
x1.0 beat x0.5 on every count (validation 88.1 vs 87.0 %, kept songs 68.8 vs 68.1 %, added
songs 50.0 vs 43.8 % top-1, one run each): the cosine decay already ends the run gently."""
INDEX_BYTES_PER_SECOND = 5000
"""Room for the landmark index and tonal profiles per second of music, generously: 57 songs
(4 hours) took 23 MB of landmarks and 10 MB of profiles in the bundle, about 2.3 kB/s."""


@dataclass
class TrainOptions:
    arch: str = DEFAULT_ARCH
    epochs: Optional[int] = None
    """None: the library's budget (``training.budget.default_budget``)."""
    examples_per_song: Optional[int] = None
    """None: the library's budget."""
    batch_size: int = 32
    seed: int = 0
    learning_rate: float = 2e-3
    noise_packs: Optional[list[str]] = None
    negatives_dir: Optional[Path] = None
    """Music that is nobody's library, for the "not in your library" class (default: bundled)."""
    warm_start: bool = True
    """Start from the current bundle's weights when the library changed since (``training.widen``)."""
    precision: str = precision.AUTO
    """"auto" (bfloat16 on a CPU with native bf16, float32 elsewhere), "float32" or "mixed_bfloat16"."""


@dataclass
class TrainProgress:
    """One report: ``stage`` is "dataset", "training", "evaluating", "fingerprints" or "saving"."""

    stage: str
    fraction: float
    message: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loss: float = float("nan")
    accuracy: float = float("nan")
    val_accuracy: float = float("nan")
    eta_seconds: float = float("nan")
    epoch_end: bool = False
    """True for the one report per epoch that carries its validation accuracy."""


@dataclass
class TrainResult:
    bundle: Optional[Path]
    """The saved bundle; None on a cluster worker that is not the chief (only the chief saves)."""
    metrics: dict[str, float]
    seconds: float
    epochs_run: int
    best_epoch: int
    history: dict[str, list[float]] = field(default_factory=dict)
    stale: bool = False
    """Songs were added or removed while training: the model is saved but already out of date."""
    widened_from: Optional[str] = None
    """The bundle whose weights the run started from (None: from scratch)."""
    kept_songs: int = 0
    """How many songs kept their output column from ``widened_from``."""
    options: Optional[TrainOptions] = None
    """The options as run: the budget filled in, the precision resolved."""


ProgressCallback = Callable[[TrainProgress], None]


def train(
    library: Library,
    options: TrainOptions | None = None,
    progress: Optional[ProgressCallback] = None,
    should_stop: ShouldStopFn = never_stop,
    settings: FeatureSettings = DEFAULT_FEATURES,
    resume: bool = False,
) -> TrainResult:
    """Train and save a bundle. With ``resume``, continue from the last epoch checkpoint of an
    interrupted run with the same songs and options (``training.checkpoint``).

    A full, read-only or vanished data folder at any point raises ``diskspace.StorageError``;
    the dataset files are removed and the previous model stays in use."""
    with diskspace.translated("training a new model", library.root):
        return _train(library, options, progress, should_stop, settings, resume)


def _train(
    library: Library, options: TrainOptions | None, progress: Optional[ProgressCallback], should_stop: ShouldStopFn,
    settings: FeatureSettings, resume: bool,
) -> TrainResult:
    report = progress or (lambda p: None)
    started = time.monotonic()
    here = distribute.cluster()
    if resume and here.count > 1:
        raise CheckpointError("'--resume' works on one machine only: a cluster's workers keep no checkpoints")
    chosen = options or TrainOptions()
    start_from = (widen.starting_point(library.models_dir, chosen.arch, settings, library.fingerprint())
                  if chosen.warm_start else None)
    options = resolved_options(chosen, len(library.songs()), start_from is not None)
    checkpointer = Checkpointer.for_library(library, options, settings, resume)
    checkpointer.check()
    noise = load_noise_bank(library, options.noise_packs)
    negatives = load_negative_bank(options.negatives_dir)
    workdir = library.root / "cache" / "dataset"
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        data = build_datasets(
            library, noise.split(), negatives.split(), options.examples_per_song, options.seed, workdir, settings,
            progress=lambda f, m: report(TrainProgress("dataset", f, m)),
            should_stop=should_stop,
        )
        fitted = fit(data, options, settings, report, should_stop, checkpointer if here.is_chief else None,
                     room_for=lambda model: _ensure_room_for_results(library, data, model), start_from=start_from)
        model, history, best_epoch = fitted.model, fitted.history, fitted.best_epoch
        if not here.is_chief:  # the chief evaluates and saves; a worker's part ends with the epochs
            return TrainResult(None, {}, time.monotonic() - started, len(history.get("loss", [])), best_epoch,
                               history, options=options)
        report(TrainProgress("evaluating", 1.0, "Measuring validation accuracy"))
        metrics = evaluate_windows(model, data)
        index = build_index(
            library, data.songs,
            progress=lambda i, n: report(TrainProgress("fingerprints", i / n, f"Fingerprinting: song {i + 1} of {n}")),
            should_stop=should_stop,
        )
        report(TrainProgress("fingerprints", 1.0, "Calibrating the verdict"))
        # The network's answers for the impostors it never trained on count in their claims
        # (``training.heard_impostors``); kept in the bundle for enrolment's recalibrations when
        # the impostors are the ones enrolment makes (the default seed and noise). Only those
        # recordings' audio is kept meanwhile (about 45 MB; all of them would be 220 MB).
        never_trained = negatives.validation_only()
        impostors, to_hear = [], []
        for clip, audio in impostor_recordings(negatives.clips, noise.split()[1], options.seed):
            impostors.append(analyse_tries(audio, speeds_for(len(data.songs))))
            to_hear.append((clip, audio if clip in never_trained else np.zeros(0, np.float32)))
        reusable = options.seed == 0 and options.noise_packs is None
        song_ids = [song.id for song in data.songs]
        heard = hear(lambda x: _predict_array(model, x), to_hear, never_trained, song_ids, settings,
                     impostor_recipe(options.negatives_dir, library) if reusable else "")
        metrics.update(calibrate_margin(index, [], [], queries=impostors,
                                        networks=heard.answers(song_ids, song_ids, len(impostors))))
        # The model knows exactly the songs it was built from: songs added or removed meanwhile make
        # it out of date (the fingerprints differ, as after any library edit), never mislabelled.
        trained_fingerprint = songs_fingerprint(data.songs)
        stale = library.fingerprint() != trained_fingerprint
        report(TrainProgress("saving", 1.0, "Saving the model"))
        elapsed = time.monotonic() - started
        meta = BundleMeta(
            arch=options.arch, features=settings, library_fingerprint=trained_fingerprint,
            trained_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            epochs=len(history.get("loss", [])), examples_per_song=options.examples_per_song,
            train_seconds=round(elapsed, 1), metrics=metrics, threshold=metrics["threshold"], history=history,
            unknown_class=True, fingerprint_margin=metrics["fingerprint_margin"],
            profile_margin=metrics.get("profile_margin", 0.0), margin_speeds=list(calibrated_speeds(impostors)),
            impostor_network=heard.to_dict(),
        )
        labels = [SongLabel(s.id, s.title, s.source, s.artist) for s in data.songs]
        try:
            # A large library's index lives in its packs, not in the bundle (``build_index``).
            bundle = save_bundle(library.models_dir, model, labels, meta,
                                 fingerprints=index if isinstance(index, FingerprintIndex) else None)
        except diskspace.StorageError as exc:
            if not checkpointer.saved:
                raise
            raise exc.noting("The trained epochs are kept: once there is room, 'musicid train --resume' "
                             "picks up after the last one") from None
        checkpointer.clear()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return TrainResult(bundle, metrics, elapsed, len(history.get("loss", [])), best_epoch, history, stale,
                       fitted.widened_from, fitted.kept_songs, options)


def resolved_options(options: TrainOptions, n_songs: int, warm_start: bool) -> TrainOptions:
    """``options`` with what the caller left open filled in: the budget for ``n_songs`` songs
    (``training.budget``; smaller when the run starts from the previous model) and the precision."""
    chosen = budget.default_budget(max(n_songs, 1), warm_start)
    return dataclasses.replace(
        options,
        epochs=options.epochs or chosen.epochs,
        examples_per_song=options.examples_per_song or chosen.examples_per_song,
        precision=precision.resolve(options.precision),
    )


def _ensure_room_for_results(library: Library, data: Datasets, model: Any) -> None:
    """Before the first epoch: is there room for the epoch checkpoints and the saved bundle?
    Better to say so now than after the whole run. A checkpoint holds the current and the best
    weights, and for a moment the previous checkpoint's file exists beside the new one."""
    seconds = sum(song.duration for song in data.songs)
    checkpoints = 2 * 2 * 4 * int(model.count_params())
    needed = checkpoints + bundle_bytes(model) + int(seconds * INDEX_BYTES_PER_SECOND)
    diskspace.ensure_free_space(library.root, needed, doing="saving this training run's checkpoints and model")


def evaluate_windows(model: Any, data: Datasets) -> dict[str, float]:
    """Song metrics on the songs' validation windows, and the verdict threshold calibrated
    between those and the held-out "not in your library" windows."""
    probabilities = _predict(model, data.validation)
    labels = data.validation.labels
    is_song = labels != data.unknown_class
    n_songs = len(data.songs)
    metrics = classification_metrics(probabilities[is_song][:, :n_songs], labels[is_song])
    top_song = probabilities[:, :n_songs].max(axis=1)
    beats_unknown = top_song > probabilities[:, n_songs]
    calibration = calibrate_threshold(top_song[is_song & beats_unknown], top_song[~is_song & beats_unknown])
    accepted = beats_unknown & (top_song >= calibration["threshold"])
    metrics.update(calibration)
    metrics["unknown_rejected"] = float(np.mean(~accepted[~is_song]))
    metrics["songs_accepted"] = float(np.mean(accepted[is_song]))
    return metrics


class WindowBatches:
    """Shuffled batches of (window, label) read from the memory-mapped set, one batch in RAM."""

    def __init__(self, windows: WindowSet, batch_size: int, seed: int) -> None:
        self.set = windows
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(windows))

    def __len__(self) -> int:
        return math.ceil(len(self.set) / self.batch_size)

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        x = np.asarray(self.set.windows[rows], dtype=np.float32)[..., np.newaxis]
        return x, self.set.labels[rows]

    def reshuffle(self) -> None:
        self.order = self.rng.permutation(len(self.set))


@dataclass
class Fitted:
    model: Any
    """The network with the best validation epoch's weights, computing in float32."""
    history: dict[str, list[float]]
    best_epoch: int
    widened_from: Optional[str] = None
    kept_songs: int = 0


def fit(
    data: Datasets, options: TrainOptions, settings: FeatureSettings, report: ProgressCallback, should_stop: ShouldStopFn,
    checkpointer: Optional[Checkpointer] = None, room_for: Optional[Callable[[Any], None]] = None,
    start_from: Optional[Path] = None,
) -> Fitted:
    """A plain loop over ``train_on_batch``: cancellable every batch, no Keras generator threads.
    ``options`` must be resolved (``resolved_options``). ``room_for(model)`` may refuse
    (``StorageError``) before the first batch; ``start_from`` is a bundle to widen
    (``training.widen``), used when it loads and shares songs with ``data``, else from scratch."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    chosen = distribute.strategy()  # before anything else runs in TensorFlow
    import keras

    assert options.epochs and options.examples_per_song, "fit() needs resolved options"
    keras.utils.set_random_seed(options.seed)

    def build() -> Any:
        return build_model(options.arch, data.n_classes, settings)

    learning_rate, widened_from, kept = options.learning_rate, None, 0
    with chosen.scope():
        with precision.policy(options.precision):
            model = build()
        if start_from is not None:
            kept = _widen_into(model, start_from, settings, [song.id for song in data.songs])
            if kept:
                widened_from, learning_rate = start_from.name, options.learning_rate * FINE_TUNE_LEARNING_RATE
        if room_for is not None:
            room_for(model)
        batches = WindowBatches(data.train, options.batch_size, options.seed)
        total_steps = max(1, len(batches) * options.epochs)
        schedule = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=total_steps, alpha=0.05, warmup_target=None
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    replicas = distribute.Steps(chosen, model)
    start = checkpointer.restore(model, batches) if checkpointer else ResumePoint()
    history = start.history
    best_weights, best_accuracy, best_epoch = start.best_weights, start.best_accuracy, start.best_epoch
    started = time.monotonic()
    steps_done = first_step = start.steps_done
    where = f"Training on {distribute.describe(chosen)}"
    if options.precision == precision.MIXED_BFLOAT16:
        where += ", bfloat16"
    if widened_from:
        where += f", from {widened_from} ({kept} of {len(data.songs)} songs kept)"
    if start.epoch:
        report(TrainProgress("training", steps_done / total_steps, checkpointer.notice, start.epoch, options.epochs))
    else:  # where and how this run trains, before its first batch
        report(TrainProgress("training", 0.0, where, 1, options.epochs, 0, len(batches)))
    for epoch in range(start.epoch + 1, options.epochs + 1):
        model.reset_metrics()
        loss = accuracy = float("nan")
        for index in range(len(batches)):
            if should_stop():
                raise TrainingCancelled("training was cancelled; the previous model is still in use")
            x, y = batches.batch(index)
            result = replicas.train_on_batch(x, y)
            loss, accuracy = float(result["loss"]), float(result["accuracy"])
            steps_done += 1
            rate = (time.monotonic() - started) / (steps_done - first_step)
            report(TrainProgress(
                "training", steps_done / total_steps, f"Epoch {epoch}/{options.epochs}, batch {index + 1}/{len(batches)}",
                epoch, options.epochs, index + 1, len(batches), loss, accuracy,
                history["val_accuracy"][-1] if history["val_accuracy"] else float("nan"),
                rate * (total_steps - steps_done),
            ))
        batches.reshuffle()
        _refreshed_statistics(model, batches, should_stop)
        val_probs = _predict(model, data.validation, direct=replicas.many)
        val_accuracy = float(np.mean(val_probs.argmax(axis=1) == data.validation.labels))
        for key, value in (("loss", loss), ("accuracy", accuracy), ("val_accuracy", val_accuracy)):
            history[key].append(value)
        if val_accuracy > best_accuracy:
            best_weights, best_accuracy, best_epoch = model.get_weights(), val_accuracy, epoch
        if checkpointer:
            point = ResumePoint(epoch, steps_done, history, best_epoch, best_accuracy, best_weights)
            checkpointer.save(model, batches, point)
        report(TrainProgress(
            "training", steps_done / total_steps, f"Epoch {epoch}/{options.epochs}: validation accuracy {val_accuracy:.1%}",
            epoch, options.epochs, len(batches), len(batches), loss, accuracy, val_accuracy,
            (time.monotonic() - started) / max(steps_done - first_step, 1) * (total_steps - steps_done), epoch_end=True,
        ))
    if best_weights is not None:
        model.set_weights(best_weights)
    return Fitted(_single_device_float32(model, build, replicas.many), history, best_epoch, widened_from, kept)


def _widen_into(model: Any, bundle: Path, settings: FeatureSettings, song_ids: list[str]) -> int:
    """Start ``model`` from ``bundle``'s weights; 0 (and a fresh start) when that is impossible."""
    from musicid_core.errors import ModelError

    try:
        return widen.widen(widen.load_previous(bundle, settings), model, song_ids)
    except ModelError as exc:
        log.warning("training from scratch: %s cannot be widened (%s)", bundle.name, exc)
        return 0


def _single_device_float32(model: Any, build: Callable[[], Any], distributed: bool) -> Any:
    """What evaluation and the bundle get: a float32 network outside any strategy, so recognition
    (Keras or LiteRT) computes exactly what was calibrated."""
    if not distributed:
        return precision.float32_copy(model, build)
    with precision.policy(precision.FLOAT32):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy


def _refreshed_statistics(model: Any, batches: "WindowBatches", should_stop: ShouldStopFn) -> None:
    """Re-estimate BatchNorm statistics for the final weights (see ``training.batchnorm``)."""
    batches.reshuffle()
    refresh_batchnorm(model, (batches.batch(i)[0] for i in range(len(batches))), should_stop=should_stop)


def _predict_array(model: Any, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Probabilities of the windows ``x`` (n, mels, frames, 1)."""
    outputs = [np.asarray(model.predict_on_batch(x[start : start + batch_size]), dtype=np.float32)
               for start in range(0, len(x), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)


def _predict(model: Any, windows: WindowSet, batch_size: int = 128, direct: bool = False) -> np.ndarray:
    """Probabilities of every window. ``direct``: call the network itself, outside the strategy
    (a distributed ``predict_on_batch`` would return one copy of the batch per replica)."""
    outputs = []
    for start in range(0, len(windows), batch_size):
        x = np.asarray(windows.windows[start : start + batch_size], dtype=np.float32)[..., np.newaxis]
        outputs.append(np.asarray(model(x, training=False) if direct else model.predict_on_batch(x), dtype=np.float32))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)
