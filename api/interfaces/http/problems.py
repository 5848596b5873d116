"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
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
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, title=title, errors=errors),
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


class ProblemOut(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None
    errors: list[dict[str, Any]] | None = None  # [{"loc": [...], "msg": "..."}] on 422


_DESCRIPTIONS = {
    400: "Bad request (for example a malformed tenant or token)",
    401: "No or invalid credentials",
    403: "Authenticated but not allowed",
    404: "Not found (or in another tenant)",
    409: "Conflict (duplicate, taken, or stale)",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input (see `errors`)",
    429: "Too many requests (see `Retry-After`)",
    503: "A dependency is unavailable (see `Retry-After`)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting problem+json answers for these statuses."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemOut.model_json_schema()}},
        }
        for status in statuses
    }
