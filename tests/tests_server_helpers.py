"""Small helpers shared by the phone-server tests (API, GUI, browser)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
import synth


def wav_bytes(audio: np.ndarray, sr: int = synth.SR, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()
