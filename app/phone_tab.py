"""Phone: start or stop the phone server in the background and show the QR code to pair a phone.

The server (``musicid_server``) runs on its own threads and shares this window's loaded model
(``ModelService.recognizer``) and Training tab; starting and stopping happen on a worker so the
window never waits for a socket. It listens on 127.0.0.1 unless "Allow phones on this network"
is ticked.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QSettings, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.errors import user_message
from app.model_service import ModelService
from app.phone_training import TabTraining
from app.training_tab import TrainingTab
from app.workers import run_task
from musicid_core.library import Library
from musicid_server.config import DEFAULT_PORT, LOCAL_HOST, NETWORK_HOST, ServerConfig

if TYPE_CHECKING:
    from musicid_server.server import BackgroundServer

log = logging.getLogger(__name__)


def qr_image(text: str, module_px: int = 8, border: int = 4) -> QImage:
    """``text`` as a QR code, black on white, drawn with QPainter (no imaging library needed)."""
    import qrcode

    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix) * module_px
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(x * module_px, y * module_px, module_px, module_px, QColor("black"))
    painter.end()
    return image


class PhoneTab(QWidget):
    server_changed = Signal(bool)
    library_changed_remotely = Signal()

    def __init__(self, library: Library, service: ModelService, training_tab: TrainingTab, pool: QThreadPool) -> None:
        super().__init__()
        self.library = library
        self.service = service
        self.pool = pool
        self.training = TabTraining(training_tab)
        self.server: Optional[BackgroundServer] = None
        self._settings = QSettings()
        self._build()

    def _build(self) -> None:
        self.network_box = QCheckBox("Allow phones on this network")
        self.network_box.setChecked(bool(self._settings.value("phone/network", False, type=bool)))
        self.network_box.setToolTip("Off: only this computer can connect (127.0.0.1). On: any device on your "
                                    "network that has the pairing code.")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1024, 65535)
        self.port_spin.setValue(int(self._settings.value("phone/port", DEFAULT_PORT, type=int)))
        self.start_button = QPushButton("Start the phone server")
        self.start_button.clicked.connect(self.toggle_server)
        self.rotate_button = QPushButton("New pairing code")
        self.rotate_button.setToolTip("Every phone paired so far must scan the new code")
        self.rotate_button.clicked.connect(self.rotate_token)
        self.qr_label = QLabel()
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.setMinimumSize(260, 260)
        self.url_label = QLabel()
        self.url_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url_label.setWordWrap(True)
        self.fingerprint_label = QLabel()
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fingerprint_label.setWordWrap(True)
        self.status_label = QLabel("The phone server is stopped.")
        self.status_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow(self.network_box)
        form.addRow("Port:", self.port_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.rotate_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(self.qr_label, 1)
        layout.addWidget(QLabel("Scan with the phone's camera, or open:"))
        layout.addWidget(self.url_label)
        layout.addWidget(QLabel("Certificate SHA-256 fingerprint (the phone shows it when you accept the "
                                "certificate once):"))
        layout.addWidget(self.fingerprint_label)

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.running

    def toggle_server(self) -> None:
        if self.server is not None:
            self.stop_server()
        else:
            self.start_server()

    def start_server(self) -> None:
        self._settings.setValue("phone/network", self.network_box.isChecked())
        self._settings.setValue("phone/port", self.port_spin.value())
        config = ServerConfig(host=NETWORK_HOST if self.network_box.isChecked() else LOCAL_HOST,
                              port=self.port_spin.value())
        self._set_controls(busy=True)
        self.status_label.setText("Starting…")
        library, service, training = self.library, self.service, self.training
        changed = self.library_changed_remotely.emit

        def job(state: Any) -> BackgroundServer:
            from musicid_server.context import ServerContext
            from musicid_server.server import BackgroundServer, prepare  # FastAPI and uvicorn: only when asked

            pairing, certificate = prepare(library)  # the first start makes the certificate
            context = ServerContext(library=library, pairing=pairing, recognizer=service.recognizer,
                                    training=training, config=config, fingerprint=certificate.fingerprint,
                                    on_library_changed=changed)
            server = BackgroundServer(context, certificate)
            server.start()
            return server

        run_task(self.pool, job, on_result=self._started, on_error=self._failed)

    def _started(self, server: BackgroundServer) -> None:
        self.server = server
        self._show_pairing()
        where = ("phones on this network can connect with the code" if self.network_box.isChecked()
                 else "only this computer can connect; tick \"Allow phones on this network\" for a phone")
        self.status_label.setText(f"The phone server is running: {where}.")
        self._set_controls(busy=False)
        self.server_changed.emit(True)
        log.info("phone server started on %s:%d", server.context.config.host, server.context.config.port)

    def _failed(self, exc: BaseException) -> None:
        self.status_label.setText(f"The phone server could not start: {user_message(exc)}")
        self._set_controls(busy=False)

    def stop_server(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        self._set_controls(busy=True)
        self.status_label.setText("Stopping…")
        run_task(self.pool, lambda state: server.stop(), on_finished=self._stopped)

    def _stopped(self) -> None:
        self.qr_label.clear()
        self.url_label.clear()
        self.status_label.setText("The phone server is stopped.")
        self._set_controls(busy=False)
        self.server_changed.emit(False)

    def rotate_token(self) -> None:
        if self.server is None:
            from musicid_server.server import prepare

            prepare(self.library)[0].rotate()
            self.status_label.setText("New pairing code made; phones paired before must scan it again.")
            return
        self.server.context.pairing.rotate()
        self._show_pairing()
        self.status_label.setText("New pairing code: phones paired before are disconnected until they scan it.")

    def _show_pairing(self) -> None:
        from musicid_server.server import pairing_url

        assert self.server is not None
        url = pairing_url(self.server.context.config, self.server.context.pairing.token)
        self.qr_label.setPixmap(QPixmap.fromImage(qr_image(url)))
        self.url_label.setText(url)
        self.fingerprint_label.setText(self.server.certificate.fingerprint)

    def _set_controls(self, busy: bool) -> None:
        running = self.server is not None
        self.start_button.setEnabled(not busy)
        self.start_button.setText("Stop the phone server" if running else "Start the phone server")
        self.network_box.setEnabled(not busy and not running)
        self.port_spin.setEnabled(not busy and not running)

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
