"""Where training runs: one device, every local GPU, or a cluster of workers (``tf.distribute``).

- No flags are needed for a GPU: TensorFlow places the network on the first GPU it sees.
- Several local GPUs: ``MirroredStrategy`` keeps a copy of the network on each and averages
  their gradients; each batch is split between them.
- A cluster: when ``TF_CONFIG`` names more than one task, ``MultiWorkerMirroredStrategy``
  (see docs/training-at-scale.md). Every worker builds the same dataset (it is seeded) and reads
  the same batches; each replica fits its own rows of each batch (``Steps``). Only the chief
  evaluates and saves (checkpoints, the bundle), as TensorFlow's multi-worker guide asks.

The strategy must exist before TensorFlow runs anything else, so ``strategy()`` is the first thing
the fitting stage calls.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Cluster:
    """This process's place among the workers (index 0 of 1 when training alone)."""

    index: int = 0
    count: int = 1

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def cluster() -> Cluster:
    """Read ``TF_CONFIG``: the chief (or worker 0 when there is no chief) is index 0."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return Cluster()
    config = json.loads(raw)
    spec = config.get("cluster", {})
    task = config.get("task", {})
    order = [("chief", i) for i in range(len(spec.get("chief", [])))]
    order += [("worker", i) for i in range(len(spec.get("worker", [])))]
    if len(order) <= 1:
        return Cluster()
    me = (task.get("type", "worker"), int(task.get("index", 0)))
    if me not in order:
        raise ValueError(f"TF_CONFIG's task {me} is not a chief or worker of its cluster")
    return Cluster(order.index(me), len(order))


def strategy() -> Any:
    """MultiWorkerMirroredStrategy for a cluster, MirroredStrategy for several GPUs, otherwise
    TensorFlow's default (one device: the GPU when there is one, else the CPU)."""
    import tensorflow as tf

    if cluster().count > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def describe(chosen: Any) -> str:
    """A few words for the progress line: where this run trains."""
    import tensorflow as tf

    if isinstance(chosen, tf.distribute.MultiWorkerMirroredStrategy):
        here = cluster()
        return f"worker {here.index + 1} of {here.count}, {chosen.num_replicas_in_sync} replicas"
    if isinstance(chosen, tf.distribute.MirroredStrategy):
        return f"{chosen.num_replicas_in_sync} GPUs"
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


class Steps:
    """One training step at a time, the same way whatever the strategy.

    With one replica this is Keras' ``train_on_batch``. With several, Keras 3's own step cannot
    be used: it cannot take per-replica inputs, and under MultiWorkerMirroredStrategy it fails to
    reduce its scalar metrics ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388). So each replica runs the same computation as Keras' step (sparse
    categorical cross-entropy, loss scaled by 1/replicas, the model's optimizer, which sums the
    gradients across replicas) on its rows of the batch, in one ``tf.function``."""

    def __init__(self, strategy: Any, model: Any) -> None:
        self.strategy = strategy
        self.model = model
        self.count = int(strategy.num_replicas_in_sync)
        self.many = self.count > 1
        self._step: Any = None

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Fit one batch; its loss and accuracy."""
        if not self.many:
            result = self.model.train_on_batch(x, y, return_dict=True)
            return {"loss": float(result["loss"]), "accuracy": float(result["accuracy"])}
        if self._step is None:
            self._step = self._make_step()
        loss, correct = self._step(self._split(x), self._split(y.astype(np.int64)))
        return {"loss": float(loss), "accuracy": float(correct) / len(y)}

    def _split(self, array: np.ndarray) -> Any:
        return self.strategy.experimental_distribute_values_from_function(
            lambda context: array[context.replica_id_in_sync_group :: self.count]
        )

    def _make_step(self) -> Any:
        import keras
        import tensorflow as tf

        model, strategy, count = self.model, self.strategy, self.count
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)

        def replica_step(x: Any, y: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                probabilities = model(x, training=True)
                losses = keras.losses.sparse_categorical_crossentropy(y, probabilities)
                loss = tf.reduce_mean(tf.cast(losses, tf.float32)) / count
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            hits = tf.cast(tf.equal(tf.argmax(probabilities, axis=-1), y), tf.float32)
            return loss, tf.reduce_sum(hits)

        @tf.function
        def step(x: Any, y: Any) -> tuple[Any, Any]:
            loss, correct = strategy.run(replica_step, args=(x, y))
            return strategy.reduce("SUM", loss, axis=None), strategy.reduce("SUM", correct, axis=None)

        return step
