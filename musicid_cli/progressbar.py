"""A terminal progress bar (tqdm) that degrades to occasional plain lines when not on a TTY."""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType
from typing import Any, Callable, Optional


class ProgressBar:
    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._last_line = 0.0
        self._stage = ""

    def __enter__(self) -> "ProgressBar":
        if self.tty:
            from tqdm import tqdm

            self._bar = tqdm(total=1000, desc=self.label, unit="‰", leave=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")
        return self

    def __exit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, fraction: float, message: str) -> None:
        if self._bar is not None:
            self._bar.n = int(1000 * max(0.0, min(1.0, fraction)))
            self._bar.set_postfix_str(message, refresh=True)
        elif time.monotonic() - self._last_line > 5 or fraction >= 1.0:
            self._last_line = time.monotonic()
            print(f"{self.label}: {fraction:4.0%} {message}", file=sys.stderr, flush=True)

    def train_update(self, report: Any) -> None:
        """Adapter for ``training.train.TrainProgress`` reports: one bar over all stages."""
        parts = [report.message]
        if not math.isnan(report.loss):
            parts.append(f"loss {report.loss:.3f} acc {report.accuracy:.1%}")
        if not math.isnan(report.val_accuracy):
            parts.append(f"val {report.val_accuracy:.1%}")
        if not math.isnan(report.eta_seconds):
            parts.append(f"ETA {int(report.eta_seconds // 60)}:{int(report.eta_seconds % 60):02d}")
        if self._bar is not None and report.stage != self._stage:
            self._stage = report.stage
            self._bar.set_description_str(f"{self.label} ({report.stage})")
        from training.stages import overall_fraction

        self.update(overall_fraction(report.stage, report.fraction), ", ".join(parts))


def occasional_lines(label: str) -> Callable[[float, str], None]:
    """Progress as a plain stderr line every few seconds, never a bar: for work that usually has
    nothing to report (loading the recogniser analyses songs only after an upgrade or an import
    made elsewhere), where an empty bar on every run would be noise."""
    lines = ProgressBar(label)  # not entered: no tqdm bar, only the throttled lines
    return lines.update
