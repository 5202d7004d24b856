"""The main window: Listen, Library and Training tabs, menus, shortcuts, status bar.

Owns the thread pools (identification: 1 thread, library imports: 1, training: 1) and waits
for them on close; window geometry and the open tab are remembered in QSettings.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QTabWidget

from app import theme
from app.about import AboutDialog
from app import errors
from app.errors import show_error, user_message
from app.history import History
from app.library_tab import LibraryTab, song_like
from app.listen_tab import ListenTab, ModelState
from app.model_service import ModelService
from app.phone_tab import PhoneTab
from app.settings import Settings
from app.training_tab import TrainingTab
from app.widgets.drop_zone import local_paths
from app.workers import TaskState, new_pool, run_task
from musicid_core import diskspace
from musicid_core.demo import DemoResult, demo_available, demo_recordings, install_demo
from musicid_core.library import Library
from musicid_core.models.store import current_bundle_path

log = logging.getLogger(__name__)


OPEN_WINDOWS: list["MainWindow"] = []
"""Windows opened on another data folder: kept referenced so Python does not collect them."""


class MainWindow(QMainWindow):
    data_folder_switched = Signal(object)  # the new MainWindow

    def __init__(self, library: Library, settings: Settings, log_file: Optional[Path] = None) -> None:
        super().__init__()
        self.library = library
        self.settings = settings
        self.log_file = log_file
        self.setWindowTitle("MusicID")
        self.setAcceptDrops(True)
        self.recognition_pool = new_pool(1, "recognition")
        self.library_pool = new_pool(1, "library")
        self.training_pool = new_pool(1, "training")
        self.service = ModelService(library)
        self.history = History(library.root)

        self.listen_tab = ListenTab(self.service, self.history, settings, self.recognition_pool)
        self.library_tab = LibraryTab(library, self.service, self.library_pool)
        self.training_tab = TrainingTab(library, self.service, settings, self.training_pool)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.listen_tab, "&Listen")
        self.tabs.addTab(self.library_tab, "Li&brary")
        self.tabs.addTab(self.training_tab, "&Training")
        self.phone_pool = new_pool(1, "phone")
        self.phone_tab = PhoneTab(library, self.service, self.training_tab, self.phone_pool)
        self.tabs.addTab(self.phone_tab, "&Phone")
        self.phone_tab.library_changed_remotely.connect(self.library_tab.refresh)
        self.setCentralWidget(self.tabs)

        self.library_tab.library_changed.connect(self.training_tab.show_current_model)
        self.library_tab.library_changed.connect(self.preload_model)  # the songs Listen can name
        self.phone_tab.library_changed_remotely.connect(self.preload_model)
        self.training_tab.model_changed.connect(self._model_changed)
        self.training_tab.training_started.connect(lambda: self.statusBar().showMessage("Training in the background…"))
        self.listen_tab.listening_changed.connect(
            lambda on: self.statusBar().showMessage("Listening…" if on else "Stopped listening.", 0 if on else 4000)
        )
        self.listen_tab.listening_changed.connect(self._load_deferred_model)
        self._model_load_deferred = False
        self._build_menus()
        self._restore()
        errors.set_data_folder_chooser(self.choose_data_folder)
        self.statusBar().showMessage("Ready.", 3000)
        QTimer.singleShot(0, self.preload_model)

    # ----- menus and shortcuts
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.identify_action = self._action(file_menu, "&Identify a file…", self.listen_tab.choose_file, QKeySequence.StandardKey.Open)
        self._action(file_menu, "&Add songs…", self._add_songs, "Ctrl+Shift+A")
        file_menu.addSeparator()
        self._action(file_menu, "Open the &log folder", self._open_logs)
        self._action(file_menu, "Choose the &data folder…", self.choose_data_folder)
        quit_action = self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        listen_menu = self.menuBar().addMenu("&Actions")
        self.listen_action = self._action(listen_menu, "&Listen / Stop", self._toggle_listen)
        self.listen_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.listen_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.train_action = self._action(listen_menu, "&Train a new model", self._train, "Ctrl+T")

        view = self.menuBar().addMenu("&View")
        for index, name in enumerate(("Listen", "Library", "Training")):
            self._action(view, f"Show {name}", lambda i=index: self.tabs.setCurrentIndex(i), f"Ctrl+{index + 1}")
        # Alt+1..3 as well, for people used to browsers' tab keys
        for index in range(3):
            QShortcut(QKeySequence(f"Alt+{index + 1}"), self, lambda i=index: self.tabs.setCurrentIndex(i))
        view.addSeparator()
        theme_menu = view.addMenu("&Appearance")
        group = QActionGroup(self)
        for name in theme.THEMES:
            action = QAction(name.capitalize(), self, checkable=True)
            action.setChecked(self.settings.theme() == name)
            action.triggered.connect(lambda _=False, n=name: self._set_theme(n))
            group.addAction(action)
            theme_menu.addAction(action)

        help_menu = self.menuBar().addMenu("&Help")
        self.demo_action = self._action(help_menu, "Try with &demo songs", self.install_demo)
        self.demo_action.setEnabled(demo_available())
        about = self._action(help_menu, "&About MusicID", self.show_about, QKeySequence.StandardKey.HelpContents)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def _toggle_listen(self) -> None:
        self.tabs.setCurrentWidget(self.listen_tab)
        if self.listen_tab.listen_button.isEnabled() or self.listen_tab.listening:
            self.listen_tab.toggle_listening()

    def _train(self) -> None:
        self.tabs.setCurrentWidget(self.training_tab)
        self.training_tab.start_training()

    def _add_songs(self) -> None:
        self.tabs.setCurrentWidget(self.library_tab)
        self.library_tab.choose_songs()

    # ----- data folder: another one when this one is full, read-only or gone
    def choose_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a data folder for MusicID", os.path.expanduser("~"))
        if folder:
            self.switch_data_folder(Path(folder))

    def switch_data_folder(self, folder: Path) -> Optional["MainWindow"]:
        """Reopen the window on ``folder`` (remembered for the next start) and close this one;
        None, with the reason shown, when that folder cannot be used either."""
        try:
            library = Library(folder)
            diskspace.ensure_free_space(library.root, 0, doing=f"using {folder} as the data folder")
        except Exception as exc:  # noqa: BLE001 - any reason: say it and stay on the current folder
            show_error(self, "That folder cannot be used", exc)
            return None
        self.settings.set_data_folder(str(library.root))
        log.info("data folder switched to %s", library.root)
        successor = MainWindow(library, self.settings, self.log_file)
        OPEN_WINDOWS.append(successor)
        successor.show()  # it loads its model itself, as every new window does
        self.data_folder_switched.emit(successor)
        self.close()
        if self in OPEN_WINDOWS:
            OPEN_WINDOWS.remove(self)
        successor.statusBar().showMessage(f"Now using the data folder {library.root}.", 8000)
        return successor

    def _open_logs(self) -> None:
        if self.log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file.parent)))

    def _set_theme(self, name: str) -> None:
        self.settings.set_theme(name)
        theme.apply_theme(QApplication.instance(), name)  # type: ignore[arg-type]

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.library.root, self.log_file, self)
        dialog.open()
        return dialog

    # ----- drag and drop onto the window: songs
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if local_paths(event.mimeData(), song_like):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = local_paths(event.mimeData(), song_like)
        if paths:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.tabs.setCurrentWidget(self.library_tab)
            self.library_tab.add_songs(paths)

    # ----- first run: the demo
    def offer_demo(self) -> Optional[QMessageBox]:
        """On a first start with an empty library, offer the shipped demo (once; the Help menu
        keeps it available). Non-modal, so nothing blocks start-up or an offscreen test."""
        if self.settings.demo_offered() or self.library.songs() or not demo_available():
            return None
        self.settings.set_demo_offered()
        box = QMessageBox(QMessageBox.Icon.Question, "Welcome to MusicID",
                          "Your library is empty. MusicID learns your own songs: add them in the Library tab "
                          "and train a model.\n\nOr try it right now with 8 demo songs and a model trained on them.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.button(QMessageBox.StandardButton.Yes).setText("Try with demo songs")
        box.button(QMessageBox.StandardButton.No).setText("Add my own songs")
        box.finished.connect(lambda answer: self._after_demo_offer(answer == QMessageBox.StandardButton.Yes))
        box.open()
        return box

    def _after_demo_offer(self, accepted: bool) -> None:
        if accepted:
            self.install_demo()
        else:
            self.tabs.setCurrentWidget(self.library_tab)

    def install_demo(self) -> None:
        """Enrol the demo songs and install their model on a worker thread (no TensorFlow needed)."""
        self.statusBar().showMessage("Installing the demo songs…")
        library = self.library
        run_task(
            self.library_pool, lambda state: install_demo(library, should_stop=state.should_stop),
            on_result=self._demo_installed,
            on_error=lambda exc: show_error(self, "The demo could not be installed", exc),
        )

    def _demo_installed(self, result: DemoResult) -> None:
        if not result.installed:
            QMessageBox.information(self, "Demo not installed", result.message)
            return
        self.library_tab.refresh()
        self.training_tab.show_current_model()  # the demo's model is the current one now
        self._model_changed()
        self.tabs.setCurrentWidget(self.listen_tab)
        recordings = demo_recordings()
        where = f" Demo recordings to try with “Identify a file…”: {recordings[0].parent}" if recordings else ""
        self.statusBar().showMessage(f"Demo installed: press Listen while a demo song plays.{where}", 15000)

    # ----- model
    def _model_changed(self) -> None:
        self.library_tab.refresh_model_status()
        self.preload_model()

    def preload_model(self) -> None:
        """Import TensorFlow, load the current model and run it once in the background (STYLE P13);
        Listen is enabled when that is done. Never while the microphone is open (``ModelService``):
        a model saved during a listen is loaded when the listen ends."""
        listen = self.listen_tab
        if current_bundle_path(self.library.models_dir) is None and not self.library.songs():
            listen.set_model_state(ModelState.NONE)
            return
        if listen.listening:
            self._model_load_deferred = True
            return
        if not self.service.is_loaded():
            listen.set_model_state(ModelState.LOADING)
        self.statusBar().showMessage("Loading the model…")
        service = self.service

        def job(state: TaskState) -> str:
            # Songs without a current analysis are analysed first (every song, once, after an
            # upgrade that changes the analysis): the status bar says which.
            recognizer = service.recognizer(progress=lambda fraction, message: state.progress(message))
            songs = f"{len(recognizer.labels)} songs"
            if recognizer.bundle is None:
                return f"{songs}, identified by their recordings (no model trained yet)"
            new = recognizer.untrained_songs
            return f"Model {recognizer.bundle.path.name}, {songs}" + (f" ({new} added since training)" if new else "")

        def ready(what: str) -> None:
            listen.set_model_state(ModelState.READY)
            self.statusBar().showMessage(f"{what}: ready for listening.", 5000)

        def failed(exc: BaseException) -> None:
            listen.set_model_state(ModelState.FAILED, user_message(exc))
            self.statusBar().showMessage(f"The model cannot be used: {user_message(exc)}")

        def analysing(message: str) -> None:
            self.statusBar().showMessage(f"Loading the model… {message}")

        run_task(self.recognition_pool, job, on_result=ready, on_error=failed, on_progress=analysing)

    def _load_deferred_model(self, listening: bool) -> None:
        if not listening and self._model_load_deferred:
            self._model_load_deferred = False
            self.preload_model()

    # ----- state
    def _restore(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 780)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(max(0, min(2, self.settings.tab())))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.set_geometry(self.saveGeometry(), self.saveState(), self.tabs.currentIndex())
        self.settings.sync()
        self.listen_tab.shutdown()
        self.training_tab.shutdown()
        self.phone_tab.shutdown()
        for pool in (self.recognition_pool, self.library_pool, self.phone_pool):
            pool.waitForDone(10000)
        log.info("main window closed")
        super().closeEvent(event)
