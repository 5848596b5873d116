"""A user's AI conversations: list, read (messages by cursor), history, delete, clear."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from tests.support.ai_stack import (
    AI,
    OLLAMA_MODEL,
    OPENAI_MODEL,
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

CONVERSATION_KEYS = {
    "id",
    "title",
    "model",
    "provider",
    "created_at",
    "updated_at",
    "message_count",
}
MESSAGE_KEYS = {
    "id", "conversation_id", "role", "content", "model", "provider", "partial",
    "finish_reason", "usage", "created_at",
}  # fmt: skip


async def _new(stack: AiStack, person: Person, message: str, **body: Any) -> str:
    """A new conversation started with `message`; answers its id."""
    got = await ask(stack.http, person, {"message": message, **body})
    assert got.status == 200, got.problem
    assert got.named("done"), got.events
    return str(got.meta["conversation_id"])


async def _say(stack: AiStack, person: Person, conversation_id: str, message: str) -> None:
    got = await ask(stack.http, person, {"message": message, "conversation_id": conversation_id})
    assert got.status == 200, got.problem
    assert got.named("done"), got.events


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_conversations_are_listed_most_recently_active_first(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    first = await _new(stack, owner, "First")
    second = await _new(stack, owner, "Second")
    third = await _new(stack, owner, "Third")
    await _say(stack, owner, first, "First again")  # the most recently active now

    listed = await conversations(stack.http, owner)
    assert [c["id"] for c in listed["items"]] == [first, third, second]
    assert (listed["total"], listed["page"], listed["page_size"]) == (3, 1, 20)
    assert all(set(c) == CONVERSATION_KEYS for c in listed["items"])
    counts = {c["id"]: c["message_count"] for c in listed["items"]}
    assert counts == {first: 4, second: 2, third: 2}
    titles = {c["id"]: c["title"] for c in listed["items"]}
    assert titles == {first: "First", second: "Second", third: "Third"}

    page_one = await conversations(stack.http, owner, page=1, page_size=2)
    page_two = await conversations(stack.http, owner, page=2, page_size=2)
    assert [c["id"] for c in page_one["items"]] == [first, third]
    assert [c["id"] for c in page_two["items"]] == [second]
    assert (page_two["total"], page_two["page"], page_two["page_size"]) == (3, 2, 2)
    beyond = await conversations(stack.http, owner, page=3, page_size=2)
    assert beyond["items"] == [] and beyond["total"] == 3

    # /history without a conversation id is the same page of conversations.
    history = await stack.http.get(
        f"{AI}/history", params={"page": 2, "page_size": 2}, headers=owner.headers
    )
    assert history.status_code == 200, history.text
    assert history.json() == page_two

    for params in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"page": "x"}):
        response = await stack.http.get(f"{AI}/conversations", params=params, headers=owner.headers)
        assert_problem(response, 422, "invalid_input")


async def test_conversation_detail_and_message_shapes(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    got = await ask(stack.http, owner, {"message": "Say hello", "model": OPENAI_MODEL})
    conversation_id = got.meta["conversation_id"]
    assert got.meta["user_message_id"] != got.meta["message_id"]

    detail = await conversation(stack.http, owner, conversation_id)
    assert set(detail) == CONVERSATION_KEYS | {"messages"}
    assert detail["id"] == conversation_id
    assert detail["title"] == "Say hello"
    assert (detail["model"], detail["provider"]) == (OPENAI_MODEL, "openai")
    assert detail["message_count"] == 2
    assert set(detail["messages"]) == {"items", "next_cursor"}
    assert detail["messages"]["next_cursor"] is None
    user, reply = detail["messages"]["items"]
    assert set(user) == MESSAGE_KEYS and set(reply) == MESSAGE_KEYS
    assert user == {
        "id": got.meta["user_message_id"],
        "conversation_id": conversation_id,
        "role": "user",
        "content": "Say hello",
        "model": OPENAI_MODEL,
        "provider": "openai",
        "partial": False,
        "finish_reason": None,
        "usage": None,
        "created_at": user["created_at"],
    }
    assert reply == {
        "id": got.meta["message_id"],
        "conversation_id": conversation_id,
        "role": "assistant",
        "content": "Hello, world!",
        "model": OPENAI_MODEL,
        "provider": "openai",
        "partial": False,
        "finish_reason": "stop",
        "usage": {"input_tokens": 2, "output_tokens": 4, "estimated": False},
        "created_at": reply["created_at"],
    }
    for stamp in (detail["created_at"], detail["updated_at"], user["created_at"]):
        assert stamp.endswith(("Z", "+00:00")), stamp  # UTC, said so
    created, updated = _when(detail["created_at"]), _when(detail["updated_at"])
    assert _when(user["created_at"]) <= _when(reply["created_at"])
    assert created <= _when(user["created_at"]) and created <= updated
    assert updated >= _when(reply["created_at"])  # the last activity

    # The same messages through /history/{id}, where /history?conversation_id= redirects.
    history = await stack.http.get(f"{AI}/history/{conversation_id}", headers=owner.headers)
    assert history.status_code == 200, history.text
    assert history.json() == detail["messages"]
    old_form = await stack.http.get(
        f"{AI}/history",
        params={"conversation_id": conversation_id, "limit": 5, "page": 1},
        headers=owner.headers,
    )
    assert old_form.status_code == 308, old_form.text
    assert old_form.headers["location"] == f"history/{conversation_id}?limit=5"
    followed = await stack.http.get(
        f"{AI}/history",
        params={"conversation_id": conversation_id},
        headers=owner.headers,
        follow_redirects=True,
    )
    assert followed.status_code == 200, followed.text
    assert str(followed.url).endswith(f"{AI}/history/{conversation_id}")
    assert followed.json() == detail["messages"]

    # Continuing with another model moves the conversation to it.
    again = await ask(
        stack.http,
        owner,
        {"message": "Again", "conversation_id": conversation_id, "model": OLLAMA_MODEL},
    )
    assert again.meta["model"] == OLLAMA_MODEL and again.meta["provider"] == "ollama"
    moved = await conversation(stack.http, owner, conversation_id)
    assert (moved["model"], moved["provider"], moved["message_count"]) == (
        OLLAMA_MODEL,
        "ollama",
        4,
    )
    assert [m["model"] for m in moved["messages"]["items"]] == [OPENAI_MODEL] * 2 + [
        OLLAMA_MODEL
    ] * 2
    assert _when(moved["updated_at"]) > updated


async def test_messages_are_paged_by_cursor_from_the_newest(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    stack.fake.ollama_models[OLLAMA_MODEL] = ["Reply 1"]
    conversation_id = await _new(stack, owner, "Question 1")
    for turn in (2, 3):
        stack.fake.ollama_models[OLLAMA_MODEL] = [f"Reply {turn}"]
        await _say(stack, owner, conversation_id, f"Question {turn}")
    everything = [text for turn in (1, 2, 3) for text in (f"Question {turn}", f"Reply {turn}")]
    whole = await conversation(stack.http, owner, conversation_id)
    assert [m["content"] for m in whole["messages"]["items"]] == everything
    assert whole["messages"]["next_cursor"] is None
    assert whole["message_count"] == 6

    for read in ("conversation", "history"):
        pages: list[list[str]] = []
        ids: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor is not None:
                params["cursor"] = cursor
            if read == "conversation":
                body = await conversation(stack.http, owner, conversation_id, **params)
                assert body["id"] == conversation_id and body["message_count"] == 6
                page = body["messages"]
            else:
                response = await stack.http.get(
                    f"{AI}/history/{conversation_id}", params=params, headers=owner.headers
                )
                assert response.status_code == 200, response.text
                page = response.json()
            assert len(page["items"]) == 2
            pages.append([m["content"] for m in page["items"]])
            ids.extend(m["id"] for m in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert cursor == page["items"][0]["id"]  # older than the oldest seen
            assert len(pages) < 4, pages
        assert pages == [
            ["Question 3", "Reply 3"],
            ["Question 2", "Reply 2"],
            ["Question 1", "Reply 1"],
        ], read
        assert len(set(ids)) == 6

    wide = await conversation(stack.http, owner, conversation_id, limit=4)
    assert [m["content"] for m in wide["messages"]["items"]] == everything[2:]
    older = await conversation(
        stack.http, owner, conversation_id, limit=4, cursor=wide["messages"]["next_cursor"]
    )
    assert [m["content"] for m in older["messages"]["items"]] == everything[:2]
    assert older["messages"]["next_cursor"] is None

    url = f"{AI}/conversations/{conversation_id}"
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "c" * 65}):
        response = await stack.http.get(url, params=params, headers=owner.headers)
        assert_problem(response, 422, "invalid_input")


async def test_title_is_the_first_message_on_one_line_at_most_80_characters(
    stack: AiStack,
) -> None:
    owner = await stack.tenant("acme")
    short = await _new(stack, owner, "  How do\n\tI   bake bread?  ")
    words = " ".join(f"word{i}" for i in range(40))  # 279 characters
    long = await _new(stack, owner, words + "\nsecond line")
    exact = await _new(stack, owner, "x" * 80)

    assert (await conversation(stack.http, owner, short))["title"] == "How do I bake bread?"
    title = (await conversation(stack.http, owner, long))["title"]
    assert len(title) <= 80
    assert title.endswith("…")
    assert words.startswith(title[:-1].rstrip())
    assert len(title[:-1].rstrip()) >= 70  # truncated near the limit, not far before it
    assert (await conversation(stack.http, owner, exact))["title"] == "x" * 80

    await _say(stack, owner, short, "A different question")
    assert (await conversation(stack.http, owner, short))["title"] == "How do I bake bread?"
    # The message itself is kept as sent.
    first = (await conversation(stack.http, owner, short))["messages"]["items"][0]
    assert first["content"] == "  How do\n\tI   bake bread?  "


async def test_delete_removes_the_conversation_and_its_messages(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    doomed = await _new(stack, owner, "Doomed")
    await _say(stack, owner, doomed, "More")
    kept = await _new(stack, owner, "Kept")
    assert await stored_messages(doomed) == 4

    url = f"{AI}/conversations/{doomed}"
    deleted = await stack.http.delete(url, headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""

    assert_problem(await stack.http.get(url, headers=owner.headers), 404, "not_found")
    history = await stack.http.get(f"{AI}/history/{doomed}", headers=owner.headers)
    assert_problem(history, 404, "not_found")
    assert_problem(await stack.http.delete(url, headers=owner.headers), 404, "not_found")
    assert_problem(await stack.http.post(f"{url}/stop", headers=owner.headers), 404, "not_found")
    started = stack.fake.started
    again = await ask(stack.http, owner, {"message": "Hello?", "conversation_id": doomed})
    assert again.status == 404 and again.problem is not None
    assert again.problem["code"] == "not_found"
    assert stack.fake.started == started

    assert await stored_messages(doomed) == 0
    assert await stored_messages(kept) == 2
    listed = await conversations(stack.http, owner)
    assert [c["id"] for c in listed["items"]] == [kept] and listed["total"] == 1

    audit = await stack.http.get(
        "/api/v1/audit-logs", params={"action": "conversation.deleted"}, headers=owner.headers
    )
    assert audit.status_code == 200, audit.text
    entries = audit.json()["items"]
    assert [(e["resource_id"], e["actor_id"]) for e in entries] == [(doomed, owner.user_id)]


async def test_delete_while_answering_stops_and_leaves_nothing(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    hold = stack.fake.hold = asyncio.Event()
    stack.fake.hold_after = 1
    try:
        async with ask_stream(stack.http, owner, {"message": "Say hello"}) as events:
            _, meta = await next_event(events)
            assert await next_event(events) == ("token", {"content": "Hello"})
            conversation_id = meta["conversation_id"]
            deleted = await stack.http.delete(
                f"{AI}/conversations/{conversation_id}", headers=owner.headers
            )
            assert deleted.status_code == 204, deleted.text
            async with asyncio.timeout(5):
                rest = [event async for event in events]
    finally:
        hold.set()
    assert len(rest) == 1 and rest[0][0] in {"done", "error"}, rest
    if rest[0][0] == "done":
        assert rest[0][1]["partial"] is True
    await stack.fake.wait_cancelled()
    assert stack.fake.completed == 0
    url = f"{AI}/conversations/{conversation_id}"
    assert_problem(await stack.http.get(url, headers=owner.headers), 404, "not_found")
    assert await stored_messages(conversation_id) == 0
    assert (await conversations(stack.http, owner))["total"] == 0


async def test_clear_history_deletes_only_the_callers_conversations(stack: AiStack) -> None:
    owner = await stack.tenant("acme")
    member = await stack.member(owner, "max")
    beta = await stack.tenant("beta")
    mine = [await _new(stack, owner, "One"), await _new(stack, owner, "Two")]
    theirs = await _new(stack, member, "Member's")
    other_tenant = await _new(stack, beta, "Beta's")

    cleared = await stack.http.post(f"{AI}/clear-history", headers=owner.headers)
    assert cleared.status_code == 204, cleared.text
    assert cleared.content == b""

    assert (await conversations(stack.http, owner))["total"] == 0
    for conversation_id in mine:
        response = await stack.http.get(
            f"{AI}/conversations/{conversation_id}", headers=owner.headers
        )
        assert_problem(response, 404, "not_found")
        assert await stored_messages(conversation_id) == 0
    survivor = await conversation(stack.http, member, theirs)
    assert [m["role"] for m in survivor["messages"]["items"]] == ["user", "assistant"]
    assert (await conversations(stack.http, member))["total"] == 1
    assert (await conversation(stack.http, beta, other_tenant))["message_count"] == 2

    again = await stack.http.post(f"{AI}/clear-history", headers=owner.headers)
    assert again.status_code == 204, again.text
    # The owner can start over.
    restart = await _new(stack, owner, "Fresh start")
    assert [c["id"] for c in (await conversations(stack.http, owner))["items"]] == [restart]
