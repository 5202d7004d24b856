"""Phone tab: the server starts and stops in the background, shows a QR code of the pairing URL,
answers with the window's own loaded model, and training asked for by a phone is the Training
tab's run (its Cancel keeps the previous model)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import numpy as np
import synth
from tests_server_helpers import wav_bytes

from musicid_core.models.store import current_bundle_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_thread(fn: Any) -> dict[str, Any]:
    """Run a blocking HTTP call off the GUI thread, so the window keeps serving queued work."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
            box["value"] = exc

    threading.Thread(target=run, daemon=True).start()
    return box


def test_phone_server_from_the_tab(qtbot: Any, trained_dir: Path, make_window: Any) -> None:
    import httpx


    window = make_window()
    tab = window.phone_tab
    assert not tab.network_box.isChecked()
    tab.port_spin.setValue(_free_port())
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.running, timeout=20000)
    url = tab.url_label.text()
    assert url.startswith(f"https://127.0.0.1:{tab.port_spin.value()}/?token=")
    assert not tab.qr_label.pixmap().isNull() and tab.qr_label.pixmap().width() > 100
    assert len(tab.fingerprint_label.text().split(":")) == 32
    token = url.split("token=")[1]
    base = url.split("/?")[0]
    client = httpx.Client(base_url=base, verify=False, timeout=60, headers={"Authorization": f"Bearer {token}"})

    recording = synth.noisy_excerpt(1, start_s=2.0, seconds=8.0, rng=np.random.default_rng(3), snr_db=0.0)
    box = _in_thread(lambda: client.post("/api/v1/identify", content=wav_bytes(recording)))
    qtbot.waitUntil(lambda: "value" in box, timeout=60000)
    assert box["value"].status_code == 200, box["value"]
    assert box["value"].json()["matches"][0]["title"] == "song1"
    assert window.service._recognizer is not None  # noqa: SLF001 - the window's model answered

    before = current_bundle_path(window.library.models_dir)
    box = _in_thread(lambda: client.post("/api/v1/train", json={"arch": "tiny", "epochs": 50,
                                                                "examples_per_song": 16}))
    qtbot.waitUntil(lambda: "value" in box, timeout=20000)
    assert box["value"].status_code == 202, box["value"].text
    assert window.training_tab.running and window.training_tab.epochs_spin.value() == 50
    qtbot.waitUntil(lambda: window.training_tab.stage_label.text().startswith("Epoch"), timeout=120000)
    box = _in_thread(lambda: client.post("/api/v1/train/cancel"))
    qtbot.waitUntil(lambda: not window.training_tab.running, timeout=60000)
    status = client.get("/api/v1/train").json()
    assert status["state"] == "cancelled", status
    assert current_bundle_path(window.library.models_dir) == before

    tab.rotate_button.click()
    assert client.get("/api/v1/songs").status_code == 401
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.server is None and tab.start_button.isEnabled(), timeout=20000)
    client.close()
