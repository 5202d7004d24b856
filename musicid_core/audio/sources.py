"""Where "this computer's sound" can be recorded from, per platform (no Qt).

- Linux (PulseAudio, or PipeWire with its PulseAudio server): every output ("sink") has a
  *monitor* source that hears what it plays. PortAudio sees only ALSA's ``pulse`` device, which
  records from the default source; the source it opens is chosen by the ``PULSE_SOURCE``
  environment variable, which libpulse reads when the stream is opened. The monitors are found
  with ``pactl list sources`` (pulseaudio-utils; pipewire-pulse ships the same tool).
- Windows: PortAudio builds with WASAPI loopback list each output once more as an input whose
  name ends in "[Loopback]"; those are offered. A build without it offers none (not testable here).
- macOS has no loopback of its own: a loopback driver (BlackHole, Loopback, Soundflower) shows up
  as an input device and is offered as this computer's sound (docs/gui.md says how to set it up).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
from typing import Iterator

log = logging.getLogger(__name__)
COMPUTER_PREFIX = "This computer's sound"
LOOPBACK_DRIVERS = ("blackhole", "soundflower", "loopback audio")
PULSE_DEVICE = "pulse"
_env_lock = threading.Lock()


def pulse_monitors(timeout: float = 3.0) -> list[tuple[str, str]]:
    """(source name, description) of every PulseAudio/PipeWire monitor source; [] without pactl."""
    if shutil.which("pactl") is None:
        return []
    try:
        done = subprocess.run(["pactl", "list", "sources"], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("pactl could not list sources: %s", exc)
        return []
    if done.returncode != 0:
        return []
    return parse_pactl_sources(done.stdout)


def parse_pactl_sources(text: str) -> list[tuple[str, str]]:
    """Monitors in ``pactl list sources`` output (LC_ALL=C)."""
    found: list[tuple[str, str]] = []
    name = description = ""
    monitor = False

    def flush() -> None:
        if name and (monitor or name.endswith(".monitor")):
            found.append((name, description or name))

    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("Source #"):
            flush()
            name, description, monitor = "", "", False
        elif line.startswith("Name: "):
            name = line[6:].strip()
        elif line.startswith("Description: "):
            description = line[13:].strip()
        elif line.startswith("Monitor of Sink: ") and line[17:].strip() not in ("", "n/a"):
            monitor = True
    flush()
    return found


def monitor_label(description: str) -> str:
    """'Monitor of Built-in Audio' -> "This computer's sound (Built-in Audio)"."""
    plain = description[len("Monitor of "):] if description.startswith("Monitor of ") else description
    return f"{COMPUTER_PREFIX} ({plain})"


def is_loopback_name(name: str, host_api: str) -> bool:
    """A PortAudio input that records an output: WASAPI loopback or a macOS loopback driver."""
    lowered = name.lower()
    if "wasapi" in host_api.lower() and "[loopback]" in lowered:
        return True
    return any(driver in lowered for driver in LOOPBACK_DRIVERS)


@contextlib.contextmanager
def pulse_source_env(source: str) -> Iterator[None]:
    """``PULSE_SOURCE=source`` while a stream is opened (libpulse reads it then), restored after."""
    if not source:
        yield
        return
    with _env_lock:
        before = os.environ.get("PULSE_SOURCE")
        os.environ["PULSE_SOURCE"] = source
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("PULSE_SOURCE", None)
            else:
                os.environ["PULSE_SOURCE"] = before
