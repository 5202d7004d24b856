"""bfloat16 where the CPU has it (training.precision); the saved network is float32 either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.precision import cpu_has_bf16, float32_copy, policy, resolve


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: fpu sse2 {flags}\n\n")
    return path


def test_bf16_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    assert cpu_has_bf16(_cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert cpu_has_bf16(_cpuinfo(tmp_path, "amx_bf16 amx_tile"))
    assert not cpu_has_bf16(_cpuinfo(tmp_path, "avx2 avx512f"))
    assert not cpu_has_bf16(tmp_path / "missing")


def test_auto_never_picks_bf16_with_a_gpu_and_explicit_choices_stand() -> None:
    assert resolve("auto", has_gpu=True) == "float32"
    assert resolve("auto", has_gpu=False) == ("mixed_bfloat16" if cpu_has_bf16() else "float32")
    assert resolve("float32") == "float32" and resolve("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="unknown precision"):
        resolve("float16")


def test_a_bfloat16_network_is_saved_as_float32_with_the_same_weights() -> None:
    import keras

    from musicid_core.models.architectures import build_model

    with policy("mixed_bfloat16"):
        mixed = build_model("tiny", 3)
    assert keras.mixed_precision.global_policy().name == "float32"  # the policy does not leak
    assert mixed.dtype_policy.name == "mixed_bfloat16" and mixed.output.dtype == "float32"
    copy = float32_copy(mixed, lambda: build_model("tiny", 3))
    assert copy.dtype_policy.name == "float32"
    for a, b in zip(mixed.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).uniform(-80, 0, (2, 128, 256, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(mixed(x)), atol=0.05)
    plain = build_model("tiny", 3)
    assert float32_copy(plain, lambda: build_model("tiny", 3)) is plain
