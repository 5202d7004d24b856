"""Driver for ``test_cold_listen.py``: a fresh process opens the real main window on a data folder
whose model this process has never used, presses Listen after ``DELAY`` seconds (again every
0.1 s while the button is not yet offered, as an impatient person would) and prints the answer.

``RUNTIME`` is ``keras`` to run the network through Keras/TensorFlow (whose first trace was the
hazard) even though the bundle has a LiteRT copy, or ``litert`` (what a bundle with one uses).

Exit 0 with the answer on the last line; 3 when no answer came in time; a native crash shows as
the signal's exit status with faulthandler's stacks on stderr.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time

faulthandler.enable(all_threads=True)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(delay: float, runtime: str, timeout: float) -> int:
    if runtime == "keras":
        import functools

        from musicid_core.models import store

        # load_current (what CurrentRecognizer loads through) looks load_bundle up in its module.
        store.load_bundle = functools.partial(store.load_bundle, keras=True)  # type: ignore[assignment]
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import Settings
    from musicid_core.library import Library
    from musicid_core.paths import data_dir

    app = QApplication([sys.argv[0]])
    window = MainWindow(Library(data_dir(None)), Settings())
    window.show()
    tab = window.listen_tab
    started = time.monotonic()
    report: dict[str, object] = {"delay": delay, "runtime": runtime, "presses_refused": 0}

    def press() -> None:
        if not tab.listen_button.isEnabled():
            report["presses_refused"] = int(report["presses_refused"]) + 1  # type: ignore[call-overload]
            report["refused_text"] = tab.listen_button.text()
            QTimer.singleShot(100, press)
            return
        report["pressed_at"] = round(time.monotonic() - started, 2)
        tab.listen_button.click()
        report["listening"] = tab.listening

    def answered(result: object) -> None:
        report["answer"] = result.best.song.title  # type: ignore[attr-defined]
        report["verdict"] = result.verdict  # type: ignore[attr-defined]
        app.quit()

    tab.identified.connect(answered)
    QTimer.singleShot(int(delay * 1000), press)
    QTimer.singleShot(int(timeout * 1000), app.quit)
    app.exec()
    report["tensorflow_imported"] = "tensorflow" in sys.modules
    print(json.dumps(report), flush=True)
    return 0 if "answer" in report else 3


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
