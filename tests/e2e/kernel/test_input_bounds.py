"""Any input, no 500: every integer a client sends is bounded in the schema and refused
with a 422 problem beyond its bound, so nothing can hand MongoDB a number it cannot hold
(`OverflowError: MongoDB can only handle up to 8-byte ints` from an unbounded skip)."""

from __future__ import annotations

import pytest

from api.interfaces.http.schemas.ai import MAX_DAILY_TOKEN_QUOTA
from api.interfaces.http.schemas.paging import MAX_PAGE, MAX_PAGE_SIZE
from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import admin_headers, onboard, owner_headers

# Found by Schemathesis against the live app (issue #12): both were 500s.
HUGE_PAGES = ("99390184889919926429548544", "1045642374526533376", str(2**63), str(2**64))

TENANT_LISTS = (
    "/api/v1/users",
    "/api/v1/roles",
    "/api/v1/audit-logs",
    "/api/v1/ai/conversations",
    "/api/v1/ai/history",
)
PLATFORM_LISTS = ("/api/v1/tenants",)


@pytest.mark.parametrize("page", HUGE_PAGES)
async def test_a_huge_page_is_a_422_problem_on_every_tenant_list(
    client: AppClient, page: str
) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    for path in TENANT_LISTS:
        response = await client.get(path, params={"page": page}, headers=owner)
        body = assert_problem(response, 422, "invalid_input")
        assert body["errors"][0]["loc"] == ["query", "page"], (path, body)


@pytest.mark.parametrize("page", HUGE_PAGES)
async def test_a_huge_page_is_a_422_problem_on_every_platform_list(
    client: AppClient, page: str
) -> None:
    admin = await admin_headers(client)
    for path in PLATFORM_LISTS:
        response = await client.get(path, params={"page": page}, headers=admin)
        body = assert_problem(response, 422, "invalid_input")
        assert body["errors"][0]["loc"] == ["query", "page"], (path, body)


async def test_the_last_allowed_page_is_an_empty_page_not_an_error(client: AppClient) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    deepest = {"page": MAX_PAGE, "page_size": MAX_PAGE_SIZE}
    for path in TENANT_LISTS:
        response = await client.get(path, params=deepest, headers=owner)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["items"] == [] and response.json()["page"] == MAX_PAGE
    beyond = await client.get(TENANT_LISTS[0], params={"page": MAX_PAGE + 1}, headers=owner)
    assert_problem(beyond, 422, "invalid_input")


async def test_a_daily_token_quota_beyond_its_bound_is_a_422_problem(client: AppClient) -> None:
    owner = await owner_headers(client, await onboard(client, "acme"))
    settings = {"allowed_models": None, "default_model": None}
    for quota in (2**63, 2**80, MAX_DAILY_TOKEN_QUOTA + 1):
        body = {**settings, "daily_token_quota": quota}
        response = await client.put("/api/v1/ai/settings", json=body, headers=owner)
        problem = assert_problem(response, 422, "invalid_input")
        assert problem["errors"][0]["loc"] == ["body", "daily_token_quota"], problem
    body = {**settings, "daily_token_quota": MAX_DAILY_TOKEN_QUOTA}
    saved = await client.put("/api/v1/ai/settings", json=body, headers=owner)
    assert saved.status_code == 200, saved.text
    assert saved.json()["daily_token_quota"] == MAX_DAILY_TOKEN_QUOTA
    usage = await client.get("/api/v1/ai/usage", headers=owner)
    assert usage.status_code == 200 and usage.json()["daily_token_quota"] == MAX_DAILY_TOKEN_QUOTA


async def test_a_body_that_cannot_be_decoded_is_a_422_problem(client: AppClient) -> None:
    """Found by Schemathesis: a JSON body that is not UTF-8 (FastAPI cannot even decode
    it) answered 400, which no operation documents; it is invalid input like any other."""
    admin = await admin_headers(client)
    owner = await owner_headers(client, await onboard(client, "acme"))
    not_utf8 = b'{"user_id": "\xff\xfe"}'
    for path, headers in (
        ("/api/v1/tenants/0123456789abcdef01234567/impersonate", admin),
        ("/api/v1/roles", owner),
        ("/api/v1/auth/login", {}),
    ):
        response = await client.post(
            path, content=not_utf8, headers={**headers, "Content-Type": "application/json"}
        )
        body = assert_problem(response, 422, "invalid_input")
        assert body["errors"] == [{"loc": ["body"], "msg": "The body could not be read."}], path
