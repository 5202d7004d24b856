"""Finding "this computer's sound": pactl's monitors, loopback names, choosing by name."""

from __future__ import annotations

import os

import pytest

from musicid_core.audio.capture import COMPUTER, CaptureError, InputDevice, choose_device
from musicid_core.audio.sources import is_loopback_name, monitor_label, parse_pactl_sources, pulse_source_env

PACTL = """Source #0
\tState: SUSPENDED
\tName: alsa_output.pci-0000_00_1f.3.analog-stereo.monitor
\tDescription: Monitor of Built-in Audio Analog Stereo
\tMonitor of Sink: alsa_output.pci-0000_00_1f.3.analog-stereo
Source #1
\tState: RUNNING
\tName: alsa_input.pci-0000_00_1f.3.analog-stereo
\tDescription: Built-in Audio Analog Stereo
\tMonitor of Sink: n/a
"""


def test_monitors_are_found_and_microphones_are_not() -> None:
    found = parse_pactl_sources(PACTL)
    assert found == [("alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", "Monitor of Built-in Audio Analog Stereo")]
    assert monitor_label(found[0][1]) == "This computer's sound (Built-in Audio Analog Stereo)"


def test_loopback_inputs_by_platform() -> None:
    assert is_loopback_name("Speakers (Realtek) [Loopback]", "Windows WASAPI")
    assert not is_loopback_name("Speakers (Realtek) [Loopback]", "MME")
    assert is_loopback_name("BlackHole 2ch", "Core Audio")
    assert not is_loopback_name("MacBook Pro Microphone", "Core Audio")


def test_pulse_source_is_set_only_while_opening() -> None:
    before = os.environ.get("PULSE_SOURCE")
    with pulse_source_env("x.monitor"):
        assert os.environ["PULSE_SOURCE"] == "x.monitor"
    assert os.environ.get("PULSE_SOURCE") == before


def test_choose_device_by_name_part_or_source() -> None:
    devices = [InputDevice(0, "USB microphone", 1, 48000.0, True),
               InputDevice(1, "This computer's sound (Built-in)", 2, 44100.0, kind=COMPUTER, pulse_source="a.monitor")]
    assert choose_device("computer", devices) is devices[1]
    assert choose_device("a.monitor", devices) is devices[1]
    assert choose_device("USB microphone", devices) is devices[0]
    with pytest.raises(CaptureError, match="not an input device"):
        choose_device("headset", devices)
