"""Typed access to the app's QSettings (UI state only; songs and models live in the data dir).

An INI file in the user config dir, so it is readable and tests can redirect it with
``QSettings.setPath``. ``migrate`` runs before anything is restored (STYLE P8).
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "MusicID"
APPLICATION = "musicid"
SETTINGS_VERSION = 1


class Settings:
    def __init__(self) -> None:
        self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
        self.migrate()

    def migrate(self) -> None:
        """Bring older settings files up to date; version 1 is the first, so only stamp it."""
        if int(self._qs.value("meta/version", 0) or 0) < SETTINGS_VERSION:
            self._qs.setValue("meta/version", SETTINGS_VERSION)

    def _get(self, key: str, default: Any, kind: type) -> Any:
        value = self._qs.value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    # window
    def geometry(self) -> Optional[QByteArray]:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray, state: QByteArray, tab: int) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
        self._qs.setValue("window/tab", tab)

    def window_state(self) -> Optional[QByteArray]:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def tab(self) -> int:
        return self._get("window/tab", 0, int)

    # listen
    def input_device(self) -> str:
        """The chosen input (a microphone or this computer's sound), remembered by name."""
        return self._get("listen/input_device", "", str)

    def set_input_device(self, name: str) -> None:
        self._qs.setValue("listen/input_device", name)

    def listen_seconds(self) -> int:
        return self._get("listen/seconds", 10, int)

    def set_listen_seconds(self, seconds: int) -> None:
        self._qs.setValue("listen/seconds", seconds)

    def continuous(self) -> bool:
        return self._get("listen/continuous", "false", str) == "true"

    def set_continuous(self, on: bool) -> None:
        self._qs.setValue("listen/continuous", "true" if on else "false")

    # training
    def training_choice(self) -> tuple[str, int, int]:
        return (
            self._get("training/arch", "", str),
            self._get("training/examples_per_song", 0, int),
            self._get("training/epochs", 0, int),
        )

    def set_training_choice(self, arch: str, examples: int, epochs: int) -> None:
        self._qs.setValue("training/arch", arch)
        self._qs.setValue("training/examples_per_song", examples)
        self._qs.setValue("training/epochs", epochs)

    # appearance
    def theme(self) -> str:
        return self._get("appearance/theme", "system", str)

    def set_theme(self, theme: str) -> None:
        self._qs.setValue("appearance/theme", theme)

    # data folder (chosen in the app; --data-dir and MUSICID_DATA_DIR take precedence)
    def data_folder(self) -> str:
        return self._get("data/folder", "", str)

    def set_data_folder(self, folder: str) -> None:
        self._qs.setValue("data/folder", folder)

    # first run
    def demo_offered(self) -> bool:
        return self._get("first_run/demo_offered", "false", str) == "true"

    def set_demo_offered(self) -> None:
        self._qs.setValue("first_run/demo_offered", "true")

    def sync(self) -> None:
        self._qs.sync()

    @property
    def path(self) -> str:
        return self._qs.fileName()
