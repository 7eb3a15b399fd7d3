"""The OpenAPI document, completed so that it describes what the service really sends.

FastAPI documents only what it sees in the routes: its own 422 body as ``application/json`` (ours is
a problem detail, ``application/problem+json``), no 401 where a key is checked inside a dependency,
no error the middleware or the handlers add, and a streamed answer as an opaque string. This module
post-processes the generated document once:

* every error response (and a ``default`` one for what any operation may meet: 413, 503, 500) is a
  ``Problem`` in ``application/problem+json``;
* operations that take a bearer key document 401; those that take input document 422;
* ``/v1/ask``'s ``text/event-stream`` is described event by event (``token``, ``answer``, ``error``,
  each a JSON ``data`` payload), as OpenAPI 3.2's sequential media types do;
* the upload body's ``files`` has the configured bounds (at least one, at most ``max_upload_files``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.uploads import EXTENSION_OF_MEDIA_TYPE

PROBLEM = "application/problem+json"
OWN_ERROR_SHAPE = frozenset({"openai"})  # tags of operations whose errors are not problem details
# what an upload's part may say it is (api.uploads reads the type from a name without an extension)
UPLOAD_MEDIA_TYPES = tuple(t for t in EXTENSION_OF_MEDIA_TYPE if t != "text/xml")
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem detail. Validation problems add `errors` (location, message, type); "
                   "others may add members of their own (`reason`, `ready`).",
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "`about:blank` or `urn:ipqa:problem:<slug>`"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "loc": {"type": "array", "items": {"type": "string"}},
            "msg": {"type": "string"}, "type": {"type": "string"}}}},
    },
    "required": ["type", "title", "status", "detail", "instance"],
    "additionalProperties": True,
}
TOKEN_EVENT_SCHEMA: dict[str, Any] = {
    "title": "TokenEvent",
    "type": "object",
    "properties": {"text": {"type": "string", "description": "The next piece of the answer's text."}},
    "required": ["text"],
}


def _event(name: str, payload_ref: str, description: str) -> dict[str, Any]:
    return {"type": "object", "description": description,
            "properties": {"event": {"const": name},
                           "data": {"type": "string", "contentMediaType": "application/json",
                                    "contentSchema": {"$ref": f"#/components/schemas/{payload_ref}"}}},
            "required": ["event", "data"]}


SSE_EVENT_SCHEMA: dict[str, Any] = {
    "description": "One Server-Sent Event: `token` events while the answer is generated, then one `answer` "
                   "(the same object as the JSON reply) or one `error` (a problem detail).",
    "oneOf": [_event("token", "TokenEvent", "A piece of the answer's text."),
              _event("answer", "AskResponse", "The complete, verified answer."),
              _event("error", "Problem", "Answering failed after the stream began.")],
}


def install_openapi(app: FastAPI, *, max_upload_files: int) -> None:
    """Replace ``app.openapi`` with one that completes FastAPI's document (built once, cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            complete(document, max_upload_files=max_upload_files)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any], *, max_upload_files: int) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["TokenEvent"] = TOKEN_EVENT_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if OWN_ERROR_SHAPE & set(operation.get("tags", ())):
                # the OpenAI-compatible operations answer OpenAI's error shape, documented by them; only
                # the body limit, which answers before any route, is added
                if operation.get("requestBody"):
                    operation["responses"].setdefault("413", {
                        "description": "The request body is over the limit (refused before it is read).",
                        "content": {PROBLEM: {"schema": _PROBLEM_REF}}})
                continue
            _complete_operation(operation)
    for name, schema in schemas.items():
        if name.startswith("Body_upload_documents") and "files" in schema.get("properties", {}):
            files = schema["properties"]["files"]
            files.update(minItems=1, maxItems=max_upload_files,
                         description="The files. The type is read from each file name's extension; a name "
                                     "without one takes the type its part's Content-Type names.")
            files["items"].update(minLength=1)  # an empty file is refused
    upload = document.get("paths", {}).get("/v1/documents", {}).get("post", {})
    multipart = upload.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if multipart is not None:
        multipart["encoding"] = {"files": {"contentType": ", ".join(UPLOAD_MEDIA_TYPES)}}
    # FastAPI's validation-error schemas describe a body this service never sends
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _complete_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if operation.get("security"):
        responses.setdefault("401", {"description": "Missing or invalid API key (read operations need one "
                                                    "when read keys are configured)."})
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("422", {"description": "Invalid request."})
        responses["422"]["description"] = "Invalid request (a problem detail with `errors`)."
    responses.setdefault("default", {"description": "Any other error: 413 request too large, 503 index "
                                                    "unavailable, 500 unexpected (a problem detail)."})
    for code, response in responses.items():
        if code == "default" or int(code) >= 400:
            response["content"] = {PROBLEM: {"schema": _PROBLEM_REF}}
        elif "text/event-stream" in response.get("content", {}):
            response["content"]["text/event-stream"] = {"schema": SSE_EVENT_SCHEMA}
