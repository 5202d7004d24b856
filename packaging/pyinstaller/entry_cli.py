"""PyInstaller entry point of the command line (``musicid``), shipped in the same folder so the
frozen build can be checked without a display (``musicid demo --identify``)."""

import sys

from musicid_cli.main import main

if __name__ == "__main__":
    sys.exit(main())
