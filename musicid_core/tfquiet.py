"""Import TensorFlow without its start-up chatter on the terminal.

TensorFlow's C++ runtime prints CUDA-probing and absl lines to file descriptor 2 while it
loads, which ``TF_CPP_MIN_LOG_LEVEL`` does not fully silence; a person running ``musicid``
should see their results, not that. We point fd 2 at /dev/null for the duration of the import
only (as basic-pitch's ``no_tf_warnings`` does for Python warnings).
"""

from __future__ import annotations

import os
import sys
import warnings


def load_tensorflow() -> None:
    """Import TensorFlow and Keras once, quietly. Later imports are free."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr (a frozen GUI app): nothing to silence
        saved = -1
    try:
        if saved >= 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import keras  # noqa: F401
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
