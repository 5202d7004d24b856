"""The core and training must not depend on Qt (they serve the CLI and tests headless)."""

import subprocess
import sys


def test_core_and_training_do_not_import_pyside6() -> None:
    code = (
        "import sys, musicid_core.library, musicid_core.recognizer, musicid_core.features, "
        "training.train, training.dataset, musicid_cli.main; "
        "assert 'PySide6' not in sys.modules, 'PySide6 imported'; "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported at module level'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
