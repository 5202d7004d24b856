"""Runtime hook: make ``sounddevice`` load the PortAudio bundled with the app.

On Linux ``sounddevice`` looks PortAudio up with ``ctypes.util.find_library("portaudio")``, which
asks the system (ldconfig) and so finds nothing on a machine without libportaudio2, even though
the build ships ``libportaudio.so.2`` next to the code. Answer that one lookup from the bundle;
every other lookup goes to the original function. (Windows/macOS wheels carry their own
PortAudio in ``_sounddevice_data``, which the stock hook already collects.)"""

import ctypes.util
import glob
import os
import sys

_original_find_library = ctypes.util.find_library


def _find_library(name):  # noqa: ANN001, ANN202 - same signature as ctypes.util.find_library
    if name == "portaudio":
        base = getattr(sys, "_MEIPASS", "")
        for pattern in ("libportaudio.so*", "libportaudio*.dylib"):
            hits = sorted(glob.glob(os.path.join(base, pattern)))
            if hits:
                return hits[0]
    return _original_find_library(name)


ctypes.util.find_library = _find_library
