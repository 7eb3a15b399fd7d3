"""GET /v1/chunks/{id}: a unit's text in its context (document, hierarchy, neighbouring units)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from api.context import chunk_context
from api.deps import ReadAccess, State
from api.errors import ProblemError
from api.schemas import ChunkContext

router = APIRouter(prefix="/v1", tags=["chunks"])


@router.get("/chunks/{chunk_id}", response_model=ChunkContext, summary="A chunk and its context",
            responses={404: {"description": "No such chunk in the current index version."}})
def get_chunk(state: State, _: ReadAccess,
              chunk_id: str = Path(min_length=1, max_length=200, description="A chunk id (as in hits).")
              ) -> ChunkContext:
    with state.pinned() as services:
        chunk = services.snapshot.store.chunk(chunk_id)
        if chunk is None:
            raise ProblemError(404, f"no chunk {chunk_id!r} in index version {services.version}",
                               slug="no-such-chunk", title="No such chunk")
        return chunk_context(services.snapshot.store, chunk, part=None, index_version=services.version,
                             uploads_dir=state.uploads_dir, versions=services.citation_versions)
