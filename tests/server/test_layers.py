"""The server sits beside the CLI: it may use the core and training, never the GUI (``app``) or
Qt, and it imports TensorFlow only when a model is first needed."""

import subprocess
import sys


def test_the_server_imports_neither_qt_nor_the_app_nor_tensorflow() -> None:
    code = (
        "import sys, musicid_server.app, musicid_server.server, musicid_server.cli; "
        "assert 'PySide6' not in sys.modules, 'PySide6 imported'; "
        "assert 'app' not in sys.modules, 'the GUI package imported'; "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported at module level'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
