"""The page and the ``/api/v1`` endpoints. Each error is JSON with a sentence a person can act on."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from musicid_core import diskspace
from musicid_core.config import SAMPLE_RATE
from musicid_core.errors import AudioError, LibraryError, ModelError, MusicIdError, RecordingTooShortError
from musicid_core.models.store import current_bundle_path, read_meta
from musicid_server.limits import BodyTooLarge, BodyTooSlow
from musicid_server.recognition import QueueFull
from musicid_server.recordings import UnsupportedMedia, decode_recording, sniff_suffix
from musicid_server.responses import error_body
from musicid_server.training_jobs import TrainingBusy
from training.enrolment import enrol, unenrol

log = logging.getLogger(__name__)
page_router = APIRouter(include_in_schema=False)
api_router = APIRouter()
_SONG_ID = re.compile(r"^[0-9a-f]{12}$")
_STATIC = ("index.html", "phone.js", "phone.css")
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8"}
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
NO_MODEL_RETRY_S = 30
_upload_lock = threading.Lock()
"""One song import at a time (each decodes a whole song)."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(max(1, round(self.retry_after)))} if self.retry_after is not None else None
        return JSONResponse(error_body(self.status, self.message), self.status, headers=headers)


# ----- the page: three fixed files, read from the package, never a path from the request
def _static(name: str) -> Response:
    text = resources.files("musicid_server").joinpath("static", name).read_bytes()
    return Response(text, media_type=_CONTENT_TYPES[Path(name).suffix],
                    headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"})


@page_router.get("/")
def page() -> Response:
    return _static("index.html")


@page_router.get("/phone.js")
def page_script() -> Response:
    return _static("phone.js")


@page_router.get("/phone.css")
def page_style() -> Response:
    return _static("phone.css")


# ----- identify
@api_router.post(
    "/identify",
    summary="Identify a recording",
    description="The recording as the raw body, or as the multipart field 'audio' (wav, flac, ogg/opus, "
                "webm/opus, mp4/m4a AAC, mp3). At least 5 s; send the growing recording again to refine. "
                "The answer is `musicid identify --json`'s object plus `seconds` and `timings` (ms).",
    responses={400: {}, 401: {}, 413: {}, 415: {}, 422: {}, 429: {}, 503: {}},
)
async def identify(request: Request, top: int = Query(5, ge=1, le=10)) -> Any:
    context = request.app.state.context
    worker = request.app.state.worker
    received = time.monotonic()
    try:
        body, label = await _recording_body(request)
        if not body:
            raise ApiError(400, "the request body is empty; send the recording as the body or as the 'audio' field")
        sniff_suffix(body[:64])  # 415 for what is no recording at all, before anything else
        if current_bundle_path(context.library.models_dir) is None and not context.library.songs():
            raise ApiError(503, "the library has no songs yet; add some (the Library tab or POST /api/v1/songs)",
                           NO_MODEL_RETRY_S)
        config = context.config

        def job() -> dict[str, Any]:
            started = time.monotonic()
            audio = decode_recording(body, max_seconds=config.max_recording_seconds,
                                     timeout_s=config.decode_timeout_s, label=label)
            decoded = time.monotonic()
            result = context.recognizer().identify(audio, top_k=top)
            answer = result.to_json(label)
            answer["seconds"] = round(audio.size / SAMPLE_RATE, 2)
            answer["timings"] = {"decode_ms": _ms(decoded - started), "recognize_ms": _ms(time.monotonic() - decoded)}
            return answer

        try:
            future = worker.submit(job)
        except QueueFull:
            raise ApiError(503, "the server is busy with other recordings; try again shortly",
                           worker.retry_after()) from None
        answer, waited = await asyncio.wrap_future(future)
        answer["timings"]["queue_ms"] = _ms(waited)
        answer["timings"]["total_ms"] = _ms(time.monotonic() - received)
        return answer
    except ApiError as exc:
        return exc.response()
    except UnsupportedMedia as exc:
        return ApiError(415, str(exc)).response()
    except ModelError as exc:
        return ApiError(503, str(exc), NO_MODEL_RETRY_S).response()
    except AudioError as exc:
        return ApiError(422, exc.reason).response()
    except RecordingTooShortError as exc:
        return ApiError(422, str(exc)).response()
    except MusicIdError as exc:  # e.g. "the recording is silent"
        return ApiError(422, str(exc)).response()
    except (BodyTooLarge, BodyTooSlow):
        raise  # answered 413/408 by the BodyLimit middleware
    except Exception:  # noqa: BLE001 - a bug: logged with its traceback, a sentence for the client
        log.exception("identify failed")
        return ApiError(500, "the server failed to identify this recording (a bug; see the server's log)").response()


async def _recording_body(request: Request, field: str = "audio") -> tuple[bytes, str]:
    """The body bytes (raw, or the multipart field ``field``) and a label for messages."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return await request.body(), "the recording"
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise ApiError(400, f"the multipart form has no file field '{field}'; send the recording in it")
        return await upload.read(), "the recording"
    finally:
        await form.close()


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


# ----- songs
@api_router.get("/songs", summary="List the library's songs")
def list_songs(request: Request) -> Any:
    songs = request.app.state.context.library.songs()
    return {"songs": [{"id": s.id, "title": s.title, "artist": s.artist, "source": s.source, "duration": s.duration}
                      for s in songs]}


@api_router.post(
    "/songs", status_code=201, summary="Add a song",
    description="The song file as the multipart field 'file' (its name, cleaned to letters, digits, spaces and "
                "'.-_', is the title when the file has no title tag), or as the raw body with ?name=. "
                "The model is out of date until it is trained again.",
    responses={400: {}, 409: {}, 413: {}, 415: {}, 422: {}, 507: {}},
)
async def add_song(request: Request, name: str = Query("uploaded song", max_length=200)) -> Any:
    context = request.app.state.context
    try:
        content_type = request.headers.get("content-type", "")
        if content_type.lower().startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=4)
            try:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise ApiError(400, "the multipart form has no file field 'file'; send the song in it")
                body, name = await upload.read(), upload.filename or name
            finally:
                await form.close()
        else:
            body = await request.body()
        if not body:
            raise ApiError(400, "the request body is empty; send the song file")
        suffix = sniff_suffix(body[:64])
        report = await run_in_threadpool(_import_song, context.library, body, safe_stem(name), suffix)
    except ApiError as exc:
        return exc.response()
    except UnsupportedMedia as exc:
        return ApiError(415, str(exc)).response()
    except diskspace.StorageError as exc:  # full: 507; read-only, failing or vanished data folder: 503
        return ApiError(507 if exc.kind == diskspace.FULL else 503, str(exc)).response()
    except LibraryError as exc:
        return ApiError(409, str(exc)).response()
    if report.failed:
        return ApiError(422, f"the song could not be imported: {report.failed[0][1]}").response()
    if report.duplicates:
        return ApiError(409, f"this song is already in the library (as {report.duplicates[0][1]!r})").response()
    context.on_library_changed()
    song = report.added[0]
    return {"song": {"id": song.id, "title": song.title, "artist": song.artist, "source": song.source,
                     "duration": song.duration}}


def safe_stem(name: str) -> str:
    """A client's file name reduced to a harmless stem: the last path component's stem, only
    letters, digits, spaces and '.-_', no leading dot, at most 80 characters."""
    last = re.split(r"[\\/]", name)[-1]
    stem = last.rsplit(".", 1)[0] if "." in last.lstrip(".") else last
    cleaned = re.sub(r"[^\w .-]", "", stem).strip(" .")
    return cleaned[:80] or "uploaded song"


def _import_song(library: Any, body: bytes, stem: str, suffix: str) -> Any:
    with _upload_lock:
        return _import_song_unlocked(library, body, stem, suffix)


def _import_song_unlocked(library: Any, body: bytes, stem: str, suffix: str) -> Any:
    folder, doing = library.root, "importing the uploaded song"
    # The upload, its decoded float16 copy, and 100 MB left for everything else on that disk.
    diskspace.ensure_free_space(folder, 2 * len(body) + (100 << 20), doing=doing)
    with diskspace.translated(doing, folder):
        with tempfile.TemporaryDirectory(prefix=".upload-", dir=folder) as scratch:
            path = Path(scratch) / f"{stem}{suffix}"
            path.write_bytes(body)
            return enrol(library, [path]).imported


@api_router.delete("/songs/{song_id}", summary="Remove a song", responses={404: {}})
def remove_song(request: Request, song_id: str) -> Any:
    context = request.app.state.context
    if not _SONG_ID.match(song_id):
        return ApiError(404, f"no song with id {song_id[:40]!r}; ids are 12 hexadecimal digits "
                             "(GET /api/v1/songs)").response()
    try:
        song = unenrol(context.library, song_id)
    except LibraryError as exc:
        return ApiError(404, str(exc)).response()
    context.on_library_changed()
    return {"removed": {"id": song.id, "title": song.title}}


# ----- model and training
@api_router.get("/model", summary="The current model's status")
def model_status(request: Request) -> Any:
    context = request.app.state.context
    library = context.library
    bundle = current_bundle_path(library.models_dir)
    if bundle is None:
        return {"ready": False, "message": "there is no trained model yet; add songs and train one"}
    try:
        meta = read_meta(bundle)
    except MusicIdError as exc:
        return {"ready": False, "message": str(exc)}
    metrics = {k: v for k, v in meta.metrics.items() if k in ("accuracy", "top5", "precision", "roc_auc")}
    return {"ready": True, "bundle": bundle.name, "arch": meta.arch, "trained_at": meta.trained_at,
            "epochs": meta.epochs, "out_of_date": meta.library_fingerprint != library.fingerprint(),
            "metrics": metrics}


class TrainRequest(BaseModel):
    arch: Optional[str] = Field(None, description="model architecture (default: the app's default)")
    epochs: Optional[int] = Field(None, ge=1, le=100)
    examples_per_song: Optional[int] = Field(None, ge=8, le=2000)


@api_router.post("/train", status_code=202, summary="Start training in the background",
                 responses={409: {}, 422: {}})
def start_training(request: Request, options: Optional[TrainRequest] = None) -> Any:
    from musicid_core.models.architectures import ARCHITECTURES

    context = request.app.state.context
    overrides = options.model_dump(exclude_none=True) if options is not None else {}
    if "arch" in overrides and overrides["arch"] not in ARCHITECTURES:
        return ApiError(422, f"unknown architecture {overrides['arch'][:40]!r}; "
                             f"choose one of {', '.join(sorted(ARCHITECTURES))}").response()
    if not context.library.songs():
        return ApiError(409, "the library has no songs; add songs before training").response()
    try:
        context.training.start(overrides)
    except TrainingBusy as exc:
        return ApiError(409, str(exc)).response()
    return context.training.status()


@api_router.get("/train", summary="Training progress")
def training_progress(request: Request) -> Any:
    return request.app.state.context.training.status()


@api_router.post("/train/cancel", summary="Cancel training (the previous model stays)", responses={409: {}})
def cancel_training(request: Request) -> Any:
    training = request.app.state.context.training
    if not training.cancel():
        return ApiError(409, "no training run is in progress").response()
    return training.status()


@api_router.get("/server", summary="This server: version and certificate fingerprint")
def server_info(request: Request) -> Any:
    from musicid_core import __version__

    context = request.app.state.context
    return {"version": __version__, "fingerprint": context.fingerprint,
            "max_recording_seconds": context.config.max_recording_seconds}
