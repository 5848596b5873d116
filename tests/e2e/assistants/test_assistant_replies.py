"""The assistant answers customers end to end: an inbound message -> the session's real
worker runs the reply job -> the fake LLM's tool call -> the send job -> the fake Graph
API. Language, handoffs (request, keyword, unsure, after N turns, budget), never over an
agent, out-of-hours once, one reply per inbound message, the typing indicator, the
hand-back endpoints, follow-up and stats."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import punq
import pytest

from api.common.clock import utcnow
from api.domain.jobs import JobQueue
from api.domain.messaging.bots import BOT_REPLY_JOB
from api.domain.messaging.channels import Channel
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.ai.assistant_runs import AssistantRunDocument
from api.usecases.assistants.follow_up import FollowUpIdleConversations
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.fake_graph import FakeGraph
from tests.support.fake_llm import FakeLLM
from tests.support.inbox import stored_channel
from tests.support.onboarding import admin_headers
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.plans import make_plan, put_on_plan
from tests.support.routing import put_settings, set_presence
from tests.support.sending import CONVERSATIONS, inbound
from tests.support.workers import job_runs_logged

from .conftest import ASSISTANTS, create_assistant, eventually

Setup = tuple[CreatedTenant, dict[str, str], Channel, dict[str, Any]]
BETA: dict[str, dict[str, str]] = {}


@pytest.fixture
async def acme(
    worker: Path, client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM
) -> Setup:
    """(acme, its owner's headers, a channel on the fake Graph API, its assistant)."""
    tenant, owner, _, beta_owner = await two_tenants(client)
    BETA["headers"] = beta_owner
    channel = await stored_channel(container, tenant.tenant.id or "", graph.base_url)
    assistant = await create_assistant(client, owner, [channel.id or ""])
    return tenant, owner, channel, assistant


async def writes(
    container: punq.Container, channel: Channel, text: str, n: int = 0, **who: Any
) -> Any:
    """The customer's text `n` (now), stored as the webhook job stores it."""
    event = inbound(utcnow() - timedelta(seconds=1), n=n, **who).model_copy(update={"text": text})
    message = await container.resolve(ReceiveInboundMessage).execute(event, channel)
    assert message is not None
    return message


async def run_of(tenant: CreatedTenant, message_id: str) -> dict[str, Any]:
    """The reply job's finished record for the inbound message."""

    async def probe() -> dict[str, Any] | None:
        return await AssistantRunDocument.get_pymongo_collection().find_one(
            {"tenant_id": tenant.tenant.id, "key": f"reply:{message_id}", "state": "done"}
        )

    found = await eventually(probe, lambda r: r is not None, f"answered {message_id}")
    assert found is not None
    return found


def sent_texts(graph: FakeGraph) -> list[str]:
    return [
        seen.body["text"]["body"]
        for seen in graph.requests
        if seen.endpoint == "send" and seen.body.get("type") == "text"
    ]


async def conversation(client: AppClient, owner: dict[str, str], id: str) -> dict[str, Any]:
    response = await client.get(f"{CONVERSATIONS}/{id}", headers=owner)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def history(client: AppClient, owner: dict[str, str], id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{CONVERSATIONS}/{id}/messages", headers=owner)
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def system_prompt(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


async def test_a_question_is_answered_in_the_customers_language(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    llm.tool_answer = lambda body: {
        "action": "reply",
        "text": "¡Hola! Abrimos a las 9." if "'es'" in system_prompt(body) else "Hello!",
    }
    message = await writes(container, channel, "Hola, ¿a qué hora abren mañana la tienda?")
    opened = await conversation(client, owner, message.conversation_id)
    assert (opened["handled_by"], opened["status"]) == ("bot", "pending")
    run = await run_of(tenant, message.id)
    assert run["outcome"] == "replied" and run["language"] == "es"
    await eventually(lambda: _async(sent_texts(graph)), lambda t: t == ["¡Hola! Abrimos a las 9."],
                     "sent to Meta")  # fmt: skip
    [request] = [r for r in llm.requests if r["path"] == "/api/chat"]
    assert request["model"] == "llama3.2:latest" and request["tools"][0]["function"]["name"] == (
        "respond"
    )
    assert "You help the customers of Acme." in system_prompt(request)
    assert request["messages"][-1] == {"role": "user", "content": message.text}
    typing = [s.body for s in graph.requests if s.endpoint == "mark_read"]
    assert typing and typing[0]["typing_indicator"] == {"type": "text"}
    [bot] = [m for m in await history(client, owner, message.conversation_id)
             if m["direction"] == "outbound"]  # fmt: skip
    assert bot["sender"] == {"type": "bot", "id": assistant["id"]}
    stats = (await client.get(f"{ASSISTANTS}/{assistant['id']}/stats", headers=owner)).json()
    assert (stats["conversations"], stats["replies"], stats["handed_off"]) == (1, 1, 0)
    assert stats["output_tokens"] == 4 and stats["latency_p50_ms"] is not None


async def _async(value: Any) -> Any:
    return value


@pytest.mark.parametrize("reason", ["request", "unsure"])
async def test_the_models_handoff_goes_to_humans_with_its_summary(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup,
    reason: str,
) -> None:  # fmt: skip
    tenant, owner, channel, assistant = acme
    llm.tool_answers.append(
        {"action": "handoff", "reason": reason, "summary": "Wants to change the order 42."}
    )
    message = await writes(container, channel, "Can I talk to someone about order 42?")
    run = await run_of(tenant, message.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", reason)
    now = await conversation(client, owner, message.conversation_id)
    assert (now["handled_by"], now["status"]) == ("human", "open")
    [note] = [m for m in await history(client, owner, message.conversation_id) if m["private"]]
    assert "Wants to change the order 42." in note["text"] and note["sender"]["type"] == "bot"
    assert sent_texts(graph) == []
    stats = (await client.get(f"{ASSISTANTS}/{assistant['id']}/stats", headers=owner)).json()
    assert stats["handoff_reasons"] == {reason: 1} and stats["handed_off"] == 1
    # Humans have it now: the next message queues no reply job at all.
    later = await writes(container, channel, "Hello?", n=1)
    assert later.conversation_id == message.conversation_id
    assert (
        await AssistantRunDocument.get_pymongo_collection().count_documents(
            {"key": f"reply:{later.id}"}
        )
        == 0
    )


async def test_a_keyword_hands_over_without_asking_the_model(
    client: AppClient, container: punq.Container, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    changed = await client.patch(
        f"{ASSISTANTS}/{assistant['id']}", json={"handoff": {"keywords": ["refund"]}},
        headers=owner,
    )  # fmt: skip
    assert changed.status_code == 200
    message = await writes(container, channel, "I want a REFUND now")
    run = await run_of(tenant, message.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "keyword")
    assert llm.requests == []
    assert (await conversation(client, owner, message.conversation_id))["handled_by"] == "human"


async def test_after_n_turns_humans_take_over(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    await client.patch(
        f"{ASSISTANTS}/{assistant['id']}", json={"handoff": {"after_turns": 1}}, headers=owner
    )
    first = await writes(container, channel, "What are your opening hours?")
    assert (await run_of(tenant, first.id))["outcome"] == "replied"
    second = await writes(container, channel, "And on Sundays?", n=1)
    run = await run_of(tenant, second.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "after_turns")
    assert len([r for r in llm.requests if r["path"] == "/api/chat"]) == 1


async def test_a_used_up_budget_hands_over_instead_of_answering(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    await client.patch(
        f"{ASSISTANTS}/{assistant['id']}", json={"max_tokens_per_day": 5}, headers=owner
    )
    first = await writes(container, channel, "What are your opening hours?")
    assert (await run_of(tenant, first.id))["outcome"] == "replied"  # used more than 5
    second = await writes(container, channel, "And on Sundays?", n=1)
    run = await run_of(tenant, second.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "budget")
    usage = await client.get("/api/v1/ai/usage", headers=owner)
    assert usage.status_code == 200, usage.text
    assert f"assistant:{assistant['id']}" in usage.text  # counted in the tenant's usage


async def test_the_tenants_quota_hands_over_too(
    client: AppClient, container: punq.Container, llm: FakeLLM, acme: Setup
) -> None:
    tenant, _owner, channel, _ = await _with_quota(client, acme)
    message = await writes(container, channel, "What are your opening hours?")
    run = await run_of(tenant, message.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "budget")
    assert llm.requests == []


async def test_the_plans_limits_hand_over_too(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    admin = await admin_headers(client)
    # No message left this month: the model answers, the reply cannot be queued (402
    # inside the job), humans take the conversation and nothing reaches the customer.
    plan = await make_plan(client, admin, "No messages", messages_per_month=0)
    await put_on_plan(client, admin, tenant.tenant.id or "", plan["id"])
    first = await writes(container, channel, "What are your opening hours?")
    run = await run_of(tenant, first.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "budget")
    assert sent_texts(graph) == []
    # No AI token left today: handed over before the model is asked. (The plan changes,
    # not the tenant's: the worker reads plans afresh, tenants through its cache.)
    changed = await client.put(
        f"/api/v1/plans/{plan['id']}", json={"limits": {"ai_tokens_per_day": 0}}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    back = await client.post(f"{CONVERSATIONS}/{first.conversation_id}/bot", headers=owner)
    assert back.status_code == 200, back.text
    asked = len(llm.requests)
    second = await writes(container, channel, "And on Sundays?", n=1)
    run = await run_of(tenant, second.id)
    assert (run["outcome"], run["reason"]) == ("handed_off", "budget")
    assert len(llm.requests) == asked


async def _with_quota(client: AppClient, acme: Setup) -> Setup:
    _, owner, _, _ = acme
    put = await client.put("/api/v1/ai/settings", json={"daily_token_quota": 1}, headers=owner)
    assert put.status_code == 200, put.text
    return acme


async def test_an_agent_writing_during_generation_suppresses_the_reply(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    llm.first_token_delay = 3.0  # the model takes its time
    message = await writes(container, channel, "What are your opening hours?")
    await eventually(lambda: _async(llm.started), lambda n: n >= 1, "generating")
    sent = await client.post(
        "/api/v1/messages",
        json={"conversation_id": message.conversation_id, "type": "text",
              "text": {"body": "Hi, Olivia here: we open at 9."}},
        headers=owner,
    )  # fmt: skip
    assert sent.status_code == 202, sent.text
    run = await run_of(tenant, message.id)
    assert run["outcome"] == "suppressed"
    await eventually(lambda: _async(sent_texts(graph)), lambda t: len(t) >= 1, "the agent's sent")
    assert sent_texts(graph) == ["Hi, Olivia here: we open at 9."]
    # the agent answered: humans have the conversation, the assistant stays out of it
    taken = await conversation(client, owner, message.conversation_id)
    assert (taken["handled_by"], taken["status"]) == ("human", "open")
    [entry] = await audit_entries(client, owner, action="conversation.handed_off")
    assert entry["changes"]["reason"] == "agent_replied"
    assert entry["actor_id"] == tenant.owner.id
    later = await writes(container, channel, "And on Sundays?", n=1)
    assert (await conversation(client, owner, later.conversation_id))["handled_by"] == "human"


async def test_assigning_or_claiming_takes_the_conversation_from_the_bot(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    user, agent = await signed_in(client, tenant, owner, "agent@acme.example.com", roles=["agent"])
    first = await writes(container, channel, "Hi", n=0)
    await run_of(tenant, first.id)
    path = f"{CONVERSATIONS}/{first.conversation_id}"
    # unassigning, or assigning only a team, leaves it with the bot
    kept = await client.post(f"{path}/assign", json={"assignee_id": None}, headers=owner)
    assert kept.status_code == 200 and kept.json()["handled_by"] == "bot"
    assigned = await client.post(f"{path}/assign", json={"assignee_id": user["id"]}, headers=owner)
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert (body["handled_by"], body["status"], body["assignee_id"]) == (
        "human", "open", user["id"],
    )  # fmt: skip
    back = await client.post(f"{path}/bot", headers=owner)  # back to the bot: unassigned
    assert (back.json()["handled_by"], back.json()["assignee_id"]) == ("bot", None)
    claimed = await client.post(f"{path}/claim", headers=agent)
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["handled_by"], claimed.json()["assignee_id"]) == ("human", user["id"])
    reasons = [
        e["changes"]["reason"]
        for e in await audit_entries(client, owner, action="conversation.handed_off")
    ]
    assert sorted(reasons) == ["assigned", "claimed"]
    # another tenant can neither assign nor claim it (and so cannot take it from the bot)
    beta_owner = await _beta(client)
    await client.post(f"{path}/bot", headers=owner)
    for action, body in (("assign", {"assignee_id": None}), ("claim", None)):
        refused = await client.post(f"{path}/{action}", json=body, headers=beta_owner)
        assert_problem(refused, 404, "not_found")
    assert (await conversation(client, owner, first.conversation_id))["handled_by"] == "bot"


async def test_an_api_keys_message_leaves_the_conversation_with_the_bot(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    message = await writes(container, channel, "Where is my order?")
    await run_of(tenant, message.id)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "Shop", "permissions": ["messages:send"]},
        headers=owner,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"], "X-Tenant-ID": tenant.tenant.id or ""}
    notice = {"conversation_id": message.conversation_id, "type": "text",
              "text": {"body": "Your order 42 has shipped."}}  # fmt: skip
    sent = await client.post("/api/v1/messages", json=notice, headers=key)
    assert sent.status_code == 202, sent.text
    assert (await conversation(client, owner, message.conversation_id))["handled_by"] == "bot"
    assert await audit_entries(client, owner, action="conversation.handed_off") == []


async def test_an_assignment_during_generation_suppresses_the_reply(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    llm.first_token_delay = 3.0
    message = await writes(container, channel, "What are your opening hours?")
    await eventually(lambda: _async(llm.started), lambda n: n >= 1, "generating")
    handed = await client.post(
        f"{CONVERSATIONS}/{message.conversation_id}/handoff", json={"reason": "VIP"},
        headers=owner,
    )  # fmt: skip
    assert handed.status_code == 200 and handed.json()["handled_by"] == "human"
    assert (await run_of(tenant, message.id))["outcome"] == "suppressed"
    assert sent_texts(graph) == []


async def test_out_of_hours_message_once_per_closed_period(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    never_open = {"timezone": "Europe/Berlin", "days": {}}
    await client.patch(
        f"{ASSISTANTS}/{assistant['id']}",
        json={"business_hours": never_open, "out_of_hours_message": "We are closed."},
        headers=owner,
    )
    first = await writes(container, channel, "Hello?")
    second = await writes(container, channel, "Anybody there?", n=1)
    assert (await run_of(tenant, first.id))["outcome"] == "out_of_hours"
    assert (await run_of(tenant, second.id))["outcome"] == "out_of_hours"
    await eventually(lambda: _async(sent_texts(graph)), lambda t: len(t) >= 1, "sent")
    assert sent_texts(graph) == ["We are closed."]
    assert llm.requests == []


async def test_duplicates_get_one_reply(
    worker: Path,
    client: AppClient,
    container: punq.Container,
    graph: FakeGraph,
    llm: FakeLLM,
    acme: Setup,
) -> None:
    tenant, owner, channel, _ = acme
    message = await writes(container, channel, "What are your opening hours?")
    again = await writes(container, channel, "What are your opening hours?")  # doubled webhook
    assert again.id == message.id
    with tenant_context(TenantId(tenant.tenant.id or "")):  # a retried / doubled job
        jobs: JobQueue = container.resolve(JobQueue)
        doubled = [await jobs.enqueue(BOT_REPLY_JOB, message_id=message.id) for _ in range(3)]
    assert (await run_of(tenant, message.id))["outcome"] == "replied"
    await eventually(lambda: _async(sent_texts(graph)), lambda t: len(t) >= 1, "sent")
    for job_id in doubled:  # the doubled jobs have run: they found the claim done
        await job_runs_logged(worker, job_id, 1)
    assert len([r for r in llm.requests if r["path"] == "/api/chat"]) == 1
    outbound = [m for m in await history(client, owner, message.conversation_id)
                if m["direction"] == "outbound"]  # fmt: skip
    assert len(outbound) == 1
    assert (
        await AssistantRunDocument.get_pymongo_collection().count_documents(
            {"key": f"reply:{message.id}"}
        )
        == 1
    )


async def test_bot_conversations_are_not_auto_assigned_until_handed_over(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    user, agent = await signed_in(client, tenant, owner, "agent@acme.example.com", roles=["agent"])
    await put_settings(client, owner, auto_assign="round_robin")
    await set_presence(client, agent, "online")
    llm.tool_answers.append({"action": "handoff", "reason": "request", "summary": "Human please"})
    message = await writes(container, channel, "I want to talk to a person")
    assert (await conversation(client, owner, message.conversation_id))["assignee_id"] is None
    await run_of(tenant, message.id)
    handed = await conversation(client, owner, message.conversation_id)
    assert (handed["handled_by"], handed["assignee_id"]) == ("human", user["id"])


async def test_agents_hand_back_to_the_bot_and_take_over(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    message = await writes(container, channel, "Hi")
    await run_of(tenant, message.id)
    path = f"{CONVERSATIONS}/{message.conversation_id}"
    handed = await client.post(f"{path}/handoff", headers=owner)
    assert handed.status_code == 200 and handed.json()["handled_by"] == "human"
    back = await client.post(f"{path}/bot", headers=owner)
    assert back.status_code == 200, back.text
    assert (back.json()["handled_by"], back.json()["status"]) == ("bot", "pending")
    await client.patch(f"{ASSISTANTS}/{assistant['id']}", json={"enabled": False}, headers=owner)
    await client.post(f"{path}/handoff", headers=owner)
    assert_problem(await client.post(f"{path}/bot", headers=owner), 409, "no_assistant")


async def test_handover_endpoints_need_inbox_write_and_the_tenants_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, _ = acme
    message = await writes(container, channel, "Hi")
    path = f"{CONVERSATIONS}/{message.conversation_id}"
    _, member = await signed_in(client, tenant, owner, "max@acme.example.com")
    beta_owner = await _beta(client)
    for action in ("handoff", "bot"):
        anonymous = await client.post(
            f"{path}/{action}", headers={"X-Tenant-ID": tenant.tenant.id or ""}
        )
        assert_problem(anonymous, 401, "unauthorized")
        assert_problem(await client.post(f"{path}/{action}", headers=member), 403, "forbidden")
        assert_problem(await client.post(f"{path}/{action}", headers=beta_owner), 404, "not_found")
    bad = await client.post(f"{path}/handoff", json={"reason": ""}, headers=owner)
    assert_problem(bad, 422, "invalid_input")


async def _beta(client: AppClient) -> dict[str, str]:
    """The other tenant's owner (onboarded by the `acme` fixture)."""
    return BETA["headers"]


async def test_an_idle_conversation_gets_one_follow_up_then_resolves(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, channel, assistant = acme
    await client.patch(
        f"{ASSISTANTS}/{assistant['id']}",
        json={"follow_up": {"message": "Anything else I can do?"}}, headers=owner,
    )  # fmt: skip
    message = await writes(container, channel, "What are your opening hours?")
    assert (await run_of(tenant, message.id))["outcome"] == "replied"
    clock = FakeUtcClock(utcnow() + timedelta(minutes=30))
    use_clock(container, clock)
    follow = container.resolve(FollowUpIdleConversations)
    assert await follow.execute() == 0  # not idle long enough
    clock.advance(minutes=31)
    assert await follow.execute() == 1
    assert await follow.execute() == 0  # one follow-up
    await eventually(lambda: _async(sent_texts(graph)), lambda t: len(t) == 2, "followed up")
    assert sent_texts(graph)[-1] == "Anything else I can do?"
    assert (await conversation(client, owner, message.conversation_id))["status"] == "pending"
    clock.advance(minutes=61)
    assert await follow.execute() == 1
    assert (await conversation(client, owner, message.conversation_id))["status"] == "resolved"
    stats = (await client.get(f"{ASSISTANTS}/{assistant['id']}/stats", headers=owner)).json()
    assert stats["resolved_without_handoff"] == 1 and stats["conversations"] == 1


async def test_another_tenants_assistant_never_answers(
    client: AppClient, container: punq.Container, graph: FakeGraph, llm: FakeLLM, acme: Setup
) -> None:
    tenant, owner, _channel, assistant = acme
    beta_headers = await _beta(client)
    beta_id = beta_headers["X-Tenant-ID"]
    theirs = await stored_channel(container, beta_id, graph.base_url, phone_number_id="999000")
    message = await writes(container, theirs, "Hello?")
    beta_conversation = await client.get(
        f"{CONVERSATIONS}/{message.conversation_id}", headers=beta_headers
    )
    assert beta_conversation.json()["handled_by"] == "human"  # acme's bot is not beta's
    assert llm.requests == []
    assert_problem(
        await client.get(f"{CONVERSATIONS}/{message.conversation_id}", headers=owner),
        404, "not_found",
    )  # fmt: skip
    del assistant, tenant
