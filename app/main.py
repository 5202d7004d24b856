"""``musicid-gui``: parse arguments, set up logging and error handling, show the window.

The window appears before TensorFlow is imported; the model loads on a worker (STYLE P13).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from musicid_core import __version__

if TYPE_CHECKING:
    from app.settings import Settings
    from musicid_core.library import Library


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
    from musicid_core.paths import DATA_DIR_ENV, data_dir
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

    chosen_folder = args.data_dir or (None if os.environ.get(DATA_DIR_ENV) else settings.data_folder() or None)
    if chosen_folder and not args.data_dir and not Path(chosen_folder).is_dir():
        # Never recreate a folder chosen earlier whose drive is gone: an empty library there would hide it.
        show_error(None, "The data folder is missing",
                   f"the data folder {chosen_folder} chosen earlier is gone (was its drive removed?); this time "
                   f"MusicID uses {data_dir()}. Reconnect the drive and restart, or choose a folder in the File menu")
        chosen_folder = None
    library = open_library(data_dir(chosen_folder), settings)
    if library is None:
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


def open_library(folder: Path, settings: "Settings") -> "Optional[Library]":
    """The library in ``folder``, or None. When the folder cannot be used (read-only, full, gone),
    the error dialog offers another one, as it does later in the window; the choice is remembered."""
    from PySide6.QtWidgets import QFileDialog

    from app import errors
    from musicid_core.diskspace import storage_error
    from musicid_core.library import Library

    while True:
        try:
            return Library(folder)
        except Exception as exc:  # noqa: BLE001 - e.g. an unwritable data folder: say so, offer another
            error = storage_error(exc, f"opening the data folder {folder}", folder) or exc
        picked: list[str] = []
        errors.set_data_folder_chooser(
            lambda: picked.append(QFileDialog.getExistingDirectory(None, "Choose a data folder for MusicID"))
        )
        try:
            errors.show_error(None, "MusicID cannot open its data folder", error)
        finally:
            errors.set_data_folder_chooser(None)
        if not picked or not picked[0]:
            return None
        folder = Path(picked[0])
        settings.set_data_folder(str(folder))


if __name__ == "__main__":
    sys.exit(main())
