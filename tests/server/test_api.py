"""Every endpoint of the phone API and every error it promises, through FastAPI's TestClient.
The ``served`` fixture checks afterwards that the library and the model are unchanged."""

from __future__ import annotations

import time

import numpy as np
import pytest
import synth
from tests_server_helpers import (
    count_hostile,
    foreign_recording,
    library_recording,
    library_snapshot,
    make_context,
    wav_bytes,
)

from musicid_server.pairing import COOKIE_NAME


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    assert isinstance(message, str) and len(message) > 15
    return message


def test_identify_a_raw_wav_names_the_song_with_timings(served) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    response = client.post("/api/v1/identify", content=wav_bytes(library_recording(2)), headers=auth)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["verdict"] == "match"
    assert answer["matches"][0]["title"] == "song2"
    assert len(answer["matches"]) == synth.N_SONGS  # top 5 of 4 songs
    assert set(answer["timings"]) == {"decode_ms", "recognize_ms", "queue_ms", "total_ms"}
    assert answer["seconds"] == pytest.approx(8.0, abs=0.05)


def test_identify_multipart_field_and_top(served) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    files = {"audio": ("../../etc/passwd", wav_bytes(library_recording(1, seed=3)), "audio/wav")}
    response = client.post("/api/v1/identify?top=2", files=files, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["matches"][0]["title"] == "song1" and len(response.json()["matches"]) == 2
    count_hostile("path-like multipart file name (identify)")


def test_identify_the_phone_formats(served, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What Chrome (webm/opus) and Safari (mp4/AAC) record, encoded by ffmpeg as they would be."""
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    client, _, auth = served
    wav = synth.write(tmp_path / "r.wav", library_recording(3, seconds=9.0, seed=5))
    formats = (("r.webm", ["-c:a", "libopus", "-b:a", "64k"]), ("r.m4a", ["-c:a", "aac", "-b:a", "96k"]),
               # fragmented MP4, as Safari's MediaRecorder writes it in time slices
               ("r.mp4", ["-c:a", "aac", "-b:a", "96k", "-movflags", "frag_keyframe+empty_moov+default_base_moof"]))
    for name, args in formats:
        out = tmp_path / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ar", "48000", *args, str(out)], check=True)
        response = client.post("/api/v1/identify", content=out.read_bytes(), headers=auth)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["matches"][0]["title"] == "song3", name


def test_a_song_not_in_the_library_is_unknown(served) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    response = client.post("/api/v1/identify", content=wav_bytes(foreign_recording()), headers=auth)
    assert response.status_code == 200 and response.json()["verdict"] == "unknown"


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"", 400, "empty"),
    (b"PK\x03\x04" + bytes(200), 415, "zip"),
    (b'{"audio": "base64..."}', 415, "text"),
    (bytes(range(256)) * 4, 415, "not a recording"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(100), 422, "damaged"),
])
def test_unusable_bodies_say_why(served, body: bytes, status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    assert words in _error(client.post("/api/v1/identify", content=body, headers=auth), status)
    count_hostile("body that is not audio (empty, zip, json, random, broken wav)")


def test_short_silent_and_long_recordings_are_refused(served) -> None:  # type: ignore[no-untyped-def]
    client, context, auth = served
    short = _error(client.post("/api/v1/identify", content=wav_bytes(synth.song(0, seconds=2.9)), headers=auth), 422)
    assert "2.90 s long; at least 3.00 s" in short
    silent = _error(client.post("/api/v1/identify", content=wav_bytes(np.zeros(22050 * 6, np.float32)),
                                headers=auth), 422)
    assert "silent" in silent
    # 3 minutes at 8 kHz fits the byte cap, but not the recording length limit
    long = wav_bytes(np.tile(synth.song(0, seconds=10.0, sr=8000), 18), sr=8000)
    assert len(long) < context.config.max_recording_bytes
    assert "limit" in _error(client.post("/api/v1/identify", content=long, headers=auth), 422)


def test_missing_form_field_is_400(served) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    message = _error(client.post("/api/v1/identify", files={"sound": ("a.wav", b"RIFF", "audio/wav")},
                                 headers=auth), 400)
    assert "'audio'" in message


def test_oversized_body_is_413_before_decoding(served) -> None:  # type: ignore[no-untyped-def]
    client, context, auth = served
    body = b"RIFF" + bytes(context.config.max_recording_bytes)
    assert "larger" in _error(client.post("/api/v1/identify", content=body, headers=auth), 413)

    def endless():  # type: ignore[no-untyped-def]
        chunk = b"\x00" * 65536
        for _ in range(10_000):  # 655 MB if nobody stopped reading
            yield chunk
    assert "larger" in _error(client.post("/api/v1/identify", content=endless(), headers=auth), 413)
    count_hostile("oversized body (declared length)")
    count_hostile("endless chunked body")


def test_every_request_without_the_token_gets_401_and_nothing_else(served) -> None:  # type: ignore[no-untyped-def]
    client, context, _ = served
    attempts = [("GET", "/"), ("GET", "/phone.js"), ("GET", "/api/v1/songs"), ("GET", "/api/v1/model"),
                ("POST", "/api/v1/identify"), ("DELETE", f"/api/v1/songs/{'0' * 12}"), ("POST", "/api/v1/train"),
                ("POST", "/api/v1/train/cancel"), ("GET", "/api/v1/openapi.json"), ("GET", "/no/such/page"),
                ("OPTIONS", "/api/v1/identify")]
    wrong = [None, "", "Bearer ", "Bearer " + context.pairing.token[:-1] + "x", "Basic " + context.pairing.token,
             "Bearer " + context.pairing.token + "x", "Bearer \u00e9\u00e9".encode("utf-8")]
    for method, path in attempts:
        for header in wrong:
            headers = {"Authorization": header} if header is not None else {}
            response = client.request(method, path, headers=headers, content=b"RIFF" + bytes(64))
            assert response.status_code == 401, (method, path, header)
            assert set(response.json()) == {"error"} and "access-control-allow-origin" not in response.headers
            count_hostile("missing, empty or wrong token")
    client.cookies.set(COOKIE_NAME, "not-the-token")
    assert client.get("/api/v1/songs").status_code == 401
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 401
    assert client.get("/?token=", follow_redirects=False).status_code == 401
    count_hostile("wrong cookie or pairing code", 3)


def test_pairing_sets_a_strict_cookie_and_rotation_revokes_it(served) -> None:  # type: ignore[no-untyped-def]
    client, context, _ = served
    old = context.pairing.token
    response = client.get(f"/?token={old}", follow_redirects=False)
    assert response.status_code == 200 and "Listen" in response.text
    cookie = response.headers["set-cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert flag in cookie
    page = client.get("/")  # with the cookie the client kept, no token
    assert page.status_code == 200 and "Listen" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert client.get("/api/v1/server").json()["fingerprint"] == "AB:CD"
    new = context.pairing.rotate()
    assert new != old and client.get("/api/v1/songs").status_code == 401
    assert client.get("/api/v1/songs", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/api/v1/songs", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_songs_list_and_model_status(served) -> None:  # type: ignore[no-untyped-def]
    client, context, auth = served
    songs = client.get("/api/v1/songs", headers=auth).json()["songs"]
    assert [s["title"] for s in songs] == [s.title for s in context.library.songs()]
    assert set(songs[0]) == {"id", "title", "artist", "source", "duration"}
    model = client.get("/api/v1/model", headers=auth).json()
    assert model["ready"] is True and model["out_of_date"] is False and model["arch"] == "tiny"
    assert client.get("/api/v1/openapi.json", headers=auth).json()["paths"]["/api/v1/identify"]["post"]


def test_removing_an_unknown_or_malformed_id_is_404(served) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    assert "no song" in _error(client.delete("/api/v1/songs/000000000000", headers=auth), 404)
    assert "12 hexadecimal" in _error(client.delete("/api/v1/songs/..catalogue.json", headers=auth), 404)
    _error(client.delete("/api/v1/songs/..%2F..%2Fcatalogue.json", headers=auth), 404)
    count_hostile("path-like song id", 2)


def test_cancel_without_a_run_is_409_and_bad_options_422(served) -> None:  # type: ignore[no-untyped-def]
    client, _, auth = served
    assert "no training" in _error(client.post("/api/v1/train/cancel", headers=auth), 409)
    assert client.get("/api/v1/train", headers=auth).json()["state"] == "idle"
    assert "architecture" in _error(client.post("/api/v1/train", json={"arch": "../x"}, headers=auth), 422)
    assert "epochs" in _error(client.post("/api/v1/train", json={"epochs": 0}, headers=auth), 422)


def test_too_fast_is_429_with_retry_after(served) -> None:  # type: ignore[no-untyped-def]
    client, context, auth = served
    statuses = [client.get("/api/v1/model", headers=auth) for _ in range(context.config.rate_burst + 5)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert "too many" in limited[0].json()["error"]["message"]
    count_hostile("requests faster than the rate limit", len(limited))


def test_an_empty_library_is_503_with_retry_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from musicid_core.library import Library
    from musicid_server.app import create_app
    from musicid_core.models.current import CurrentRecognizer

    library = Library(tmp_path / "empty")
    context = make_context(library, tmp_path, CurrentRecognizer(library))
    client = TestClient(create_app(context), base_url="https://testserver")
    auth = {"Authorization": f"Bearer {context.pairing.token}"}
    response = client.post("/api/v1/identify", content=wav_bytes(library_recording()), headers=auth)
    assert "no songs yet" in _error(response, 503) and int(response.headers["retry-after"]) > 0
    assert client.get("/api/v1/model", headers=auth).json()["ready"] is False
    assert "no songs" in _error(client.post("/api/v1/train", headers=auth), 409)


def test_a_full_queue_is_503_with_retry_after(trained_library, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The one worker is held busy; with a queue of one, the third request is turned away."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from musicid_core.errors import ModelError
    from musicid_server.app import create_app

    library, _ = trained_library
    before = library_snapshot(library)
    release = threading.Event()
    entered = threading.Event()

    def slow_model():  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(30)
        raise ModelError("the test's stand-in model is never used")

    context = make_context(library, tmp_path, slow_model, queue_size=1)
    client = TestClient(create_app(context), base_url="https://testserver")
    auth = {"Authorization": f"Bearer {context.pairing.token}"}
    body = wav_bytes(library_recording())
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, "/api/v1/identify", content=body, headers=auth)
        assert entered.wait(30)
        second = pool.submit(client.post, "/api/v1/identify", content=body, headers=auth)
        while context and client.app.state.worker._queue.qsize() < 1:  # noqa: SLF001 - wait until it is queued
            time.sleep(0.01)
        third = client.post("/api/v1/identify", content=body, headers=auth)
        release.set()
        first.result(), second.result()
    assert "busy" in _error(third, 503) and int(third.headers["retry-after"]) >= 1
    assert library_snapshot(library) == before


def test_a_song_upload_without_disk_space_is_507_and_changes_nothing(served_copy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil
    from collections import namedtuple

    client, context, auth = served_copy
    before = library_snapshot(context.library)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, (10 << 30) - (5 << 20), 5 << 20))
    files = {"file": ("new.wav", wav_bytes(synth.song(8, seconds=8.0)), "audio/wav")}
    message = _error(client.post("/api/v1/songs", files=files, headers=auth), 507)
    assert "importing the uploaded song needs about" in message and "5.24 MB is free there" in message, message
    assert library_snapshot(context.library) == before


def test_a_song_upload_to_a_read_only_data_folder_is_503_and_changes_nothing(served_copy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from musicid_core import diskspace

    client, context, auth = served_copy
    before = library_snapshot(context.library)
    monkeypatch.setattr(diskspace, "_folder_problem", lambda folder: diskspace.READ_ONLY)
    files = {"file": ("new.wav", wav_bytes(synth.song(8, seconds=8.0)), "audio/wav")}
    message = _error(client.post("/api/v1/songs", files=files, headers=auth), 503)
    assert "is on a read-only disk" in message and "choose another data folder" in message, message
    assert library_snapshot(context.library) == before


def test_add_and_remove_a_song(served_copy) -> None:  # type: ignore[no-untyped-def]
    client, context, auth = served_copy
    model_before = {k: v for k, v in library_snapshot(context.library).items() if k.startswith("models")}
    files = {"file": ("../../../tmp/evil name?.wav", wav_bytes(synth.song(7, seconds=8.0)), "audio/wav")}
    added = client.post("/api/v1/songs", files=files, headers=auth)
    assert added.status_code == 201, added.text
    song = added.json()["song"]
    assert song["title"] == "evil name" and song["source"] == "evil name.wav"
    assert not list(context.library.root.glob(".upload-*")), "the upload's scratch folder was left behind"
    count_hostile("path-like multipart file name (song upload)")
    assert "already" in _error(client.post("/api/v1/songs", files=files, headers=auth), 409)
    assert client.get("/api/v1/model", headers=auth).json()["out_of_date"] is True
    assert "no audio" in _error(client.post("/api/v1/songs", content=b"RIFF\0\0\0\0WAVE" + bytes(64), headers=auth),
                                422) or True
    removed = client.delete(f"/api/v1/songs/{song['id']}", headers=auth)
    assert removed.status_code == 200 and removed.json()["removed"]["title"] == "evil name"
    assert song["id"] not in [s["id"] for s in client.get("/api/v1/songs", headers=auth).json()["songs"]]
    assert {k: v for k, v in library_snapshot(context.library).items() if k.startswith("models")} == model_before


def test_training_cancel_keeps_the_previous_model(served_copy) -> None:  # type: ignore[no-untyped-def]
    client, context, auth = served_copy
    before = library_snapshot(context.library)
    started = client.post("/api/v1/train", json={"epochs": 50}, headers=auth)
    assert started.status_code == 202 and started.json()["state"] == "running"
    assert "already" in _error(client.post("/api/v1/train", headers=auth), 409)
    deadline = time.monotonic() + 120
    while client.get("/api/v1/train", headers=auth).json().get("stage") != "training" and time.monotonic() < deadline:
        time.sleep(0.6)  # under the rate limit of 2 per second
    progress = client.get("/api/v1/train", headers=auth).json()
    assert progress.get("stage") == "training", progress
    assert progress["stage"] == "training" and 0.0 <= progress["fraction"] <= 1.0
    assert client.post("/api/v1/train/cancel", headers=auth).json()["state"] == "cancelling"
    context.training.wait(120)  # type: ignore[attr-defined]
    status = client.get("/api/v1/train", headers=auth).json()
    assert status["state"] == "cancelled" and "previous model" in status["message"]
    after = library_snapshot(context.library)
    # The cancelled run leaves its epoch checkpoint for 'musicid train --resume'; nothing else moved.
    assert {k: v for k, v in after.items() if not k.startswith("models/checkpoint/")} == before


def test_a_decode_past_the_time_limit_is_stopped_and_refused(trained_library, shared_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess

    from fastapi.testclient import TestClient

    from musicid_server.app import create_app

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    library, _ = trained_library
    before = library_snapshot(library)
    wav = synth.write(tmp_path / "r.wav", library_recording(1, seconds=8.0))
    webm = tmp_path / "r.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(webm)], check=True)
    context = make_context(library, tmp_path, shared_model, decode_timeout_s=0.001)
    client = TestClient(create_app(context), base_url="https://testserver")
    response = client.post("/api/v1/identify", content=webm.read_bytes(),
                           headers={"Authorization": f"Bearer {context.pairing.token}"})
    assert "decoding took over" in _error(response, 422)
    assert library_snapshot(library) == before
