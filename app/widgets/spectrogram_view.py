"""The live scrolling log-mel spectrogram: exactly what the model would see.

``LiveMel`` (numpy only) turns the microphone stream into mel columns with the model's own
``features.mel_power`` and settings, frame-aligned as if the whole recording had been analysed at
once (centred frames, zero padding before the start). The view keeps the last ``window_frames``
columns (~5 s, one model window) and shows them through ``features.to_db_window``: the same
per-window ``power_to_db(ref=max)`` the model's input gets.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app import theme
from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.features import mel_power, to_db_window

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
REFRESH_S = 0.1
COLOUR_MAP = "CET-L8"  # fixed (not themed): colours must mean the same thing in light and dark


_BLAS: list = []


def _one_blas_thread():  # type: ignore[no-untyped-def]
    """A single BLAS thread for the display's small products: OpenBLAS's second thread
    busy-waits between calls, and ten calls a second kept most of a core busy while listening
    continuously on a loaded 2-core machine (benchmarks/listen_cost.py: 67 % -> see RESULTS.md)."""
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


class LiveMel:
    """Incremental mel power columns for a stream, identical to analysing it in one go."""

    def __init__(self, settings: FeatureSettings = DEFAULT_FEATURES) -> None:
        self.settings = settings
        half = settings.n_fft // 2
        self._lead_frames = math.ceil(half / settings.hop_length)
        self._lead = self._lead_frames * settings.hop_length
        self._pending = np.zeros(self._lead, dtype=np.float32)  # the zero padding before the start
        self.columns = np.zeros((settings.n_mels, settings.window_frames), dtype=np.float32)
        self.frames = 0

    def feed(self, samples: np.ndarray) -> int:
        """Add samples; returns how many new columns became complete."""
        s = self.settings
        self._pending = np.concatenate((self._pending, np.asarray(samples, dtype=np.float32)))
        usable = self._pending.size - self._lead - s.n_fft // 2
        if usable < 0:
            return 0
        n = usable // s.hop_length + 1
        segment = self._pending[: self._lead + (n - 1) * s.hop_length + s.n_fft // 2]
        with _one_blas_thread():
            new = mel_power(segment, s)[:, self._lead_frames : self._lead_frames + n]
        self._pending = self._pending[n * s.hop_length :]
        keep = s.window_frames
        self.columns = np.concatenate((self.columns, new), axis=1)[:, -keep:]
        self.frames += n
        return n

    def db(self) -> np.ndarray:
        """The visible window in dB (0 = its loudest cell, floor -top_db), as the model sees it."""
        if float(self.columns.max()) <= 1e-10:
            return np.full(self.columns.shape, -self.settings.top_db, dtype=np.float32)
        return to_db_window(self.columns, self.settings)


class SpectrogramView(QWidget):
    """pyqtgraph image of ``LiveMel``: time in seconds (−5…0) across, mel band up."""

    def __init__(self, settings: FeatureSettings = DEFAULT_FEATURES, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.mel = LiveMel(settings)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        seconds = settings.window_frames * settings.hop_length / settings.sample_rate
        self._rect = (-seconds, 0.0, seconds, float(settings.n_mels))
        self.plot.setLabel("bottom", "seconds ago")
        self.plot.setLabel("left", "mel band")
        self.plot.setXRange(-seconds, 0, padding=0)
        self.plot.setYRange(0, settings.n_mels, padding=0)
        colour_map = pg.colormap.get(COLOUR_MAP)
        self.image.setColorMap(colour_map)
        self.colour_bar = pg.ColorBarItem(values=(-settings.top_db, 0), colorMap=colour_map, label="dB", interactive=False)
        self.colour_bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(180)
        self.reset()
        self.restyle()
        theme.on_theme_changed(self.restyle, self)

    def restyle(self) -> None:
        background, foreground = theme.plot_colours()
        self.plot.setBackground(background)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)

    def reset(self) -> None:
        self.mel = LiveMel(self.settings)
        self._waiting: list[np.ndarray] = []
        self._waiting_samples = 0
        self.image.setImage(self.mel.db(), levels=(-self.settings.top_db, 0), autoLevels=False)
        # after setImage: the rect's scale is computed from the image size (before it, one pixel
        # would be stretched over the whole plot)
        self.image.setRect(*self._rect)

    def show_mel(self, mel: LiveMel) -> None:
        """Show columns computed elsewhere (a file's, analysed on a worker)."""
        self.mel = mel
        self.image.setImage(self.mel.db(), levels=(-self.settings.top_db, 0), autoLevels=False)
        self.image.setRect(*self._rect)

    def feed(self, samples: np.ndarray) -> None:
        """Add samples; the picture is redrawn every ``REFRESH_S`` of audio, not every 30-ms block:
        each analysis call has a fixed cost, and redrawing 33 times a second cost a fifth of a core
        while listening continuously (benchmarks/listen_cost.py)."""
        self._waiting.append(np.asarray(samples, dtype=np.float32))
        self._waiting_samples += samples.size
        if self._waiting_samples < REFRESH_S * self.settings.sample_rate:
            return
        block = np.concatenate(self._waiting)
        self._waiting, self._waiting_samples = [], 0
        if self.mel.feed(block):
            self.image.setImage(self.mel.db(), levels=(-self.settings.top_db, 0), autoLevels=False)
