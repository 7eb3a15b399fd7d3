"""Property-based fuzzing of every operation in /openapi.json against a REAL uvicorn server: a few
hundred generated requests (valid and invalid), none may get a 5xx, every error is a problem detail,
and every response conforms to the document (schemathesis's checks: documented status codes,
content types, headers and response schemas; invalid data refused). Requests carry a write key, so
uploads, deletions and rebuilds are exercised too."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
import schemathesis
from api_fixtures import WRITE, LiveServer, build_example_index, make_settings, serve, services_factory
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ipqa.errors import InputError
from ipqa.in_force import parse_as_of

OPENAI_PATHS = {"/v1/chat/completions", "/v1/models", "/v1/models/{model}"}
# An upload's part may be any of the document's types; schemathesis has no serializer for the binary
# ones, so their generated content is sent as the bytes it is (the server reads the type from the
# file name or the part's Content-Type, never from the content).
@schemathesis.serializer("application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
def _as_bytes(ctx: object, value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


EXAMPLES_PER_OPERATION = 15  # per operation and mode (valid / invalid data): ~13 x 2 x 15 requests


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path
           ) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("api-fuzz") / "data", tiny_embedder_dir, examples_dir,
                             max_upload_bytes=64 * 1024)
    build_example_index(settings, examples_dir)
    yield from serve(settings, services_factory=services_factory(settings))


@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> schemathesis.BaseSchema:
    # 413 is how an oversized (and so schema-violating) body is refused: a rejection like 400 or 422
    statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
    config = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": statuses}}})
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    # One hypothesis run per operation (schemathesis's own pytest plugin does not run under this pytest).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    calls: list[tuple[str, int]] = []
    nonconforming: dict[str, str] = {}  # "operation: first line of the failure" -> an example
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            calls.append((operation.label, _check(case, nonconforming)))

        try:
            check()
        except Unsatisfiable:
            # no invalid request exists for an operation without parameters (GET /healthz)
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    assert len(calls) >= 300
    statuses = Counter(status for _, status in calls)
    print(sorted(Counter(calls).items()))
    # the write key was used: write operations got past authentication
    assert any(label.startswith(("POST /v1/documents", "DELETE", "POST /v1/index")) and status != 401
               for label, status in calls), statuses
    assert statuses[200] > 50 and statuses[422] > 20, statuses
    assert not nonconforming, "responses that do not conform to /openapi.json:\n" + "\n".join(
        f"{key}\n    {example}" for key, example in sorted(nonconforming.items()))


def _impossible_as_of(case: schemathesis.Case) -> bool:
    as_of = case.body.get("as_of") if isinstance(case.body, dict) else None
    if not isinstance(as_of, str):
        return False
    try:
        parse_as_of(as_of)
    except InputError:
        return True
    return False


def _check(case: schemathesis.Case, nonconforming: dict[str, str]) -> int:
    # The generated bearer value is replaced by a real write key; a negative case that leaves the
    # header out on purpose (to see a 401) is sent without one.
    generated_auth = any(name.lower() == "authorization" for name in (case.headers or {}))
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    response = case.call(headers=WRITE if generated_auth or not negative else None, timeout=60)
    where = f"{case.method} {case.formatted_path}"
    # OpenAI's API answers every invalid request 400 (invalid_request_error), also one whose JSON fits
    # the schema but not the conversation rules (the last message must be a non-empty user message);
    # the OpenAI-compatible operations keep that contract, so "schema-valid means accepted" is not
    # theirs. Every other check applies to them too.
    # The same holds for an ``as_of`` date that fits the pattern but is no date (2015-02-30) or lies
    # after today: a rule JSON Schema cannot state, refused with a 422 that names the field.
    excluded = ([positive_data_acceptance] if "openai" in (case.operation.tags or ()) or _impossible_as_of(case)
                else None)
    try:
        case.validate_response(response, headers=WRITE, excluded_checks=excluded)
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis groups the failed checks in one
        for line in str(failure).splitlines():
            if line.strip().startswith("- "):  # "- Undocumented HTTP status code", …
                key = f"{case.operation.label}: {line.strip()[2:]}"
                nonconforming.setdefault(key, f"{response.status_code} {response.text[:200]}")
        if not any(k.startswith(case.operation.label) for k in nonconforming):
            nonconforming[f"{case.operation.label}: {str(failure).splitlines()[0]}"] = response.text[:200]
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        body = response.json()
        assert "Traceback" not in response.text
        if case.path in OPENAI_PATHS and not content_type.startswith("application/problem+json"):
            # the OpenAI-compatible endpoints answer in OpenAI's error shape (what its clients parse);
            # only the body-size limit, enforced before any route, is a problem detail there
            assert content_type.startswith("application/json") and body["error"]["message"], f"{where}: {body}"
            return response.status_code
        assert content_type.startswith("application/problem+json"), \
            f"{where}: {response.text[:300]}"
        assert body["status"] == response.status_code
    return response.status_code
