"""Where training runs: one device, every local GPU, or a cluster of workers (``tf.distribute``).

- No flags are needed for a GPU: TensorFlow places the network on the first GPU it sees.
- Several local GPUs: ``MirroredStrategy`` keeps a copy of the network on each and averages
  their gradients; each batch is split between them.
- A cluster: when ``TF_CONFIG`` names more than one task, ``MultiWorkerMirroredStrategy``
  (see docs/training-at-scale.md). Every worker builds the same dataset (it is seeded) and
  fits its own share of each epoch's batches (``shard``); only the chief saves checkpoints and the
  bundle, as TensorFlow's multi-worker guide asks.

The strategy must exist before TensorFlow runs anything else, so ``strategy()`` is the first thing
the fitting stage calls.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any


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
