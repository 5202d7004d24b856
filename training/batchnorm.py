"""Re-estimate BatchNorm statistics after training.

Keras' BatchNormalization keeps moving averages with momentum 0.99: after a few hundred steps
(a small library, or a short run) they still remember their initial values, and the model that
was 90 % right in training mode is near chance in inference mode. Running some training batches
forward with a faster momentum, without touching the weights, makes inference statistics match
the trained weights whatever the run length.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np


def batchnorm_layers(model: Any) -> list[Any]:
    import keras

    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def refresh_batchnorm(model: Any, batches: Iterator[np.ndarray], steps: int = 40, momentum: float = 0.8,
                      should_stop: Callable[[], bool] = lambda: False) -> int:
    """Forward ``steps`` batches in training mode with ``momentum``; returns the batches used."""
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    saved = [layer.momentum for layer in layers]
    used = 0
    try:
        for layer in layers:
            layer.momentum = momentum
        for x in batches:
            if used >= steps or should_stop():
                break
            model(x, training=True)
            used += 1
    finally:
        for layer, value in zip(layers, saved):
            layer.momentum = value
    return used
