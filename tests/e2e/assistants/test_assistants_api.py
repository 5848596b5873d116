"""`/api/v1/assistants`: CRUD with its rules (the tenant's models and channels, languages,
hand-off rules, business hours, one bot a channel), `assistants:manage`, tenants apart."""

from __future__ import annotations

import punq
import pytest

from tests.support.app import AppClient, assert_problem
from tests.support.fake_graph import FakeGraph
from tests.support.fake_llm import FakeLLM
from tests.support.inbox import stored_channel
from tests.support.people import audit_entries, signed_in, two_tenants

from .conftest import ASSISTANTS, assistant_body, create_assistant

BERLIN = {
    "timezone": "Europe/Berlin",
    "days": {"mon": [{"start": "09:00", "end": "17:00"}]},
    "holidays": ["2026-12-25"],
}


async def test_an_assistant_is_created_read_listed_changed_and_deleted(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    created = await create_assistant(
        client, owner, [channel.id or ""], languages=["es", "EN"], business_hours=BERLIN,
        handoff={"after_turns": 5, "keywords": ["agent", " human "]},
        out_of_hours_message="Closed.", max_tokens_per_day=10000,
        follow_up={"message": "Still there?", "template_name": "nudge",
                   "template_language": "en"},
    )  # fmt: skip
    assert created["languages"] == ["es", "en"]
    assert created["handoff"] == {
        "on_request": True, "after_turns": 5, "keywords": ["agent", "human"], "when_unsure": True
    }  # fmt: skip
    assert created["business_hours"]["holidays"] == ["2026-12-25"]
    read = await client.get(f"{ASSISTANTS}/{created['id']}", headers=owner)
    assert read.json() == created
    listed = (await client.get(ASSISTANTS, headers=owner)).json()
    assert [a["id"] for a in listed["items"]] == [created["id"]] and listed["total"] == 1

    changed = await client.patch(
        f"{ASSISTANTS}/{created['id']}",
        json={"name": "Bea", "languages": "auto", "business_hours": None, "enabled": False},
        headers=owner,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["languages"], body["business_hours"], body["enabled"]) == (
        "Bea", "auto", None, False,
    )  # fmt: skip
    assert body["max_tokens_per_day"] == 10000  # not sent: kept
    stats = await client.get(f"{ASSISTANTS}/{created['id']}/stats", headers=owner)
    assert stats.json() == {
        "conversations": 0, "resolved_without_handoff": 0, "handed_off": 0,
        "handoff_reasons": {}, "replies": 0, "input_tokens": 0, "output_tokens": 0,
        "latency_p50_ms": None, "latency_p90_ms": None,
    }  # fmt: skip
    deleted = await client.delete(f"{ASSISTANTS}/{created['id']}", headers=owner)
    assert deleted.status_code == 204
    gone = await client.get(f"{ASSISTANTS}/{created['id']}", headers=owner)
    assert_problem(gone, 404, "not_found")
    actions = {e["action"] for e in await audit_entries(client, owner)}
    assert {"assistant.created", "assistant.deleted", "assistant.updated"} <= actions


async def test_the_model_must_be_one_the_tenant_may_use(client: AppClient, llm: FakeLLM) -> None:
    _, owner, _, _ = await two_tenants(client)
    unknown = await client.post(ASSISTANTS, json=assistant_body([], model="gpt-99"), headers=owner)
    assert_problem(unknown, 422, "unknown_model")
    put = await client.put(
        "/api/v1/ai/settings", json={"allowed_models": ["gpt-4o-mini"]}, headers=owner
    )
    assert put.status_code == 200, put.text
    narrowed = await client.post(ASSISTANTS, json=assistant_body([]), headers=owner)
    assert_problem(narrowed, 422, "unknown_model")
    allowed = await client.post(
        ASSISTANTS, json=assistant_body([], model="gpt-4o-mini"), headers=owner
    )
    assert allowed.status_code == 201, allowed.text


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"languages": ["english"]}, "invalid_input"),
        ({"languages": ["e1"]}, "invalid_input"),
        ({"languages": []}, "invalid_input"),
        ({"handoff": {"after_turns": 0}}, "invalid_input"),
        ({"handoff": {"keywords": [""]}}, "invalid_input"),
        ({"business_hours": {"timezone": "Mars/Olympus"}}, "invalid_timezone"),
        ({"business_hours": {"timezone": "UTC", "days": {"mon": [
            {"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}}},
         "overlapping_time_spans"),
        ({"follow_up": {"template_name": "nudge"}}, "invalid_input"),
        ({"max_tokens_per_day": 0}, "invalid_input"),
        ({"name": ""}, "invalid_input"),
        ({"colour": "blue"}, "invalid_input"),
        ({"channel_ids": ["0" * 24]}, "unknown_channels"),
    ],
)  # fmt: skip
async def test_bad_input_is_422_with_a_code(
    client: AppClient, llm: FakeLLM, changes: dict[str, object], code: str
) -> None:
    _, owner, _, _ = await two_tenants(client)
    response = await client.post(ASSISTANTS, json={**assistant_body([]), **changes}, headers=owner)
    assert_problem(response, 422, code)


async def test_a_channel_has_one_enabled_assistant(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    first = await create_assistant(client, owner, [channel.id or ""])
    second = await client.post(
        ASSISTANTS, json=assistant_body([channel.id or ""], name="Bea"), headers=owner
    )
    assert_problem(second, 409, "channel_has_assistant")
    disabled = await create_assistant(client, owner, [channel.id or ""], enabled=False)
    enable = await client.patch(
        f"{ASSISTANTS}/{disabled['id']}", json={"enabled": True}, headers=owner
    )
    assert_problem(enable, 409, "channel_has_assistant")
    await client.patch(f"{ASSISTANTS}/{first['id']}", json={"enabled": False}, headers=owner)
    enable = await client.patch(
        f"{ASSISTANTS}/{disabled['id']}", json={"enabled": True}, headers=owner
    )
    assert enable.status_code == 200, enable.text


async def test_assistants_manage_is_needed(client: AppClient, llm: FakeLLM) -> None:
    acme, owner, _, _ = await two_tenants(client)
    created = await create_assistant(client, owner, [])
    routes = [
        ("POST", ASSISTANTS), ("GET", ASSISTANTS), ("GET", f"{ASSISTANTS}/{created['id']}"),
        ("PATCH", f"{ASSISTANTS}/{created['id']}"), ("DELETE", f"{ASSISTANTS}/{created['id']}"),
        ("GET", f"{ASSISTANTS}/{created['id']}/stats"),
    ]  # fmt: skip
    _, agent = await signed_in(client, acme, owner, "agent@acme.example.com", roles=["agent"])
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    for method, path in routes:
        body = assistant_body([]) if method in ("POST", "PATCH") else None
        anonymous = await client.request(method, path, json=body, headers=tenant_only)
        assert_problem(anonymous, 401, "unauthorized")
        forbidden = await client.request(method, path, json=body, headers=agent)
        assert_problem(forbidden, 403, "forbidden")


async def test_tenants_never_see_each_others_assistants(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    channel = await stored_channel(container, acme.tenant.id or "", graph.base_url)
    created = await create_assistant(client, owner, [channel.id or ""])
    path = f"{ASSISTANTS}/{created['id']}"
    assert_problem(await client.get(path, headers=beta_owner), 404, "not_found")
    assert_problem(await client.get(f"{path}/stats", headers=beta_owner), 404, "not_found")
    patched = await client.patch(path, json={"name": "Stolen"}, headers=beta_owner)
    assert_problem(patched, 404, "not_found")
    assert_problem(await client.delete(path, headers=beta_owner), 404, "not_found")
    assert (await client.get(ASSISTANTS, headers=beta_owner)).json()["items"] == []
    theirs = await client.post(
        ASSISTANTS, json=assistant_body([channel.id or ""]), headers=beta_owner
    )
    assert_problem(theirs, 422, "unknown_channels")
    assert (await client.get(path, headers=owner)).json()["name"] == "Ada"
