"""The About box: version, paths, and the licences of the data MusicID ships.

Licence texts are read from the files beside the data (``resources/*/LICENSE.md``,
``benchmarks/LICENSES.md``) when they exist, so the box can never disagree with them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from musicid_core import __version__
from musicid_core.resources import resources_dir

LICENCE_FILES = (
    ("Built-in noise pack", "noise/LICENSE.md"),
    ("Demo songs and recordings", "demo/LICENSE.md"),
    ("'Not in your library' training music", "negatives/LICENSE.md"),
)


def licence_sections() -> list[tuple[str, str]]:
    """(heading, markdown) for each licence file present."""
    found = []
    for heading, relative in LICENCE_FILES:
        path = resources_dir() / relative
        if path.is_file():
            found.append((heading, path.read_text(encoding="utf-8", errors="replace")))
    benchmarks = resources_dir().parent / "benchmarks" / "LICENSES.md"
    if benchmarks.is_file():
        found.append(("Benchmark recordings", benchmarks.read_text(encoding="utf-8", errors="replace")))
    return found


def about_markdown(data_dir: Path, log_file: Path | None) -> str:
    parts = [
        f"# MusicID {__version__}",
        "Identifies which of *your* songs is playing, from a noisy microphone recording, "
        "with a small CNN trained on your library. MIT licence.",
        f"- Data folder: `{data_dir}`",
    ]
    if log_file is not None:
        parts.append(f"- Log file: `{log_file}`")
    sections = licence_sections()
    if sections:
        parts.append("\n## Licences of bundled data")
    for heading, text in sections:
        body = "\n".join(("#" + line) if line.startswith("#") else line for line in text.splitlines())
        parts.append(f"\n## {heading}\n\n{body}")
    return "\n\n".join(parts)


class AboutDialog(QDialog):
    def __init__(self, data_dir: Path, log_file: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About MusicID")
        self.resize(640, 560)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setMarkdown(about_markdown(data_dir, log_file))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
