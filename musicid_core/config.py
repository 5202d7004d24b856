"""The one place where feature and window constants live.

Training, recognition and the GUI's live spectrogram all read these, and a model bundle stores
them; loading a bundle made with other values is refused (see ``models.store``), so features can
never silently drift between training and recognition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SAMPLE_RATE = 22050
N_FFT = 2048
N_MELS = 128
HOP_LENGTH = 431
WINDOW_FRAMES = 256
STEP_FRAMES = 51
TOP_DB = 80.0
MIN_RECORDING_SECONDS = 3.0
"""Shortest recording answered. The landmarks and tonal profiles need no network window, and a
recording shorter than one window is looped to fill it (``features.recording_windows``). Shorter
recordings are refused: recognition was measured from 3 s on (``benchmarks/short.py``), not below."""


@dataclass(frozen=True)
class FeatureSettings:
    """Log-mel settings of the method: 128 mels, hop 431, 256-frame (~5 s) windows."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = N_FFT
    n_mels: int = N_MELS
    hop_length: int = HOP_LENGTH
    window_frames: int = WINDOW_FRAMES
    step_frames: int = STEP_FRAMES
    top_db: float = TOP_DB

    @property
    def window_samples(self) -> int:
        """Fewest samples that give one full window (librosa frames are centred)."""
        return (self.window_frames - 1) * self.hop_length

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    @property
    def min_recording_samples(self) -> int:
        """Fewest samples of a recording that is answered (``MIN_RECORDING_SECONDS``)."""
        return int(round(MIN_RECORDING_SECONDS * self.sample_rate))

    @property
    def fragment_samples(self) -> int:
        """Length of a training fragment (~5 s): mid-way in the range that gives exactly
        ``window_frames`` frames, so a fragment and a recognition window are the same thing."""
        return self.window_samples + self.hop_length // 2  # 110,120 samples = 4.99 s

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.n_mels, self.window_frames, 1)

    def frames_for(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length

    def window_count(self, n_samples: int) -> int:
        """How many windows the network scores for a recording of ``n_samples`` samples: the sliding
        windows, or the one looped window of a recording shorter than a window; 0 if too short."""
        if n_samples < self.min_recording_samples:
            return 0
        frames = self.frames_for(n_samples)
        if frames < self.window_frames:
            return 1
        return 1 + (frames - self.window_frames) // self.step_frames

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureSettings":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


DEFAULT_FEATURES = FeatureSettings()
