"""Opens a data folder (which migrates its catalogue.json) in a child process, for the kill tests.

Usage: migrate_driver.py DATA_DIR KILL_AT

KILL_AT = k > 0: the process SIGKILLs itself just before its k-th rename or fsync (every step
of the migration that makes something durable). KILL_AT = 0: no kill; prints ``STEPS <n>``,
the number of such steps, ``SECONDS <s>`` the opening took, and ``SONGS <n>``. KILL_AT = -1:
prints ``READY`` just before opening, for a parent that kills at a random time.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main() -> int:
    root, kill_at = sys.argv[1], int(sys.argv[2])
    from musicid_core.library import Library

    steps = 0

    def step(original):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal steps
            steps += 1
            if steps == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)

        return wrapper

    os.replace, os.fsync = step(os.replace), step(os.fsync)
    if kill_at < 0:
        print("READY", flush=True)
    started = time.monotonic()
    library = Library(root)
    print(f"SECONDS {time.monotonic() - started:.3f}", flush=True)
    print(f"STEPS {steps}", flush=True)
    print(f"SONGS {len(library.songs())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
