"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse
from starlette.types import Send

from api.common.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:parley:problem:{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }
    if errors:
        body["errors"] = list(errors)
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, title=title, errors=errors, extensions=extensions),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def send_problem(send: Send, response: JSONResponse) -> None:
    """Send a problem response from pure ASGI middleware (outside the router)."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class ProblemError(BaseModel):
    """One invalid part of the input: where (`loc`, path of the field) and why (`msg`)."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered (`application/problem+json`)."""

    type: str = Field(description="`urn:parley:problem:<code>`.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable error code.")
    request_id: str | None = Field(description="The `X-Request-ID` of the request.")
    errors: list[ProblemError] | None = Field(
        default=None, description="On 422 for invalid fields: what is wrong, where."
    )
    existing_id: str | None = Field(
        default=None, description="On 409 for a duplicate: the id of the existing resource."
    )


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"

_DESCRIPTIONS = {
    400: "Bad request (for example a malformed tenant or token)",
    401: "No or invalid credentials",
    403: "Authenticated but not allowed",
    404: "Not found (or in another tenant)",
    409: "Conflict (duplicate, taken, or stale)",
    413: "Too large",
    402: "A plan limit is reached (`plan_limit_reached`, naming the `limit`)",
    415: "Unsupported media type",
    422: "Invalid input (see `errors`)",
    429: "Too many requests (see `Retry-After`)",
    503: "A dependency is unavailable (see `Retry-After`)",
}


def problem_response_doc(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of a problem+json answer with this status."""
    return {
        "description": description or _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting problem+json answers for these statuses (the
    `Problem` schema is added to the components by `api.interfaces.http.openapi`)."""
    return {status: problem_response_doc(status) for status in statuses}
