"""Who may use the AI routes: sign-in, `ai:use` / `ai:manage`, and nobody else's
conversations (same tenant or another), with unknown and malformed ids alike 404."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.ai_stack import (
    AI,
    MEMBER_PASSWORD,
    AiStack,
    Person,
    ask,
    ask_stream,
    conversation,
    conversations,
    next_event,
    stored_messages,
)
from tests.support.app import assert_problem
from tests.support.people import add_user, create_role, role_id

SETTINGS_BODY = {"allowed_models": None, "default_model": None, "daily_token_quota": None}
MALFORMED = "not-an-object-id"
UNKNOWN = "0123456789abcdef01234567"

Route = tuple[str, str, dict[str, Any] | None]


def use_routes(conversation_id: str) -> list[Route]:
    """Every route needing `ai:use` (method, path, JSON body)."""
    return [
        ("GET", f"{AI}/models", None),
        ("POST", f"{AI}/ask", {"message": "Hello"}),
        ("POST", f"{AI}/conversations/{conversation_id}/stop", None),
        ("GET", f"{AI}/history", None),
        ("GET", f"{AI}/history/{conversation_id}", None),
        ("GET", f"{AI}/conversations", None),
        ("GET", f"{AI}/conversations/{conversation_id}", None),
        ("DELETE", f"{AI}/conversations/{conversation_id}", None),
        ("POST", f"{AI}/clear-history", None),
    ]


MANAGE_ROUTES: list[Route] = [
    ("GET", f"{AI}/settings", None),
    ("PUT", f"{AI}/settings", SETTINGS_BODY),
    ("GET", f"{AI}/usage", None),
]


async def call(http: httpx.AsyncClient, route: Route, headers: dict[str, str]) -> httpx.Response:
    method, path, body = route
    return await http.request(method, path, json=body, headers=headers)


async def _started(stack: AiStack, person: Person, message: str = "Say hello") -> str:
    got = await ask(stack.http, person, {"message": message})
    assert got.status == 200, got.problem
    return str(got.meta["conversation_id"])


async def _user_with_roles(stack: AiStack, owner: Person, name: str, role_ids: list[str]) -> Person:
    email = f"{name}@{owner.tenant_id}.example.com"
    await add_user(stack.http, owner.headers, email, role_ids=role_ids)
    return await stack.sign_in(email, MEMBER_PASSWORD, owner.tenant_id)


async def test_every_route_needs_a_signed_in_user(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    conversation_id = await _started(stack, owner)
    tenant_only = {"X-Tenant-ID": owner.tenant_id}
    forged = {**tenant_only, "Authorization": "Bearer not-a-real-token"}
    routes = [*use_routes(conversation_id), *MANAGE_ROUTES]
    attempts = [(route, tenant_only) for route in routes] + [
        (route, forged) for route in routes[1:3] + routes[-2:-1]
    ]
    for route, headers in attempts:
        response = await call(stack.http, route, headers)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer", route
    # Nothing was done on anybody's behalf.
    assert stack.fake.started == 1
    assert (await conversation(stack.http, owner, conversation_id))["message_count"] == 2


async def test_without_ai_use_every_route_is_forbidden(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    conversation_id = await _started(stack, owner)
    role = await create_role(stack.http, owner.headers, "readers", ["files:read"])
    reader = await _user_with_roles(stack, owner, "rita", [role["id"]])
    me = await stack.http.get("/api/v1/auth/me", headers=reader.headers)
    assert "ai:use" not in me.json()["permissions"]

    unknown = [route for route in use_routes(UNKNOWN) if UNKNOWN in route[1]]
    own_or_unknown = [*use_routes(conversation_id), *unknown]
    for route in own_or_unknown:
        body = assert_problem(await call(stack.http, route, reader.headers), 403, "forbidden")
        assert "ai:use" in body["detail"], route
    for route in MANAGE_ROUTES:
        body = assert_problem(await call(stack.http, route, reader.headers), 403, "forbidden")
        assert "ai:manage" in body["detail"], route
    assert stack.fake.started == 1  # the refused ask never reached the model
    assert (await conversation(stack.http, owner, conversation_id))["message_count"] == 2

    # Given a role with `ai:use`, the same user may chat.
    chat_role = await create_role(stack.http, owner.headers, "chatters", ["ai:use"])
    chatter = await _user_with_roles(stack, owner, "carl", [chat_role["id"]])
    got = await ask(stack.http, chatter, {"message": "Hi"})
    assert got.status == 200 and got.text == "Hello, world!"
    for route in MANAGE_ROUTES:
        assert_problem(await call(stack.http, route, chatter.headers), 403, "forbidden")


async def test_management_routes_need_ai_manage(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    for route in MANAGE_ROUTES:
        body = assert_problem(await call(stack.http, route, member.headers), 403, "forbidden")
        assert "ai:manage" in body["detail"], route
    # A member's use routes work.
    assert (await stack.http.get(f"{AI}/models", headers=member.headers)).status_code == 200
    assert (await conversations(stack.http, member))["total"] == 0

    admin_role = await role_id(stack.http, owner.headers, "admin")
    admin = await _user_with_roles(stack, owner, "ada", [admin_role])
    for person in (owner, admin):
        for route in MANAGE_ROUTES:
            response = await call(stack.http, route, person.headers)
            assert response.status_code == 200, (route, response.text)


async def test_another_users_conversation_is_not_found(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    owners = await _started(stack, owner, "Owner's secret")
    members = await _started(stack, member, "Member's secret")
    started = stack.fake.started

    for person, foreign in ((member, owners), (owner, members)):
        await _assert_out_of_reach(stack, person, foreign)
    assert stack.fake.started == started  # no answer was asked for
    assert [c["id"] for c in (await conversations(stack.http, member))["items"]] == [members]
    assert [c["id"] for c in (await conversations(stack.http, owner))["items"]] == [owners]
    for person, own in ((owner, owners), (member, members)):
        detail = await conversation(stack.http, person, own)
        assert detail["message_count"] == 2
        assert [m["role"] for m in detail["messages"]["items"]] == ["user", "assistant"]
        assert await stored_messages(own) == 2
    # Clearing one's history leaves the other's conversation.
    cleared = await stack.http.post(f"{AI}/clear-history", headers=member.headers)
    assert cleared.status_code == 204
    assert (await conversation(stack.http, owner, owners))["message_count"] == 2


async def test_nobody_else_can_stop_a_running_answer(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    beta = await stack.tenant("beta")
    hold = stack.fake.hold = asyncio.Event()
    stack.fake.hold_after = 1
    try:
        async with ask_stream(stack.http, owner, {"message": "Say hello"}) as events:
            _, meta = await next_event(events)
            assert await next_event(events) == ("token", {"content": "Hello"})
            url = f"{AI}/conversations/{meta['conversation_id']}"
            for person in (member, beta):
                stopped = await stack.http.post(f"{url}/stop", headers=person.headers)
                assert_problem(stopped, 404, "not_found")
                deleted = await stack.http.delete(url, headers=person.headers)
                assert_problem(deleted, 404, "not_found")
            hold.set()
            rest = [event async for event in events]
    finally:
        hold.set()
    assert [name for name, _ in rest] == ["token", "token", "token", "done"]
    assert rest[-1][1]["partial"] is False and rest[-1][1]["finish_reason"] == "stop"
    assert stack.fake.completed == 1 and stack.fake.cancelled == 0
    saved = await conversation(stack.http, owner, meta["conversation_id"])
    assert saved["messages"]["items"][-1]["content"] == "Hello, world!"


async def test_another_tenants_conversation_is_not_found(stack: AiStack) -> None:
    acme = await stack.tenant("acme")
    beta = await stack.tenant("beta")
    acmes = await _started(stack, acme, "Acme's secret")
    started = stack.fake.started

    await _assert_out_of_reach(stack, beta, acmes)
    assert stack.fake.started == started
    assert (await conversations(stack.http, beta))["total"] == 0
    history = await stack.http.get(f"{AI}/history", headers=beta.headers)
    assert history.status_code == 200 and history.json()["total"] == 0
    # Acme's token under beta's header is refused outright.
    crossed = {**acme.headers, "X-Tenant-ID": beta.tenant_id}
    refused = await stack.http.get(f"{AI}/conversations/{acmes}", headers=crossed)
    assert refused.status_code in (401, 403), refused.text
    assert (await conversation(stack.http, acme, acmes))["message_count"] == 2
    assert await stored_messages(acmes) == 2


async def test_unknown_and_malformed_conversation_ids_are_not_found(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    for missing in (MALFORMED, UNKNOWN, "x" * 64, "%20"):
        await _assert_out_of_reach(stack, owner, missing)
    assert stack.fake.started == 0
    assert (await conversations(stack.http, owner))["total"] == 0
    too_long = await ask(stack.http, owner, {"message": "Hi", "conversation_id": "x" * 65})
    assert too_long.status == 422 and too_long.problem is not None
    assert too_long.problem["code"] == "invalid_input"


async def _assert_out_of_reach(stack: AiStack, person: Person, conversation_id: str) -> None:
    """`person` can neither read, continue, stop nor delete `conversation_id`: 404 each."""
    url = f"{AI}/conversations/{conversation_id}"
    headers = person.headers
    assert_problem(await stack.http.get(url, headers=headers), 404, "not_found")
    history = await stack.http.get(f"{AI}/history/{conversation_id}", headers=headers)
    assert_problem(history, 404, "not_found")
    assert_problem(await stack.http.post(f"{url}/stop", headers=headers), 404, "not_found")
    assert_problem(await stack.http.delete(url, headers=headers), 404, "not_found")
    continued = await stack.http.post(
        f"{AI}/ask",
        json={"message": "Tell me everything", "conversation_id": conversation_id},
        headers=headers,
    )
    assert_problem(continued, 404, "not_found")
