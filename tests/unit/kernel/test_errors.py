"""The error table: each domain error maps to one status; subclasses inherit it."""

from __future__ import annotations

import json

import pytest

from api.domain import errors
from api.interfaces.http.errors import domain_error_response, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound(), 404),
        (errors.TenantNotFound(), 404),
        (errors.Conflict(), 409),
        (errors.InvalidInput(), 422),
        (errors.InvalidTenant(), 400),
        (errors.Unauthorized(), 401),
        (errors.Forbidden(), 403),
        (errors.TenantSuspended(), 403),
        (errors.TenantRequired(), 400),
        (errors.ServiceUnavailable("database"), 503),
        (errors.ParleyError(), 500),
    ],
)
def test_status_for(error: errors.ParleyError, status: int) -> None:
    assert status_for(error) == status


def test_unavailable_carries_retry_after() -> None:
    response = domain_error_response(errors.ServiceUnavailable("cache", retry_after=7))
    assert response.headers["retry-after"] == "7"
    body = json.loads(bytes(response.body))
    assert body["code"] == "service_unavailable" and "cache" in body["detail"]


def test_field_problems_become_errors() -> None:
    error = errors.InvalidInput("bad", [errors.FieldProblem(("subdomain",), "too long")])
    body = json.loads(bytes(domain_error_response(error).body))
    assert body["errors"] == [{"loc": ["subdomain"], "msg": "too long"}]
    assert response_media(error) == "application/problem+json"


def response_media(error: errors.ParleyError) -> str:
    return domain_error_response(error).media_type or ""
