"""/healthz (the process answers) and /readyz (the index and models are loaded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.auth import Scope
from api.deps import Keys, State
from api.errors import problem_response
from api.schemas import Health, Readiness
from api.state import describe

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, response_model_exclude_none=True, summary="Readiness",
            description="Open to everyone (load balancers ask it without a key). A caller without read "
                        "access learns only whether the service is ready; one with read access also gets the "
                        "index version, counts, embedder and generator.",
            responses={503: {"description": "Not ready (problem detail with `ready: false`)."}})
def readyz(request: Request, state: State, keys: Keys) -> Any:
    facts = describe(state)
    # the key is read by hand, not through the HTTPBearer dependency: that would declare the
    # endpoint secured in the OpenAPI document, and it is open to everyone
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not keys.grants(Scope.READ, token.strip() if scheme.lower() == "bearer" else None):
        facts = {"ready": facts["ready"]}  # what is served is for callers with read access
    if not facts["ready"]:
        return problem_response(request, 503, "the index is not loaded (no index built yet, or it cannot be "
                                              "opened; see the server log)", slug="not-ready", title="Not ready",
                                headers={"Retry-After": "5"}, **facts)
    return Readiness(**facts)
