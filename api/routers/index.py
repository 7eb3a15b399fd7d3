"""/v1/index: rebuild (a background job) and the versions on disk."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, status

from api.deps import ReadAccess, State, WriteAccess
from api.index_jobs import check_no_build_running, rebuild_job, rebuild_sources
from api.schemas import JobAccepted, RebuildRequest

router = APIRouter(prefix="/v1/index", tags=["index"])


@router.post("/rebuild", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED,
             summary="Rebuild the index from scratch (the service switches when it is verified)",
             responses={403: {"description": "The key has no write access."},
                        404: {"description": "A source is not an existing path inside a configured rebuild source "
                                             "or the uploads directory."},
                        409: {"description": "Another index job is running, or nothing to rebuild from."}})
def rebuild(state: State, _: WriteAccess, body: RebuildRequest | None = Body(default=None)) -> JobAccepted:
    sources = rebuild_sources(state, body.sources if body else None)
    check_no_build_running(state)
    shown = [p.name for p in sources]
    record = state.jobs.submit("rebuild", {"sources": shown}, rebuild_job(state, sources))
    return JobAccepted(job_id=record["id"], state=record["state"], kind="rebuild", href=f"/v1/jobs/{record['id']}")


@router.get("", summary="Index versions and the one being served")
def index_info(state: State, _: ReadAccess) -> dict[str, Any]:
    from indexes.cli import index_status

    info = index_status(state.manager.index_root)
    info.pop("index_root", None)  # a server path
    return {"serving": state.manager.version, **info}
