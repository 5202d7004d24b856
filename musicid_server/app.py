"""The ASGI application: FastAPI routes inside the raw-stream guards.

Order, outermost first: token check (401, nothing else), per-client rate limit (429), body cap
and stall timeout (413/408), then FastAPI. No CORS middleware: cross-origin pages cannot read
answers, and the SameSite=Strict cookie is never sent by them anyway.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from musicid_core import __version__
from musicid_core.models.store import current_bundle_path
from musicid_server.auth import TokenAuth
from musicid_server.context import ServerContext
from musicid_server.limits import BodyLimit, RateLimit
from musicid_server.recognition import RecognitionWorker
from musicid_server.responses import error_body
from musicid_server.routes import api_router, page_router

API_PREFIX = "/api/v1"
SONG_UPLOAD_PATH = f"{API_PREFIX}/songs"


def create_app(context: ServerContext) -> FastAPI:
    worker = RecognitionWorker(context.config.queue_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if current_bundle_path(context.library.models_dir) is not None:
            worker.submit(context.recognizer)  # load and warm the model before the first phone asks
        yield
        worker.stop()

    app = FastAPI(
        title="MusicID phone API",
        version=__version__,
        description="Identify which of your songs is playing from a recording; manage the library and training. "
                    "Every request needs the pairing token (Authorization: Bearer TOKEN, or the page's cookie).",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the Swagger page loads scripts from a CDN; the schema itself is served
        redoc_url=None,
        lifespan=lifespan,
    )
    _human_errors(app)
    app.state.context = context
    app.state.worker = worker
    app.include_router(page_router)
    app.include_router(api_router, prefix=API_PREFIX)
    config = context.config

    def cap_for(path: str) -> int:
        return config.max_song_bytes if path == SONG_UPLOAD_PATH else config.max_recording_bytes

    app.add_middleware(BodyLimit, cap_for=cap_for, timeout_s=config.body_timeout_s)
    app.add_middleware(RateLimit, rate=config.rate_per_second, burst=config.rate_burst)
    app.add_middleware(TokenAuth, pairing=context.pairing)
    return app


def _human_errors(app: FastAPI) -> None:
    """FastAPI's own errors (validation, unknown path) in the same shape as ours, as a sentence."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
                             for e in exc.errors()[:3])
        return JSONResponse(error_body(422, f"the request is not valid ({problems})"), 422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        message = {404: "there is no such page or endpoint (the API is under /api/v1)",
                   405: "this endpoint does not accept that method"}.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(exc.status_code, message), exc.status_code)


def worker_of(app: Any) -> RecognitionWorker:
    return app.state.worker
