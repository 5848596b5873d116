"""The inbox's pure rules: tags normalised and bounded, `?q=` as literal text (name by
case, phone by digits), and the list's `me`/`none` assignee, with a fake repository."""

from __future__ import annotations

from typing import Any, cast

import pytest

from api.domain.errors import Forbidden, InvalidInput
from api.domain.messaging.conversations import (
    ContactSummary,
    ConversationPage,
    ConversationQuery,
    ConversationRepository,
)
from api.infrastructure.persistence.messaging.conversations import search_key, text_filter
from api.usecases.messaging.inbox_actions import normalized_tag, normalized_tags
from api.usecases.messaging.list_conversations import ListConversations
from tests.support.identity import principal

AGENT = principal("ada", {"inbox:read"})


def test_tags_are_trimmed_collapsed_lower_case_and_kept_once() -> None:
    assert normalized_tags([" VIP ", "vip", "Late  \t Payer", "Ünïcode"]) == [
        "vip", "late payer", "ünïcode",
    ]  # fmt: skip
    assert normalized_tag("  Billing   Issue ") == "billing issue"
    assert normalized_tags([]) == []
    assert normalized_tags(["a"] * 30) == ["a"]  # counted once normalised


@pytest.mark.parametrize(
    ("tags", "loc"),
    [(["ok", "   "], ("tags", 1)), (["x" * 51], ("tags", 0)), ([str(n) for n in range(21)],
                                                                 ("tags",))],
)  # fmt: skip
def test_bad_tags_name_the_field(tags: list[str], loc: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalized_tags(tags)
    assert [p.loc for p in raised.value.problems] == [loc]


def test_search_is_literal_text_by_name_or_phone_digits() -> None:
    key = search_key(ContactSummary(id="c", name="Ana MARÍA", phone="+16505550001"))
    assert key == "ana maría\n16505550001"
    assert text_filter("+1 (650) 555-0001") == {"contact_search": {"$regex": "16505550001"}}
    assert text_filter("  María ") == {"contact_search": {"$regex": "maría"}}
    assert text_filter(".*") == {"contact_search": {"$regex": r"\.\*"}}
    assert text_filter("C1") == {"contact_search": {"$regex": "c1"}}  # not a phone: a name
    no_phone = search_key(ContactSummary(id="c", name=None, wa_id="4477"))
    assert no_phone == "\n4477"


class RecordingConversations:
    def __init__(self) -> None:
        self.queries: list[ConversationQuery] = []

    async def search(
        self, query: ConversationQuery, *, cursor: str | None, limit: int
    ) -> ConversationPage:
        self.queries.append(query)
        return ConversationPage(items=[])


async def test_the_list_reads_me_and_none_and_bounds_the_search() -> None:
    repository = RecordingConversations()
    use_case = ListConversations(cast(ConversationRepository, repository))  # search only
    await use_case.execute(AGENT, assignee_id="me", tag=" VIP ", text=" Ana ")
    await use_case.execute(AGENT, assignee_id="none")
    await use_case.execute(AGENT, assignee_id="u-7")
    mine, nobodys, theirs = repository.queries
    assert (mine.assignee_id, mine.unassigned, mine.tag, mine.text) == ("ada", False, "vip", "Ana")
    assert (nobodys.assignee_id, nobodys.unassigned) == (None, True)
    assert (theirs.assignee_id, theirs.unassigned) == ("u-7", False)
    for text in ("", "   ", "x" * 101):
        with pytest.raises(InvalidInput):
            await use_case.execute(AGENT, text=text)
    with pytest.raises(Forbidden):
        await use_case.execute(principal("max", {"files:read"}))
