"""Every error the API returns is an RFC 9457 problem detail (``application/problem+json``).

Members: ``type`` (``about:blank`` for a plain HTTP status, ``urn:ipqa:problem:<slug>`` for one of
ipqa's own problems), ``title``, ``status``, ``detail``, ``instance`` (the request path) and, where
useful, extension members (``errors`` for validation problems, ``reason`` for unresolvable
citations). No stack trace or exception text of an unexpected error ever reaches a client: the
catch-all handler logs it and answers a generic 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.redact import client_message
from indexes.locking import BuildInProgressError
from ipqa.errors import ConfigError, IndexUnavailableError, InputError, IpqaError

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("ipqa.api")


class ProblemError(Exception):
    """Raised by routers for an error with a status and a message meant for the client."""

    def __init__(self, status: int, detail: str, *, slug: str | None = None, title: str | None = None,
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title
        self.headers = headers
        self.extensions = extensions


def problem_response(request: Request, status: int, detail: str | None, *, slug: str | None = None,
                     title: str | None = None, headers: dict[str, str] | None = None,
                     **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:ipqa:problem:{slug}" if slug else "about:blank",
        "title": title or _phrase(status),
        "status": status,
        "detail": detail or _phrase(status),
        "instance": request.url.path,
    }
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def allowed_methods(request: Request) -> list[str]:
    """Every method the API document lists for the request's path, plus OPTIONS (and HEAD with GET)."""
    import re

    methods: set[str] = {"OPTIONS"}
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    """Route every kind of error to a problem response."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, slug=exc.slug, title=exc.title,
                                headers=exc.headers, **exc.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # 404 for unknown routes, 405 for wrong methods, … raised by Starlette itself.
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route of the path only (GET /v1/documents
            # hid POST): name every route's
            allowed = ", ".join(allowed_methods(request))
            headers["Allow"] = allowed
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=headers)
            detail = f"{request.method} is not allowed here; allowed: {allowed}"
        return problem_response(request, exc.status_code, detail, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Location, message and type only: echoing the offending input back could be huge.
        errors = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem_response(request, 422, f"the request is invalid: {summary}", slug="validation",
                                title="Invalid request", errors=errors)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        where = f"invalid input in {request.url.path}"
        return problem_response(request, 422, client_message(str(exc), logger, where), slug="invalid-input",
                                title="Invalid input",
                                errors=[{"loc": [client_message(exc.source, logger, where)],
                                         "msg": client_message(exc.problem, logger, where), "type": "input"}])

    @app.exception_handler(IndexUnavailableError)
    async def _unavailable(request: Request, exc: IndexUnavailableError) -> JSONResponse:
        return problem_response(request, 503, client_message(str(exc), logger, "index unavailable"),
                                slug="index-unavailable", title="Index unavailable", headers={"Retry-After": "5"})

    @app.exception_handler(BuildInProgressError)
    async def _busy(request: Request, exc: BuildInProgressError) -> JSONResponse:
        return problem_response(request, 409, client_message(str(exc), logger, "index build refused"),
                                slug="job-running", title="Another index job is running")

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        logger.error("configuration error while serving %s: %s", request.url.path, exc)
        return problem_response(request, 500, "the service is misconfigured; see the server log",
                                slug="configuration")

    @app.exception_handler(IpqaError)
    async def _ipqa(request: Request, exc: IpqaError) -> JSONResponse:
        # ipqa's own errors carry messages written for users (no paths of the code, no traces).
        return problem_response(request, 400, client_message(str(exc), logger, f"{request.url.path} failed"),
                                slug="request-failed", title="Request failed")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error while serving %s %s", request.method, request.url.path)
        return problem_response(request, 500, "an unexpected error occurred; it has been logged",
                                slug="internal")
