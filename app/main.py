"""``musicid-gui``: parse arguments, set up logging and error handling, show the window.

The window appears before TensorFlow is imported; the model loads on a worker (STYLE P13).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from musicid_core import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicid-gui", description="MusicID desktop app")
    parser.add_argument("--version", action="version", version=f"musicid-gui {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (default: $MUSICID_DATA_DIR or the user data dir)")
    parser.add_argument("--log-dir", metavar="DIR", help="log folder (default: the user log dir)")
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="override the remembered appearance")
    parser.add_argument(
        "--no-crash-dialog", action="store_true", help="log unexpected errors without showing dialogs (CI, tests)"
    )
    parser.add_argument(
        "--quit-after", type=float, metavar="SECONDS", help="quit after this long (smoke tests of an installed build)"
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args, qt_args = build_parser().parse_known_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.errors import CrashHandler, show_error
    from app.logging_setup import setup_logging
    from app.settings import APPLICATION, ORGANIZATION, Settings
    from musicid_core.library import Library
    from musicid_core.paths import data_dir
    from musicid_core.resources import resources_dir

    log_file = setup_logging(Path(args.log_dir) if args.log_dir else None)
    log = logging.getLogger("musicid")
    crash = CrashHandler(log_file, dialogs=not args.no_crash_dialog)
    crash.install()

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("MusicID")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.musicid.MusicID")
    icon = resources_dir() / "icons" / "musicid.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    settings = Settings()
    chosen = args.theme or settings.theme()
    theme.apply_theme(app, chosen)
    theme.follow_system(app, settings.theme)

    try:
        library = Library(data_dir(args.data_dir))
    except Exception as exc:  # noqa: BLE001 - e.g. an unwritable data folder: say so and stop
        show_error(None, "MusicID cannot open its data folder", exc)
        return 1
    log.info("data folder %s, settings %s", library.root, settings.path)

    from app.main_window import MainWindow

    window = MainWindow(library, settings, log_file)
    window.show()
    QTimer.singleShot(0, window.offer_demo)
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), window.close)
    log.info("init finished")
    code = app.exec()
    log.info("exiting with code %d", code)
    return code


if __name__ == "__main__":
    sys.exit(main())
