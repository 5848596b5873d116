"""The OpenAPI document, checked over every operation: what generated clients and Swagger's
"Try it out" need (readable operation ids, the tenant header, problem+json errors, tag
descriptions, one response shape per operation). No server: the document is built from
the routes."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.support.openapi import openapi_document

API = "/api/v1"
TENANT_HEADER = "X-Tenant-ID"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# Operations that run in a tenant or in the platform plane (the header is optional).
EITHER_PLANE = {
    "auth_login",
    "auth_verify_mfa",
    "auth_refresh",
    "auth_logout",
    "auth_me",
    "auth_change_password",
    "auth_mfa_setup",
    "auth_mfa_enable",
    "auth_mfa_disable",
    "auth_mfa_recovery_codes",
    "auth_list_sessions",
    "auth_end_session",
    "auth_end_other_sessions",
}
# Operations that never take the tenant header: the platform plane's, health, and the
# signed download link (which carries its tenant).
NO_TENANT_HEADER = {
    "health_liveness",
    "health_db",
    "health_cache",
    "health_jobs",
    "files_download",
    "files_tenant_logo",
    "tenants_subdomain_availability",
    "tenants_list",
    "tenants_create",
    "tenants_search",
    "tenants_get",
    "tenants_update",
    "tenants_suspend",
    "tenants_impersonate",
    "tenants_approve",
    "tenants_reject",
    "tenants_sign_up",
    "tenants_verify_signup",
    "plans_list",
    "plans_create",
    "plans_get",
    "plans_update",
    "plans_delete",
    "plans_assign",
    "analytics_platform",
    "webhooks_verify_channel",
    "webhooks_receive_channel",
    "webhooks_verify_platform",
    "webhooks_receive_platform",
    "webhooks_verify_messenger_channel",
    "webhooks_receive_messenger_channel",
    "webhooks_verify_instagram_channel",
    "webhooks_receive_instagram_channel",
    "webhooks_verify_messenger_platform",
    "webhooks_receive_messenger_platform",
    "webhooks_verify_instagram_platform",
    "webhooks_receive_instagram_platform",
    "webhooks_data_deletion",
    "webhooks_data_deletion_status",
    "webhooks_receive_telegram",
}
# Documented two outcomes of one operation (API.md: tokens, or an MFA challenge).
TWO_SHAPES = {"auth_login", "auth_verify_otp"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_document()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def tenant_header(operation: dict[str, Any]) -> dict[str, Any] | None:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"].lower() == TENANT_HEADER.lower():
            return dict(parameter)
    return None


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_operation_ids_are_unique_and_read_tag_then_verb(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for _, _, operation in operations(spec):
        op_id = operation["operationId"]
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", op_id), op_id
        assert op_id.startswith(f"{operation['tags'][0]}_"), (op_id, operation["tags"])
        words = op_id.split("_")
        assert not {"api", "v1"} & set(words) and len(words) <= 4, op_id  # no path in it
        assert len(op_id) <= 40, op_id
    assert {"users_list", "users_get", "users_create", "auth_login", "auth_me"} <= set(ids)
    # The body schemas FastAPI names after operation ids read as well.
    assert [n for n in spec["components"]["schemas"] if "api_v1" in n or "__" in n] == []


def test_every_tag_used_has_a_description(spec: dict[str, Any]) -> None:
    described = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    used = {tag for _, _, operation in operations(spec) for tag in operation["tags"]}
    assert used <= set(described), used - set(described)
    assert all(described[tag].strip() for tag in used)


def test_every_tenant_scoped_operation_declares_the_tenant_header(spec: dict[str, Any]) -> None:
    ids = {operation["operationId"] for _, _, operation in operations(spec)}
    assert ids >= (EITHER_PLANE | NO_TENANT_HEADER)  # the lists above name real operations
    for _, path, operation in operations(spec):
        op_id, header = operation["operationId"], tenant_header(operation)
        if op_id in NO_TENANT_HEADER:
            assert header is None, op_id
            continue
        assert path.startswith(f"{API}/"), op_id
        assert header is not None, f"{op_id} does not declare {TENANT_HEADER}"
        assert header["required"] is (op_id not in EITHER_PLANE), op_id
        assert header["schema"]["type"] == "string" and header["description"]
        assert header["schema"]["pattern"] == "^[0-9a-fA-F]{24}$"
        # The tenant's own errors are documented, as problems.
        for status in ("400", "403", "404"):
            assert status in operation["responses"], (op_id, status)
    assert "x-parley-tenant" not in json.dumps(spec)


def test_bearer_auth_stays_declared_for_swagger_ui(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from /auth/login, or an API key (`pk_...`).",
    }
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key (`pk_...`) of the tenant.",
    }
    users_list = spec["paths"][f"{API}/users"]["get"]
    assert users_list["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert "401" in users_list["responses"]


def test_errors_are_documented_as_problem_json(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert "HTTPValidationError" not in json.dumps(spec)
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "request_id"}
    assert "errors" in problem["properties"]
    assert set(schemas["ProblemError"]["required"]) == {"loc", "msg"}
    for _, _, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or operation["operationId"].startswith("health_"):
                continue  # health answers its own 503 body
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (operation["operationId"], status)
    invalid = spec["paths"][f"{API}/users"]["get"]["responses"]["422"]
    assert "errors" in invalid["description"]


def test_every_operation_with_a_body_documents_the_413_of_its_limit(
    spec: dict[str, Any],
) -> None:
    """Every request body is bounded before it is read (`BodyLimitMiddleware`): a JSON one
    at `MAX_JSON_BODY_BYTES`, so even `PATCH /campaigns/{id}` answers 413 (found by a
    deeper fuzz run: an undocumented status)."""
    with_body = [op for _, _, op in operations(spec) if "requestBody" in op]
    assert len(with_body) > 50
    undocumented = [op["operationId"] for op in with_body if "413" not in op["responses"]]
    assert undocumented == []
    patch = spec["paths"][f"{API}/campaigns/{{campaign_id}}"]["patch"]["responses"]["413"]
    assert "MAX_JSON_BODY_BYTES" in patch["description"]


def test_each_operation_answers_one_shape(spec: dict[str, Any]) -> None:
    for _, _, operation in operations(spec):
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                schema = media.get("schema", {})
                if operation["operationId"] not in TWO_SHAPES:
                    assert not {"anyOf", "oneOf"} & set(schema), (operation["operationId"], status)
    history = spec["paths"][f"{API}/ai/history"]["get"]
    assert history["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Page_ConversationOut_"
    }
    assert "308" in history["responses"]  # the older `?conversation_id=` form
    messages = spec["paths"][f"{API}/ai/history/{{conversation_id}}"]["get"]
    assert messages["operationId"] == "ai_history_messages"
    assert messages["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MessagePageOut"
    }


@pytest.mark.parametrize("strategy", ["subdomain", "none"])
def test_other_tenancy_strategies_declare_no_tenant_header(strategy: str) -> None:
    spec = openapi_document(multi_tenancy_strategy=strategy)
    validate(spec)
    assert [op["operationId"] for _, _, op in operations(spec) if tenant_header(op)] == []
    if strategy == "subdomain":
        assert "subdomain" in spec["info"]["description"]
        assert "404" in spec["paths"][f"{API}/users"]["get"]["responses"]  # unknown tenant
    else:
        assert not [p for p in spec["paths"] if p.startswith(f"{API}/tenants")]
