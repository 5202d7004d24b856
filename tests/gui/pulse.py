"""A private PulseAudio server with a null sink whose monitor is the default source.

Whatever ``paplay`` plays into the sink is what a program recording from the default input
hears: a loopback microphone for end-to-end tests and screenshots. Runs as root too (the
server warns but works with ``--system=false`` and a private runtime dir).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

SINK = "musicid_test"


def available() -> str | None:
    """None if PulseAudio can be used, else the reason it cannot."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install pulseaudio pulseaudio-utils)"
    return None


class PulseServer:
    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "PULSE_SERVER": f"unix:{runtime_dir}/pulse/native"}

    def start(self) -> "PulseServer":
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.chmod(0o700)
        subprocess.run(
            ["pulseaudio", "-D", "--exit-idle-time=-1", "--system=false", "-n", "--daemonize=yes",
             "--load=module-native-protocol-unix", f"--load=module-null-sink sink_name={SINK}"],
            env=self.env, check=True, capture_output=True, timeout=30,
        )
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("PulseAudio did not start")
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-sink", SINK], env=self.env, check=True)
        subprocess.run(["pactl", "set-default-source", f"{SINK}.monitor"], env=self.env, check=True)
        return self

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", str(wav)], env=self.env)

    def stop(self) -> None:
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True, timeout=30)
