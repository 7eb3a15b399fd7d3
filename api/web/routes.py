"""The web page: ``GET /`` (ask, search, conversation, upload), its assets under ``/web/static``,
and the unit view ``GET /web/units/{chunk_id}`` (an HTML fragment the page shows beside the answer).

Everything is served by this process from files in this package: no CDN, no build step, works with
no internet. The page calls the JSON API (``/v1/ask`` streamed, ``/v1/search``, ``/v1/conversations``,
``/v1/documents``, ``/v1/jobs``) with the key the user typed, so the page has exactly the access
the key has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from api.deps import ReadAccess, State
from api.errors import ProblemError
from api.web.i18n import SCRIPT_KEYS, TEXTS, pick_language
from api.web.unit_view import unit_view
from ipqa.errors import InputError
from ipqa.in_force import parse_as_of

HERE = Path(__file__).resolve().parent
# autoescape for every template: the names end in .jinja, which Jinja's default
# (select_autoescape by extension) would leave unescaped, and unit text and quotes come from documents
templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True))
router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=HERE / "static"), name="web-static")


@router.get("/", response_class=HTMLResponse)
def page(request: Request, lang: str | None = Query(default=None, max_length=5),
         as_of: str | None = Query(default=None, max_length=100)) -> HTMLResponse:
    """The page; ``as_of`` (kept in the URL by the page's forms, so a result is a shareable link)
    fills the date fields. A date the API would refuse is said on the page (422), not a 500."""
    language = pick_language(lang, request.headers.get("accept-language"))
    texts = TEXTS[language]
    script_texts = json.dumps({k: texts[k] for k in SCRIPT_KEYS}, ensure_ascii=False)
    date, problem = "", None
    if as_of:
        try:
            date = parse_as_of(as_of)
        except InputError as exc:
            problem = exc.problem
    return templates.TemplateResponse(request, "page.html.jinja",
                                      {"t": texts, "lang": language, "script_texts": script_texts,
                                       "as_of": date, "as_of_error": problem},
                                      status_code=422 if problem else 200)


@router.get("/web/units/{chunk_id}", response_class=HTMLResponse)
def unit(request: Request, state: State, _: ReadAccess,
         chunk_id: str = PathParam(min_length=1, max_length=200),
         quote: str = Query(default="", max_length=5000),
         status: str | None = Query(default=None, pattern="^(verified|unsupported|unresolvable)$"),
         lang: str | None = Query(default=None, max_length=5)) -> HTMLResponse:
    language = pick_language(lang, request.headers.get("accept-language"))
    with state.pinned() as services:
        store = services.snapshot.store
        chunk = store.chunk(chunk_id)
        if chunk is None:
            raise ProblemError(404, f"no chunk {chunk_id!r} in index version {services.version}",
                               slug="no-such-chunk", title="No such chunk")
        view: dict[str, Any] = unit_view(store, chunk, quote=quote, status=status,
                                         versions=services.citation_versions)
    return templates.TemplateResponse(request, "unit.html.jinja", {"t": TEXTS[language], "v": view})
