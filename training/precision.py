"""Numeric precision of training: bfloat16 where the CPU computes it natively.

``mixed_bfloat16`` computes the layers in bfloat16 and keeps the weights in float32. On a CPU
with AVX512-BF16 or AMX it measured faster than float32 at the same accuracy (figures in
docs/training-at-scale.md and ``python -m benchmarks.training_budget``); on other CPUs bfloat16 is
emulated and slower, and on a GPU the float32 default is kept (not measured here). The
saved bundle is always float32 (``float32_copy``): recognition, LiteRT conversion and the
calibrated thresholds never see bfloat16.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

AUTO, FLOAT32, MIXED_BFLOAT16 = "auto", "float32", "mixed_bfloat16"
CHOICES = (AUTO, FLOAT32, MIXED_BFLOAT16)
BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU reports native bfloat16 arithmetic (Linux; False where unknown)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(BF16_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


def resolve(choice: str, has_gpu: bool | None = None) -> str:
    """The policy a run uses for ``choice`` ("auto": bfloat16 on a bf16 CPU without a GPU)."""
    if choice not in CHOICES:
        raise ValueError(f"unknown precision {choice!r}; choose one of {', '.join(CHOICES)}")
    if choice != AUTO:
        return choice
    if has_gpu is None:
        import tensorflow as tf

        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    return MIXED_BFLOAT16 if not has_gpu and cpu_has_bf16() else FLOAT32


@contextlib.contextmanager
def policy(name: str) -> Iterator[None]:
    """Build layers under dtype policy ``name``; layers keep the policy they were built with, so
    the global one is restored at once and nothing else in the process is affected."""
    import keras

    saved = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(saved)


def float32_copy(model: Any, build: Any) -> Any:
    """``model`` itself if it computes in float32, else a float32 build (``build()``) with its weights."""
    if getattr(model.dtype_policy, "name", FLOAT32) == FLOAT32:
        return model
    with policy(FLOAT32):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy
