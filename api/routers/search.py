"""POST /v1/search: ranked hits with scores and citations."""

from __future__ import annotations

import time

from fastapi import APIRouter

from api.context import documents_by_id
from api.deps import ReadAccess, State
from api.schemas import HitOut, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, summary="Search the index")
def search(body: SearchRequest, state: State, _: ReadAccess) -> SearchResponse:
    query = state.limits.check_question("query", body.query)
    k = body.k or state.limits.default_k
    filters = body.search_filters()
    started = time.perf_counter()
    with state.pinned() as services:
        hits = services.retriever.retrieve(query, k, filters)
        retrieved = time.perf_counter()
        documents = documents_by_id(services.snapshot.store, (h.chunk.document_id for h in hits),
                                    state.uploads_dir, services.documents)
        version = services.version
    return SearchResponse(query=query, index_version=version, hits=[HitOut.of(h) for h in hits],
                          documents=documents,
                          timings={"retrieve_ms": round((retrieved - started) * 1000, 2),
                                   "total_ms": round((time.perf_counter() - started) * 1000, 2)})
