"""The FastAPI application: OpenAI-compatible routes, the health check and the chat page.

FastAPI (on Starlette) with uvicorn: the most used Python web stack for OpenAI-style
servers (llama-cpp-python's and vLLM's servers use it), async end to end, so a
streamed answer costs a coroutine, not a thread. Routes read raw bodies and validate
them with the pydantic models of ``_protocol`` themselves, so every rejection is an
OpenAI-shaped error with the parameter named (and the hot route skips FastAPI's
dependency machinery, which it would not use).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from sapient import Host
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._config import ServeConfig
from ._protocol import APIError, ChatRequest, validation_error
from ._service import ChatService
from ._sessions import check_session_id

__all__ = ["create_app", "SESSION_HEADER"]

log = logging.getLogger("sapient.serve")

SESSION_HEADER = "X-Sapient-Session"
STATIC = Path(__file__).resolve().parent / "static"
_PAGE_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
#: The page runs only its own script and talks only to this server; model and tool text is
#: inserted as text nodes, and this policy would block an injected script anyway.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, default=str).encode()
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def _error(err: APIError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return _json(err.body(), err.status, headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before reading it all)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"The request body is larger than {limit} bytes; send a shorter "
                       "conversation (or use a session).", code="request_too_large")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise APIError(413, f"The request body is larger than {limit} bytes.",
                           code="request_too_large")
    return bytes(body)


def _authorize(request: Request, key: str | None) -> None:
    if key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise APIError(401, "Missing or wrong API key. Send it as 'Authorization: Bearer <key>'.",
                       code="invalid_api_key")


def _session_id(request: Request) -> str | None:
    value = request.headers.get(SESSION_HEADER)
    if value is None:
        return None
    if not check_session_id(value):
        raise APIError(400, f"The {SESSION_HEADER} header must be 1-128 letters, digits, '.', "
                       "'_', ':' or '-' (a UUID works).", param=SESSION_HEADER,
                       code="invalid_session_id")
    return value


def create_app(config: ServeConfig | None = None, *, host: Host | None = None) -> FastAPI:
    """The server for ``config``'s agent, ready for uvicorn (or any ASGI server).

    Args:
        config: what to serve; default :class:`ServeConfig` (the host's LLM, every
            registered tool, in-memory sessions, no API key on loopback).
        host: the :class:`~sapient.Host` resolving LLM specs and tool names; default
            the agent's own default host.
    """
    config = config or ServeConfig()
    config.check()
    service = ChatService(config, host)
    started = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.store.close()

    app = FastAPI(title="Sapient", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.service = service
    _install_errors(app)
    _install_api(app, service, config, started)
    if config.page:
        _install_page(app)
    return app


def _install_api(app: FastAPI, service: ChatService, config: ServeConfig, started: int) -> None:
    model_card = {"id": service.model, "object": "model", "created": started,
                  "owned_by": "sapient"}

    async def chat_completions(request: Request) -> Response:
        _authorize(request, config.api_key)
        session_id = _session_id(request)
        body = await _read_body(request, config.max_body_bytes)
        try:
            chat = ChatRequest.model_validate_json(body)
        except pydantic.ValidationError as exc:
            raise validation_error(exc) from None
        turn = await service.start_turn(chat, session_id)
        headers = {SESSION_HEADER: session_id} if session_id else {}
        if chat.stream:
            headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            return StreamingResponse(service.stream(turn), media_type="text/event-stream",
                                     headers=headers)
        return _json(await service.complete(turn), headers=headers)

    # A plain Starlette route on the FastAPI app: the handler reads and validates its body
    # itself, so FastAPI's per-request dependency solving would only add cost (~100 us).
    app.add_route("/v1/chat/completions", chat_completions, methods=["POST"])

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        _authorize(request, config.api_key)
        return _json({"object": "list", "data": [model_card]})

    @app.get("/v1/models/{model:path}")
    async def get_model(model: str, request: Request) -> Response:
        _authorize(request, config.api_key)
        if model != service.model:
            raise APIError(404, f"The model '{model}' does not exist here; this server serves "
                           f"'{service.model}'.", param="model", code="model_not_found")
        return _json(model_card)

    @app.get("/health")
    async def health() -> Response:
        try:
            await service.store.ping()
        except Exception as exc:
            log.warning("session store unreachable: %s", exc)
            return _json({"status": "unavailable", "sessions": service.store.name}, 503)
        return _json({"status": "ok", "sessions": service.store.name})


def _install_page(app: FastAPI) -> None:
    page = (STATIC / "index.html").read_bytes()
    assets = {name: (STATIC / name).read_bytes() for name in _PAGE_FILES}

    @app.get("/")
    async def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    @app.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in assets:
            raise APIError(404, f"There is no file '{name}' here.", code="not_found")
        return Response(assets[name], media_type=_PAGE_FILES[name], headers=_PAGE_HEADERS)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> Response:
        return _error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"There is nothing at {request.method} {request.url.path}; the API is " \
                      "under /v1 (POST /v1/chat/completions, GET /v1/models)."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
        else:
            message = str(exc.detail)
        return _error(APIError(exc.status_code, message,
                               code="not_found" if exc.status_code == 404 else None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(APIError(400, f"Invalid request: {exc.errors()[0].get('msg')}."))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("request to %s failed", request.url.path, exc_info=exc)
        return _error(APIError(500, f"The server failed while answering ({type(exc).__name__}); "
                               "the details are in the server log.", type="server_error"))
