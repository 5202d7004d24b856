"""The command line with every free-space estimate switched off, for the disk-full tests.

Usage: nospace_driver.py MUSICID-ARGUMENTS...

With ``diskspace.ensure_free_space`` a no-op, nothing is refused early: the writes themselves
meet the full or read-only disk, as when another program fills it after the check. What is
left to test is that the failure still becomes a sentence, leaves nothing behind and never
kills the process with SIGBUS.
"""

from __future__ import annotations

import sys

from musicid_core import diskspace
from musicid_cli.main import main


def _no_check(folder: object, needed_bytes: int, doing: str) -> None:
    """The estimate is skipped; the write decides."""


if __name__ == "__main__":
    diskspace.ensure_free_space = _no_check  # type: ignore[assignment]
    sys.exit(main(sys.argv[1:]))
