"""GET /v1/citations/resolve?q=专利法第十一条: what a citation names, in context, per law version."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.context import chunk_context
from api.deps import ReadAccess, State
from api.errors import ProblemError
from api.history_schemas import HistoryResponse
from api.schemas import Resolved, ResolveResponse
from ingest.citations import resolve_citation
from rag.history import HistoryError, LawHistory, history_to_dict

router = APIRouter(prefix="/v1", tags=["citations"])


@router.get("/citations/resolve", response_model=ResolveResponse, summary="Resolve a citation",
            responses={404: {"description": "The citation does not resolve; `reason` says why "
                                            "(unparseable, no_such_unit, no_such_part, …)."}})
def resolve(state: State, _: ReadAccess,
            q: str = Query(min_length=1, max_length=500, description="A citation in any written form."),
            version: str | None = Query(default=None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                                        description="Only this law version (year or ISO date).")
            ) -> ResolveResponse:
    text = state.limits.check_question("q", q)
    with state.pinned() as services:
        store = services.snapshot.store
        outcome = resolve_citation(text, store, version=version)
        if not outcome.ok:
            reason = outcome.failure.reason.value if outcome.failure else "no_such_unit"
            message = outcome.failure.message if outcome.failure else f"{text!r} resolves to nothing"
            raise ProblemError(404, message, slug="unresolvable-citation", title="Citation does not resolve",
                               reason=reason)
        versions = services.citation_versions  # a version not in force today is cited with its version
        resolutions = [
            Resolved(citation=versions.citation(r.ref.canonical, r.chunk.document_id), version=r.version,
                     context=chunk_context(store, r.chunk, part=r.part, index_version=services.version,
                                           uploads_dir=state.uploads_dir, versions=versions))
            for r in outcome.resolutions]
    return ResolveResponse(query=text, resolutions=resolutions)


@router.get("/citations/history", response_model=HistoryResponse, summary="A unit in every version of its law",
            responses={404: {"description": "The citation names no statute article in the index, or a version "
                                            "of the law that does not exist (the message lists those that do)."}})
def history(state: State, _: ReadAccess,
            citation: str = Query(min_length=1, max_length=500,
                                  description="An article, with or without a version qualifier: "
                                              "专利法实施细则（2010）第六十九条, 原专利法实施细则第六十九条.")
            ) -> HistoryResponse:
    """The article in every version of its law, oldest first: dates, where it was renumbered, split,
    merged or deleted (articles aligned by their text), and a word-level diff from each version to the next."""
    text = state.limits.check_question("citation", citation)
    with state.pinned() as services:
        try:
            found = LawHistory(services.snapshot.store).history(text)
        except HistoryError as exc:
            raise ProblemError(404, str(exc), slug="no-history", title="No history for this citation") from None
        return HistoryResponse.model_validate({**history_to_dict(found), "index_version": services.version})
