"""System / Light / Dark appearance (STYLE P9).

Fusion style with an explicit palette looks the same on every platform and makes "Dark" work
even where the platform theme has no dark variant; "System" follows ``QStyleHints.colorScheme``
(Qt ≥ 6.5) and its change signal. Plots read their colours from the palette, the spectrogram's
colour map stays fixed so its meaning does not change with the theme.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")
_listeners: list[Callable[[], None]] = []


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorScheme"):
        return hints.colorScheme() == Qt.ColorScheme.Dark
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _dark_palette() -> QPalette:
    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2d31", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1f22", QPalette.ColorRole.AlternateBase: "#2f3136",
        QPalette.ColorRole.ToolTipBase: "#2b2d31", QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#35373c",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3d7bd9", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6ea8fe", QPalette.ColorRole.PlaceholderText: "#8a8d93",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d83"))
    return p


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply ``theme`` ("system", "light" or "dark"); returns True when the result is dark."""
    app.setStyle("Fusion")
    hints = app.styleHints()
    if theme not in THEMES:
        theme = "system"
    if hasattr(hints, "setColorScheme"):
        scheme = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(theme, Qt.ColorScheme.Unknown)
        hints.setColorScheme(scheme)
    dark = theme == "dark" or (theme == "system" and system_is_dark())
    app.setPalette(_dark_palette() if dark else app.style().standardPalette())
    for listener in list(_listeners):
        try:
            listener()
        except RuntimeError:  # its widget was deleted (shiboken: "already deleted")
            _listeners.remove(listener)
    return dark


def follow_system(app: QApplication, current: Callable[[], str]) -> None:
    """Re-apply when the desktop switches light/dark while we run (only matters for "system")."""
    hints = app.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda *_: current() == "system" and apply_theme(app, "system"))


def on_theme_changed(listener: Callable[[], None], owner: QObject | None = None) -> None:
    """Plots register here to re-read the palette after a theme change; the listener is dropped
    when ``owner`` is destroyed."""
    _listeners.append(listener)
    if owner is not None:
        owner.destroyed.connect(lambda *_: listener in _listeners and _listeners.remove(listener))


def plot_colours() -> tuple[QColor, QColor]:
    """(background, foreground) for pyqtgraph, from the current palette."""
    palette = QApplication.palette()
    return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
