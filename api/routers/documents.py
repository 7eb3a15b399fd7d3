"""/v1/documents: list (paged, filterable), upload (ingested into a new index version), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile, status

from api.context import document_out
from api.deps import ReadAccess, State, WriteAccess
from api.errors import ProblemError
from api.index_jobs import add_job, check_no_build_running, remove_job, remove_upload_job
from api.schemas import DocumentPage, JobAccepted, StoredUploadOut
from api.uploads import checked_filename, find_upload, store_upload
from indexes.protocols import SearchFilters
from ipqa.domain import DocKind, Jurisdiction, Language

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get("/documents", response_model=DocumentPage, summary="List documents")
def list_documents(
    state: State, _: ReadAccess,
    offset: int = Query(default=0, ge=0, le=10_000_000),
    limit: int = Query(default=50, ge=1, le=500),
    kind: Annotated[list[DocKind] | None, Query()] = None,
    jurisdiction: Annotated[list[Jurisdiction] | None, Query()] = None,
    language: Annotated[list[Language] | None, Query()] = None,
    title: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> DocumentPage:
    filters = SearchFilters(kinds=_set(kind), jurisdictions=_set(jurisdiction), languages=_set(language),
                            titles=_set(title))
    filters = None if filters.is_empty() else filters
    with state.pinned() as services:
        store = services.snapshot.store
        items = [document_out(d, state.uploads_dir) for d in store.documents(offset=offset, limit=limit,
                                                                             filters=filters)]
        total = store.count_documents(filters) if hasattr(store, "count_documents") else len(items)
        return DocumentPage(items=items, total=total, offset=offset, limit=limit, index_version=services.version)


def _set(values: list | None) -> frozenset[str] | None:
    return None if not values else frozenset(str(v) for v in values)


@router.post("/documents", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED,
             summary="Upload documents (ingested into a new index version by a job)",
             responses={400: {"description": "Bad file name or empty file."},
                        401: {"description": "Missing or invalid API key."},
                        403: {"description": "The key has no write access."},
                        409: {"description": "Another index job is running."},
                        413: {"description": "A file is over the size limit (refused while it arrives)."},
                        415: {"description": "A file type that is not accepted."}})
def upload_documents(state: State, _: WriteAccess, files: list[UploadFile] = File(...)) -> JobAccepted:
    limits = state.limits
    if len(files) > limits.max_upload_files:  # the document's maxItems: invalid input, like any schema violation
        raise ProblemError(422, f"{len(files)} files were sent; the limit is {limits.max_upload_files} per request",
                           slug="too-many-files", title="Too many files")
    # check every name and size before storing anything: a bad file refuses the request as a whole
    names = [checked_filename(f.filename, allowed_extensions=limits.upload_extensions, content_type=f.content_type)
             for f in files]
    for f, name in zip(files, names):
        if f.size is not None and f.size > limits.max_upload_bytes:
            raise ProblemError(413, f"file {name!r} is {f.size} bytes; the limit is {limits.max_upload_bytes}",
                               slug="upload-too-large", title="Upload too large")
    if state.jobs.active is not None:  # fail before storing when the job would be refused anyway
        raise ProblemError(409, f"index job {state.jobs.active} is still running; try again when it has finished",
                           slug="job-running", title="Another index job is running")
    check_no_build_running(state)
    stored = [store_upload(state.uploads_dir, name, f.file, max_bytes=limits.max_upload_bytes)
              for f, name in zip(files, names)]
    paths = list(dict.fromkeys(s.path for s in stored))
    record = state.jobs.submit("add", {"files": [s.filename for s in stored]}, add_job(state, paths))
    return JobAccepted(job_id=record["id"], state=record["state"], kind="add", href=f"/v1/jobs/{record['id']}",
                       uploads=[StoredUploadOut(filename=s.filename, sha256=s.sha256, size=s.size,
                                                duplicate=s.duplicate) for s in stored])


@router.delete("/documents/{document_id}", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED,
               summary="Remove a document (a job makes a new index version without it)",
               description="`document_id` is a document's id, or an upload's `sha256` (as returned by the "
                           "upload): that removes the uploaded file, indexed or not, with its documents.",
               responses={403: {"description": "The key has no write access."},
                          404: {"description": "No such document in the current index version, nor upload."},
                          409: {"description": "Another index job is running."}})
def delete_document(state: State, _: WriteAccess,
                    document_id: str = Path(min_length=1, max_length=200)) -> JobAccepted:
    upload = find_upload(state.uploads_dir, document_id)
    if upload is not None:  # an upload's SHA-256: the file goes, with whatever was indexed from it
        check_no_build_running(state)
        record = state.jobs.submit("remove", {"upload": document_id}, remove_upload_job(state, upload))
        return JobAccepted(job_id=record["id"], state=record["state"], kind="remove",
                           href=f"/v1/jobs/{record['id']}")
    with state.pinned() as services:
        document = services.snapshot.store.document(document_id)
        if document is None:
            raise ProblemError(404, f"no document {document_id!r} in index version {services.version}",
                               slug="no-such-document", title="No such document")
    check_no_build_running(state)
    record = state.jobs.submit("remove", {"document_ids": [document_id]},
                               remove_job(state, [document_id], [document.source_path]))
    return JobAccepted(job_id=record["id"], state=record["state"], kind="remove", href=f"/v1/jobs/{record['id']}")
