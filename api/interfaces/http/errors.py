"""One table from domain errors to HTTP statuses, and the handlers that apply it."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from api.domain import errors as domain
from api.domain.plans import PlanLimitReached
from api.interfaces.http.problems import problem_response

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[domain.ParleyError], int] = {
    domain.InvalidInput: 422,
    domain.InvalidTenant: 400,
    domain.MalformedRequest: 400,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.TenantRequired: 400,
    domain.ServiceUnavailable: 503,
    domain.RateLimited: 429,
    domain.InvalidToken: 400,
    domain.PayloadTooLarge: 413,
    domain.UnsupportedMediaType: 415,
    PlanLimitReached: 402,
}

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def status_for(error: domain.ParleyError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def domain_error_response(error: domain.ParleyError) -> JSONResponse:
    status = status_for(error)
    headers: dict[str, str] = {}
    errors: list[dict[str, Any]] | None = None
    if isinstance(error, domain.ServiceUnavailable | domain.RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, domain.Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, domain.InvalidInput) and error.problems:
        errors = [{"loc": list(p.loc), "msg": p.msg} for p in error.problems]
    return problem_response(
        status, error.code, error.detail, title=error.title, errors=errors, headers=headers,
        extensions=error.extensions,
    )  # fmt: skip


def unavailable_response(service: str) -> JSONResponse:
    return domain_error_response(domain.ServiceUnavailable(service))


def internal_error_response() -> JSONResponse:
    return problem_response(500, "internal_error", "An unexpected error occurred.")


async def _on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.ParleyError)  # noqa: S101 - registered for this type only
    if isinstance(exc, domain.ServiceUnavailable):
        log.warning("dependency unavailable: %s", exc.service)
    return domain_error_response(exc)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    problems = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    return problem_response(
        422, "invalid_input", "The request is not valid.", title="Invalid input", errors=problems
    )


# What FastAPI raises (a 400, `from` the decoding error) for a body it cannot even decode,
# such as JSON that is not UTF-8: invalid input like any other, so a 422 at `body`.
_UNREADABLE_BODY = "There was an error parsing the body"


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    status = exc.status_code
    if status == 400 and exc.detail == _UNREADABLE_BODY and exc.__cause__ is not None:
        return problem_response(
            422,
            "invalid_input",
            "The request is not valid.",
            title="Invalid input",
            errors=[{"loc": ["body"], "msg": "The body could not be read."}],
        )
    phrase = HTTPStatus(status).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    defaults = {404: "No route or resource matches this URL.", 405: "Method not allowed here."}
    return problem_response(
        status,
        _CODE_BY_STATUS.get(status, "http_error"),
        detail or defaults.get(status, phrase),
        headers=exc.headers,
    )


def register_error_handlers(
    app: FastAPI, unavailable: dict[type[Exception], str] | None = None
) -> None:
    """Install the handlers; `unavailable` maps driver exception types to a service name."""
    app.add_exception_handler(domain.ParleyError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for exc_type, service in (unavailable or {}).items():

        async def _on_unavailable(
            _: Request, exc: Exception, service: str = service
        ) -> JSONResponse:
            log.warning("dependency unavailable: %s (%s)", service, type(exc).__name__)
            return unavailable_response(service)

        app.add_exception_handler(exc_type, _on_unavailable)
