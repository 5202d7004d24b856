"""The phone page in a real browser: Debian's chromium, driven by selenium through chromedriver,
opens the page over HTTPS on 127.0.0.1 with a fake microphone playing a WAV file, presses Listen,
and must name the right song for a noisy recording of a library song, and say "not in your
library" for one that is not. Screenshots at a phone's viewport, dark and light, go to
``$MUSICID_SCREENSHOT_DIR`` when it is set (``docs/screenshots``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import synth
from tests_server_helpers import count_hostile, library_snapshot, make_context

from musicid_server.certificate import ensure_certificate
from musicid_server.server import BackgroundServer

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="needs Debian's chromium and chromium-driver (make test installs them)")
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}


@pytest.fixture
def page_server(trained_library, shared_model, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    import socket

    library, _ = trained_library
    before = library_snapshot(library)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    context = make_context(library, tmp_path, shared_model, port=port)
    server = BackgroundServer(context, ensure_certificate(tmp_path / "server"))
    server.start()
    try:
        yield f"https://127.0.0.1:{port}/?token={context.pairing.token}", context
    finally:
        server.stop()
    assert library_snapshot(library) == before


def _fake_microphone(path: Path, audio: np.ndarray) -> Path:
    """16-bit 48 kHz WAV, which chromium's fake capture device plays in a loop."""
    from scipy.signal import resample_poly

    return synth.write(path, resample_poly(audio, 320, 147).astype(np.float32), sr=48000, subtype="PCM_16")


def _browser(microphone: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone}",
                 "--ignore-certificate-errors", "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _listen(driver: Any, url: str) -> tuple[str, str, list[str]]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: "token" not in d.current_url)  # the token left the address bar
    WebDriverWait(driver, 20).until(lambda d: ":" in d.find_element(By.ID, "fingerprint").text)
    driver.find_element(By.ID, "listen").click()
    WebDriverWait(driver, 90).until(lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "No answer",
                                                                                                 "The server")))
    verdict = driver.find_element(By.ID, "verdict").text
    detail = driver.find_element(By.ID, "detail").text
    matches = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#matches li")]
    return verdict, detail, matches


def _screenshots(driver: Any, name: str) -> None:
    folder = os.environ.get("MUSICID_SCREENSHOT_DIR")
    if not folder:
        return
    for scheme in ("dark", "light"):
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
        driver.save_screenshot(str(Path(folder) / f"{name}-{scheme}.png"))


def test_the_page_names_a_library_song_heard_through_the_microphone(page_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, _ = page_server
    recording = synth.noisy_excerpt(1, start_s=0.0, seconds=12.0, rng=np.random.default_rng(21), snr_db=3.0)
    driver = _browser(_fake_microphone(tmp_path / "room.wav", recording))
    try:
        verdict, detail, matches = _listen(driver, url)
        assert verdict == "song1", (verdict, detail, matches, driver.find_element("id", "status").text)
        assert len(matches) == synth.N_SONGS and matches[0].startswith("song1")
        history = driver.find_element("id", "history").text
        assert "song1" in history
        _screenshots(driver, "phone-answer")
    finally:
        driver.quit()


def test_the_page_says_not_in_your_library_for_a_foreign_song(page_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, _ = page_server
    driver = _browser(_fake_microphone(tmp_path / "foreign.wav", synth.song(41, seconds=12.0)))
    try:
        verdict, detail, _ = _listen(driver, url)
        assert verdict == "Not in your library", (verdict, detail)
        _screenshots(driver, "phone-unknown")
    finally:
        driver.quit()


def test_the_page_without_the_token_is_refused(page_server) -> None:  # type: ignore[no-untyped-def]
    url, _ = page_server
    driver = _browser(Path("/dev/null"))
    try:
        driver.get(url.split("?")[0])
        assert "pairing code" in driver.page_source and "Listen" not in driver.page_source
        count_hostile("browser without the pairing code")
    finally:
        driver.quit()
