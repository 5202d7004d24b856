"""A screenshot of the Phone tab with its server running, for docs/screenshots/phone-tab.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/gui/make_phone_tab_screenshot.py

Installs the demo songs and model into a temporary data folder, starts the server from the tab
(on 127.0.0.1) and grabs the window. The pairing code shown is that folder's, thrown away after.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]
OUT = ROOT / "docs" / "screenshots" / "phone-tab.png"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="musicid-shot-") as folder:
        os.environ["MUSICID_DATA_DIR"] = str(Path(folder) / "data")
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(folder) / "config"))
        app = QApplication(sys.argv)
        app.setOrganizationName("MusicID-screenshots")
        from app import theme
        from app.main_window import MainWindow
        from app.settings import Settings
        from musicid_core.demo import install_demo
        from musicid_core.library import Library

        library = Library(Path(folder) / "data")
        install_demo(library)
        theme.apply_theme(app, "light")
        window = MainWindow(library, Settings())
        window.resize(900, 760)
        window.show()
        window.tabs.setCurrentWidget(window.phone_tab)
        window.phone_tab.start_button.click()
        deadline = time.monotonic() + 30
        while not window.phone_tab.running and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.05)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT))
        print("wrote", OUT)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
