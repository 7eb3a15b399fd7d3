"""GET /v1/jobs/{id}: state, progress and per-file errors of an index job."""

from __future__ import annotations

from fastapi import APIRouter, Path

from api.deps import ReadAccess, State
from api.errors import ProblemError
from api.schemas import JobOut

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobOut, summary="An index job",
            responses={404: {"description": "No such job."}})
async def get_job(state: State, _: ReadAccess, job_id: str = Path(min_length=1, max_length=64)) -> JobOut:
    record = state.jobs.get(job_id)
    if record is None:
        raise ProblemError(404, f"no job {job_id!r}", slug="no-such-job", title="No such job")
    return JobOut(**record)
