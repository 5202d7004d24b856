"""Running the trained network for recognition: LiteRT when the bundle has it, Keras otherwise.

TensorFlow is what trains the network, but a recognising process (``musicid identify``, the app)
only runs it forwards. Training therefore also writes the network as a LiteRT flatbuffer
(``model.tflite``, converted by TensorFlow's own ``TFLiteConverter``) into the bundle, and
recognition runs that file with the ``ai-edge-litert`` interpreter, which does not import
TensorFlow: the process starts in a fraction of a second and in tens of MB instead of ~4 s and
~0.7 GB (``benchmarks/runtime.py``). Its probabilities match Keras' to about 1e-6 and rank
identically. The interpreter is not traced, so the first-trace crash of issue 13 (below) cannot
happen on that path at all.

Bundles without the file (trained before it existed), or a machine without ``ai-edge-litert``,
use Keras through one ``tf.function`` traced once (``keras_predictor``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LITE_FILE = "model.tflite"
Predict = Callable[[np.ndarray], np.ndarray]
"""(n_windows, n_mels, frames, 1) float32 windows -> (n_windows, n_outputs) probabilities."""


def convert_to_lite(model: Any) -> bytes:
    """The Keras model as a LiteRT flatbuffer (float32, no quantisation: answers must not change).

    TensorFlow's converter logs to file descriptor 2 and Keras' export prints the model's
    signature; both are silenced for the conversion only, as ``tfquiet`` does for the import."""
    import tensorflow as tf

    with _quiet_stderr(), contextlib.redirect_stdout(io.StringIO()):
        return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def lite_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


class LitePredictor:
    """One LiteRT interpreter over ``model.tflite``. Calls are serialised (an interpreter holds its
    tensors between ``set_tensor`` and ``get_tensor``), and the input is resized only when the
    number of windows changes."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        # The first allocation creates the XNNPACK delegate, which announces itself on fd 2 ("INFO:
        # Created TensorFlow Lite XNNPACK delegate"); a person running ``musicid`` sees results only.
        with _quiet_stderr():
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads or min(4, os.cpu_count() or 1))
            self._input = self._interpreter.get_input_details()[0]
            self._output = self._interpreter.get_output_details()[0]
            self._interpreter.resize_tensor_input(self._input["index"], (1, *self.input_shape))
            self._interpreter.allocate_tensors()
        self._batch = 1
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Without the batch axis, like Keras' ``model.input_shape[1:]``."""
        return tuple(int(d) for d in self._input["shape_signature"][1:])

    @property
    def outputs(self) -> int:
        return int(self._output["shape_signature"][-1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            if x.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input["index"], x.shape)
                self._interpreter.allocate_tensors()
                self._batch = x.shape[0]
            self._interpreter.set_tensor(self._input["index"], x)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output["index"]))


def keras_predictor(model: Any, window_shape: tuple[int, int]) -> Predict:
    """A traced inference function: Keras' eager ``model(x)`` costs tens of ms per call on a CPU,
    more than the arithmetic for a 10 s recording.

    The signature is fixed (any number of windows of one shape), so the function is traced exactly
    once, by ``Recognizer.__init__``, and never again while audio streams in. That is the fix for a
    crash: the app died (SIGSEGV in libc, or "take_gil: PyMUTEX_LOCK failed") whenever the first
    trace ran on the recognition worker while a capture thread delivered audio (the real PortAudio
    stream, or a plain Python thread calling the same callback), and never when the trace had
    happened before the stream opened (``tests/gui/test_cold_listen.py``)."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *window_shape, 1), tf.float32)

    @tf.function(input_signature=[spec])
    def predict(x: Any) -> Any:
        return model(x, training=False)

    return lambda x: predict(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()


@contextlib.contextmanager
def _quiet_stderr() -> Any:
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
