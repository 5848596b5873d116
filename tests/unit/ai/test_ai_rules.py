"""AI chat rules with fakes of the ports: context fitting, titles, days, model choice,
the token budget, tenant settings, usage reports, and a generation's life (`Ask`,
`Generation`, `Answer`) driven by a scripted model stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from api.domain.ai.entities import (
    AiConversation,
    AiMessage,
    AiTenantSettings,
    UsageRow,
)
from api.domain.ai.errors import ModelNotFound, ProviderUnavailable, QuotaExceeded, UnknownModel
from api.domain.ai.values import (
    ChatDelta,
    FinishReason,
    ModelInfo,
    PromptMessage,
    Provider,
    Speaker,
    TokenUsage,
    estimate_tokens,
)
from api.domain.errors import Forbidden, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.ai import days as ai_days
from api.usecases.ai import generation as ai_generation
from api.usecases.ai import get_usage as ai_get_usage
from api.usecases.ai import token_budget as ai_token_budget
from api.usecases.ai.answer import Answer
from api.usecases.ai.ask import Ask, Question
from api.usecases.ai.days import seconds_to_next_day, utc_day
from api.usecases.ai.events import Failed, Finished, KeepAlive, StreamEvent, Token
from api.usecases.ai.get_usage import GetUsage
from api.usecases.ai.model_access import ModelAccess
from api.usecases.ai.policy import AiPolicy
from api.usecases.ai.reply_writer import ReplyWriter
from api.usecases.ai.rules import TITLE_CHARS, fit_context, last_turns, stop_key, title_of
from api.usecases.ai.stop_generation import StopGeneration
from api.usecases.ai.token_budget import TokenBudget
from api.usecases.ai.update_ai_settings import AiSettingsChange, UpdateAiSettings
from api.usecases.kernel.auditor import Auditor
from tests.fakes.ai import (
    FakeChatModels,
    FakeConversations,
    FakeLedger,
    FakeMessages,
    FakeQuotaHolds,
    FakeSettings,
    FakeStops,
    FakeTurns,
    Script,
)
from tests.fakes.audit import FakeAuditLog
from tests.fakes.plans import unlimited_gate
from tests.support.identity import TENANT, principal

LLAMA = ModelInfo(id="llama3.2:latest", provider=Provider.OLLAMA)
GPT = ModelInfo(id="gpt-4o-mini", provider=Provider.OPENAI)
MISTRAL = ModelInfo(id="mistral:7b", provider=Provider.OLLAMA)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
USER = principal("u1", {"ai:use"})
ADMIN = principal("boss", {"ai:manage"})
# Seconds a test waits for something that should happen at once: generous, because a
# busy CI machine can stall a process for seconds, and only a failing test waits it out.
WAIT = 30.0


def message(content: str, role: Speaker = Speaker.USER, n: int = 0) -> AiMessage:
    return AiMessage(
        id=f"m{n}",
        conversation_id="c1",
        user_id="u1",
        role=role,
        content=content,
        model=LLAMA.id,
        provider=LLAMA.provider,
        created_at=T0 + timedelta(seconds=n),
    )


def chars(tokens: int) -> str:
    """A text whose estimate is exactly `tokens` tokens."""
    return "x" * (tokens * 4)


# -- estimate_tokens, fit_context, title_of ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 1), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_estimate_tokens_rounds_up_and_is_never_zero(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_fit_context_keeps_the_newest_messages_within_the_budget() -> None:
    history = [
        message(chars(5), n=1),
        message(chars(3), Speaker.ASSISTANT, n=2),
        message(chars(4), n=3),
        message(chars(2), Speaker.ASSISTANT, n=4),
        message("newest?", n=5),  # 2 tokens
    ]
    # 2 + 2 + 4 = 8 fit in 10; the next (3) does not, and nothing older is taken either.
    prompt = fit_context(history, max_tokens=10, system_prompt=None)
    assert prompt == [
        PromptMessage(Speaker.USER, chars(4)),
        PromptMessage(Speaker.ASSISTANT, chars(2)),
        PromptMessage(Speaker.USER, "newest?"),
    ]
    everything = fit_context(history, max_tokens=16, system_prompt=None)
    assert [p.content for p in everything] == [m.content for m in history]
    # 15 would fit all but the first question: its reply does not go without it.
    one_short = fit_context(history, max_tokens=15, system_prompt=None)
    assert [p.content for p in one_short] == [m.content for m in history[2:]]


def test_fit_context_never_starts_with_a_reply_whose_question_did_not_fit() -> None:
    history = [
        message(chars(10), n=1),
        message(chars(1), Speaker.ASSISTANT, n=2),
        message(chars(1), Speaker.ASSISTANT, n=3),
        message("q?", n=4),
    ]
    assert fit_context(history, max_tokens=5, system_prompt=None) == [
        PromptMessage(Speaker.USER, "q?")
    ]


def test_fit_context_always_keeps_the_newest_message() -> None:
    history = [message("old"), message(chars(50), n=1)]
    assert fit_context(history, max_tokens=10, system_prompt=None) == [
        PromptMessage(Speaker.USER, chars(50))
    ]
    # Even when the system prompt alone is over the budget.
    prompt = fit_context(history, max_tokens=10, system_prompt=chars(20))
    assert prompt == [
        PromptMessage(Speaker.SYSTEM, chars(20)),
        PromptMessage(Speaker.USER, chars(50)),
    ]


def test_fit_context_skips_empty_messages() -> None:
    history = [
        message("first", n=1),
        message("", Speaker.ASSISTANT, n=2),  # e.g. a reply stopped before its first token
        message("second", n=3),
    ]
    prompt = fit_context(history, max_tokens=100, system_prompt=None)
    assert prompt == [PromptMessage(Speaker.USER, "first"), PromptMessage(Speaker.USER, "second")]
    assert fit_context([message("", n=1)], max_tokens=100, system_prompt=None) == []


def test_fit_context_prepends_the_system_prompt_and_counts_it() -> None:
    history = [message(chars(2), n=1), message(chars(2), Speaker.ASSISTANT, n=2), message("q", n=3)]
    without = fit_context(history, max_tokens=5, system_prompt=None)
    assert [p.content for p in without] == [m.content for m in history]  # 2 + 2 + 1
    with_prompt = fit_context(history, max_tokens=5, system_prompt="sys")
    # 1 for the prompt leaves 4: the question (1) and the reply (2), not its question (2).
    assert with_prompt == [PromptMessage(Speaker.SYSTEM, "sys"), PromptMessage(Speaker.USER, "q")]
    roomier = fit_context(history, max_tokens=6, system_prompt="sys")
    assert roomier == [PromptMessage(Speaker.SYSTEM, "sys"), *without]
    # An empty system prompt is no system prompt.
    assert fit_context(history, max_tokens=5, system_prompt="") == without


def test_last_turns_keeps_the_question_and_whole_exchanges_before_it() -> None:
    history = [
        message(
            f"{'q' if i % 2 == 0 else 'a'}{i}", Speaker.USER if i % 2 == 0 else Speaker.ASSISTANT, i
        )
        for i in range(7)
    ]  # q0 a1 q2 a3 q4 a5 q6
    assert [m.content for m in last_turns(history, 2)] == ["q2", "a3", "q4", "a5", "q6"]
    assert [m.content for m in last_turns(history, 10)] == [m.content for m in history]
    assert [m.content for m in last_turns(history, 0)] == ["q6"]
    # A reply whose question was cut off does not open the context.
    uneven = [*history[:6], message("again?", n=7), message("q8", n=8)]  # ... a5 again? q8
    assert [m.content for m in last_turns(uneven, 1)] == ["again?", "q8"]
    assert last_turns([], 3) == []


def test_title_of_folds_whitespace() -> None:
    assert title_of("  Hello \n\t  world  \r\n again ") == "Hello world again"
    assert title_of("short") == "short"


def test_title_of_truncates_long_messages_with_an_ellipsis() -> None:
    exact = "a" * TITLE_CHARS
    assert title_of(exact) == exact
    long = title_of("b" * (TITLE_CHARS + 1))
    assert long == "b" * (TITLE_CHARS - 1) + "…"
    assert len(long) == TITLE_CHARS
    # Folding happens first: 80 characters after folding are not truncated.
    assert title_of("  ".join(["word"] * 16)) == " ".join(["word"] * 16)
    # A cut that lands on a space drops the trailing space before the ellipsis.
    spaced = title_of("c" * (TITLE_CHARS - 2) + " dddd")
    assert spaced == "c" * (TITLE_CHARS - 2) + "…"


# -- days ----------------------------------------------------------------------------------


def test_utc_day_uses_the_utc_date() -> None:
    assert utc_day(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)) == "2024-02-29"
    ahead = timezone(timedelta(hours=2))
    assert utc_day(datetime(2024, 1, 1, 1, 0, tzinfo=ahead)) == "2023-12-31"
    behind = timezone(timedelta(hours=-5))
    assert utc_day(datetime(2024, 1, 1, 21, 0, tzinfo=behind)) == "2024-01-02"


@pytest.mark.parametrize(
    ("at", "seconds"),
    [
        (datetime(2024, 5, 1, 0, 0, tzinfo=UTC), 86400),
        (datetime(2024, 5, 1, 12, 0, tzinfo=UTC), 43200),
        (datetime(2024, 5, 1, 23, 59, 0, tzinfo=UTC), 60),
        (datetime(2024, 5, 1, 23, 59, 59, 900000, tzinfo=UTC), 1),  # never 0
        (datetime(2024, 12, 31, 23, 0, tzinfo=UTC), 3600),  # across the year
        (datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))), 3600),  # 23:00 UTC
    ],
)
def test_seconds_to_next_day(at: datetime, seconds: int) -> None:
    assert seconds_to_next_day(at) == seconds


# -- Ask over the fakes of tests.fakes.ai --------------------------------------------------


class Chat:
    """An `Ask` over fakes, with the fakes at hand."""

    def __init__(self, policy: AiPolicy | None = None, **tenant: object) -> None:
        # No keep-alive in the default tests' streams, however slow the machine.
        self.policy = policy or AiPolicy(start_grace_seconds=1.0, keepalive_seconds=300.0)
        self.models = FakeChatModels(LLAMA, GPT)
        self.settings = FakeSettings(AiTenantSettings(**tenant))  # type: ignore[arg-type]
        self.ledger = FakeLedger()
        self.holds = FakeQuotaHolds(self.ledger)
        self.conversations = FakeConversations()
        self.messages = FakeMessages()
        self.stops = FakeStops()
        self.turns = FakeTurns(self.conversations, self.messages, self.ledger, self.holds)
        self.ask = Ask(
            self.models,
            ModelAccess(self.models, self.settings, self.policy),
            TokenBudget(self.holds, self.policy, unlimited_gate()),
            self.conversations,
            self.messages,
            self.turns,
            ReplyWriter(self.turns, self.messages),
            self.stops,
            self.policy,
        )

    @property
    def script(self) -> Script:
        return self.models.script

    async def start(
        self, text: str = "Hello there", who: Principal = USER, **question: str
    ) -> Answer:
        return await self.ask.start(who, Question(message=text, **question))


async def next_batch(events: AsyncGenerator[list[StreamEvent], None]) -> list[StreamEvent]:
    async with asyncio.timeout(WAIT):
        return await anext(events)


async def rest(events: AsyncGenerator[list[StreamEvent], None]) -> list[StreamEvent]:
    """Every event up to the end, flattened (KeepAlives included)."""
    out: list[StreamEvent] = []
    async with asyncio.timeout(WAIT):
        async for batch in events:
            out.extend(batch)
    return out


async def until_the_end(
    events: AsyncGenerator[list[StreamEvent], None], seconds: float
) -> list[StreamEvent]:
    """The events within `seconds` (no TimeoutError: a stream that never ends is simply
    cut short, and the test says what it saw)."""
    out: list[StreamEvent] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for batch in events:
                out.extend(batch)
    await events.aclose()
    return out


def stream_of(answer: Answer) -> AsyncGenerator[list[StreamEvent], None]:
    events = answer.events()
    assert isinstance(events, AsyncGenerator)
    return events


async def released(stops: FakeStops) -> bool:
    """Whether the generation's stop watcher goes away (its task's done callback runs on
    a later turn of the loop)."""
    for _ in range(20):
        if not stops.watchers:
            return True
        await asyncio.sleep(0)
    return False


def tokens(events: Sequence[StreamEvent]) -> str:
    return "".join(e.content for e in events if isinstance(e, Token))


def tenant_a() -> TenantId:
    return TenantId(TENANT)


# -- ModelAccess ---------------------------------------------------------------------------


def conversation(model: str) -> AiConversation:
    return AiConversation(
        id="c9", user_id="u1", title="t", model=model, provider=Provider.OLLAMA,
        created_at=T0, updated_at=T0,
    )  # fmt: skip


def access(*offered: ModelInfo, policy: AiPolicy | None = None, **tenant: object) -> ModelAccess:
    settings = FakeSettings(AiTenantSettings(**tenant))  # type: ignore[arg-type]
    return ModelAccess(FakeChatModels(*offered), settings, policy or AiPolicy())


async def test_resolve_prefers_the_requested_model_then_the_conversations() -> None:
    models = access(LLAMA, GPT, MISTRAL, policy=AiPolicy(default_model=GPT.id),
                    default_model=MISTRAL.id)  # fmt: skip
    assert (await models.resolve(GPT.id, conversation(LLAMA.id)))[0] == GPT
    assert (await models.resolve(None, conversation(LLAMA.id)))[0] == LLAMA
    # then the tenant's default, before the deployment's
    assert (await models.resolve(None, None))[0] == MISTRAL


async def test_resolve_falls_back_to_the_deployment_default_then_the_first_offered() -> None:
    deployment = access(LLAMA, GPT, policy=AiPolicy(default_model=GPT.id))
    assert (await deployment.resolve(None, None))[0] == GPT
    neither = access(MISTRAL, GPT)
    assert (await neither.resolve(None, None))[0] == MISTRAL


async def test_resolve_answers_the_tenant_settings_too() -> None:
    models = access(LLAMA, daily_token_quota=500)
    model, tenant = await models.resolve(None, None)
    assert model == LLAMA and tenant.daily_token_quota == 500


async def test_resolve_honours_the_tenants_allow_list() -> None:
    models = access(LLAMA, GPT, MISTRAL, allowed_models=(GPT.id, "not-offered"))
    offered, _ = await models.available()
    assert offered == [GPT]
    assert (await models.resolve(None, None))[0] == GPT  # the first *allowed* model
    assert (await models.resolve(GPT.id, None))[0] == GPT
    with pytest.raises(UnknownModel):
        await models.resolve(LLAMA.id, None)  # offered, not allowed
    with pytest.raises(UnknownModel):
        await models.resolve("not-offered", None)  # allowed, not offered
    with pytest.raises(UnknownModel):
        await models.resolve(None, conversation(LLAMA.id))  # the conversation's, not allowed


async def test_resolve_refuses_unknown_models() -> None:
    with pytest.raises(UnknownModel, match="nope"):
        await access(LLAMA).resolve("nope", None)


async def test_resolve_with_nothing_offered_is_unknown_model() -> None:
    with pytest.raises(UnknownModel):
        await access().resolve(None, None)
    with pytest.raises(UnknownModel):
        await access(LLAMA, allowed_models=()).resolve(None, None)  # an empty allow-list


# -- TokenBudget ---------------------------------------------------------------------------


@pytest.fixture
def six_pm(monkeypatch: pytest.MonkeyPatch) -> datetime:
    at = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)
    monkeypatch.setattr(ai_days, "utcnow", lambda: at)
    monkeypatch.setattr(ai_get_usage, "utcnow", lambda: at)
    monkeypatch.setattr(ai_token_budget, "utcnow", lambda: at)
    return at


HI = [PromptMessage(Speaker.USER, "hi")]  # estimated as 1 token


def budget_over(ledger: FakeLedger, **policy: int) -> tuple[TokenBudget, FakeQuotaHolds]:
    holds = FakeQuotaHolds(ledger)
    return TokenBudget(holds, AiPolicy(**policy), unlimited_gate()), holds  # type: ignore[arg-type]


async def test_budget_refuses_when_not_one_token_of_reply_fits(six_pm: datetime) -> None:
    ledger = FakeLedger({"2024-05-01": 1000, "2024-04-30": 99999})
    budget, _ = budget_over(ledger)
    with pytest.raises(QuotaExceeded) as refused:
        await budget.hold(AiTenantSettings(daily_token_quota=1000), HI)
    assert refused.value.retry_after == 6 * 3600  # to the next UTC midnight
    assert ledger.asked == ["2024-05-01"]
    with pytest.raises(QuotaExceeded):  # the prompt fits, but no reply
        await budget.hold(AiTenantSettings(daily_token_quota=1001), HI)
    # What is left is held, and the reply is capped to it.
    hold = await budget.hold(AiTenantSettings(daily_token_quota=1003), HI)
    assert (hold.day, hold.tokens, hold.max_output_tokens) == ("2024-05-01", 3, 2)


async def test_budget_holds_the_prompt_and_the_longest_reply(six_pm: datetime) -> None:
    budget, holds = budget_over(FakeLedger({"2024-05-01": 10}), max_output_tokens=100)
    tenant = AiTenantSettings(daily_token_quota=1000)
    first = await budget.hold(tenant, HI)
    assert (first.tokens, first.max_output_tokens) == (101, 100)
    assert holds.committed["2024-05-01"] == 111
    # Holds add up: of the 889 left, eight more full holds fit, then a shorter one.
    more = [await budget.hold(tenant, HI) for _ in range(9)]
    assert [h.tokens for h in more] == [101] * 8 + [81]
    with pytest.raises(QuotaExceeded):
        await budget.hold(tenant, HI)
    # Settling replaces a hold by what was used; nothing used gives it all back.
    await budget.settle(first, TokenUsage(input_tokens=3, output_tokens=4))
    await budget.settle(more[0], None)
    assert holds.committed["2024-05-01"] == 1000 - 101 - 101 + 7
    assert (await budget.hold(tenant, HI)).tokens == 101


async def test_budget_without_a_quota_does_not_even_look(six_pm: datetime) -> None:
    ledger = FakeLedger({"2024-05-01": 10**9})
    budget, holds = budget_over(ledger, max_output_tokens=77)
    hold = await budget.hold(AiTenantSettings(daily_token_quota=None), HI)
    assert (hold.tokens, hold.max_output_tokens) == (0, 77)  # the cap still applies
    assert ledger.asked == [] and holds.committed == {}


async def test_a_zero_quota_refuses_everything(six_pm: datetime) -> None:
    budget, _ = budget_over(FakeLedger())
    with pytest.raises(QuotaExceeded):
        await budget.hold(AiTenantSettings(daily_token_quota=0), HI)


# -- UpdateAiSettings, GetUsage ------------------------------------------------------------


async def test_update_settings_dedupes_allowed_models_in_order() -> None:
    settings, audit = FakeSettings(), FakeAuditLog()
    change = AiSettingsChange(
        allowed_models=["b", "a", "b", "c", "a"], default_model="a", daily_token_quota=100
    )
    saved = await UpdateAiSettings(settings, Auditor(audit)).execute(ADMIN, change)
    assert saved.allowed_models == ("b", "a", "c")
    assert saved.default_model == "a" and saved.daily_token_quota == 100
    assert saved.updated_at is not None
    assert settings.settings == saved
    assert [e.action for e in audit.entries] == ["ai_settings.updated"]
    assert audit.entries[0].changes["allowed_models"] == ["b", "a", "c"]
    assert audit.entries[0].actor_id == "boss"


async def test_update_settings_refuses_a_default_outside_the_allowed_models() -> None:
    settings, audit = FakeSettings(AiTenantSettings(default_model="kept")), FakeAuditLog()
    update = UpdateAiSettings(settings, Auditor(audit))
    for allowed in (["a", "b"], []):
        with pytest.raises(InvalidInput) as refused:
            await update.execute(ADMIN, AiSettingsChange(allowed, "c", None))
        assert [p.loc for p in refused.value.problems] == [("body", "default_model")]
    assert settings.puts == 0 and audit.entries == []
    assert settings.settings.default_model == "kept"


async def test_update_settings_without_an_allow_list_takes_any_default() -> None:
    settings = FakeSettings(AiTenantSettings(allowed_models=("x",), daily_token_quota=5))
    saved = await UpdateAiSettings(settings, Auditor(FakeAuditLog())).execute(
        ADMIN, AiSettingsChange(None, "anything", None)
    )
    assert saved.allowed_models is None and saved.default_model == "anything"
    assert saved.daily_token_quota is None  # replaced, not merged


async def test_update_settings_needs_ai_manage() -> None:
    settings = FakeSettings()
    with pytest.raises(Forbidden):
        await UpdateAiSettings(settings, Auditor(FakeAuditLog())).execute(
            USER, AiSettingsChange(None, None, None)
        )
    assert settings.puts == 0


async def test_usage_report_sums_rows_and_defaults_to_the_last_30_days(six_pm: datetime) -> None:
    ledger = FakeLedger({"2024-05-01": 42})
    ledger.row_list = [
        UsageRow("2024-04-30", "u1", "m", Provider.OLLAMA, 10, 20, 1),
        UsageRow("2024-05-01", "u2", "m", Provider.OLLAMA, 1, 2, 1),
    ]
    report = await GetUsage(ledger, FakeSettings(AiTenantSettings(daily_token_quota=9))).execute(
        ADMIN, since=None, until=None, user_id="u1"
    )
    assert (report.since, report.until) == ("2024-04-02", "2024-05-01")
    assert ledger.rows_asked == [("2024-04-02", "2024-05-01", "u1")]
    assert (report.input_tokens, report.output_tokens) == (11, 22)
    assert report.used_today == 42 and report.daily_token_quota == 9


async def test_usage_report_refuses_bad_ranges() -> None:
    usage = GetUsage(FakeLedger(), FakeSettings())
    with pytest.raises(InvalidInput):
        await usage.execute(ADMIN, since=date(2024, 5, 2), until=date(2024, 5, 1), user_id=None)
    with pytest.raises(InvalidInput):
        await usage.execute(ADMIN, since=date(2023, 5, 1), until=date(2024, 5, 1), user_id=None)
    ok = await usage.execute(ADMIN, since=date(2023, 5, 2), until=date(2024, 5, 1), user_id=None)
    assert ok.since == "2023-05-02"  # 366 days, inclusive
    with pytest.raises(Forbidden):
        await usage.execute(USER, since=None, until=None, user_id=None)


# -- Ask: checks before anything is saved --------------------------------------------------


async def test_ask_checks_permission_and_input_before_saving_anything() -> None:
    chat = Chat(AiPolicy(max_message_chars=10))
    with tenant_context(tenant_a()):
        with pytest.raises(Forbidden):
            await chat.start("hi", who=ADMIN)
        with pytest.raises(InvalidInput):
            await chat.start("   \n ")
        with pytest.raises(InvalidInput):
            await chat.start("x" * 11)
        with pytest.raises(NotFound):
            await chat.start("hi", conversation_id="c404")
        with pytest.raises(UnknownModel):
            await chat.start("hi", model="nope")
    assert chat.conversations.items == {} and chat.messages.items == {}
    assert chat.models.prompts == []


async def test_ask_refuses_another_users_conversation() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("hi", None)
        answer = await chat.start("mine")
        await rest(stream_of(answer))
        with pytest.raises(NotFound):
            await chat.start("theirs", who=principal("u2", {"ai:use"}),
                             conversation_id=answer.started.conversation_id)  # fmt: skip


async def test_ask_over_quota_saves_nothing(six_pm: datetime) -> None:
    chat = Chat(daily_token_quota=10)
    chat.ledger.used["2024-05-01"] = 10
    with tenant_context(tenant_a()), pytest.raises(QuotaExceeded):
        await chat.start()
    assert chat.conversations.items == {} and chat.messages.items == {}
    assert chat.models.prompts == []


# -- Ask / Answer: a generation's life -----------------------------------------------------


async def test_a_reply_streams_in_batches_and_is_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    # A generation may pause in a long burst of deltas (a fairness slice): not in this one.
    monkeypatch.setattr(ai_generation, "SLICE_SECONDS", 60.0)
    chat = Chat(AiPolicy(system_prompt="Be brief.", start_grace_seconds=1, keepalive_seconds=5))
    with tenant_context(tenant_a()):
        chat.script.push("Hel", "lo", " you")  # all ready before the stream starts
        answer = await chat.start("  Hi   there  ")
        events = stream_of(answer)
        first = await next_batch(events)
        started = answer.started
        assert first == [started, Token("Hel"), Token("lo"), Token(" you")]
        assert started.model == LLAMA  # the first offered, nothing else being set
        # Deltas that arrive together mid-stream are given together too.
        chat.script.push("!", " And", " more")
        assert await next_batch(events) == [Token("!"), Token(" And"), Token(" more")]
        chat.script.push(".", ChatDelta(usage=TokenUsage(input_tokens=7, output_tokens=4)), None)
        remaining = await rest(events)
    assert remaining == [
        Token("."),
        Finished(
            message_id=started.message_id,
            usage=TokenUsage(input_tokens=7, output_tokens=4),
            partial=False,
            finish_reason=FinishReason.STOP,
        ),
    ]

    conversation = chat.conversations.items[started.conversation_id]
    assert conversation.title == "Hi there" and conversation.message_count == 2
    question = chat.messages.items[started.user_message_id]
    assert question.role is Speaker.USER and question.content == "  Hi   there  "
    reply = chat.messages.items[started.message_id]
    assert reply.role is Speaker.ASSISTANT and reply.content == "Hello you! And more."
    assert reply.partial is False and reply.finish_reason is FinishReason.STOP
    assert reply.usage == TokenUsage(input_tokens=7, output_tokens=4)
    assert chat.models.prompts == [
        [PromptMessage(Speaker.SYSTEM, "Be brief."), PromptMessage(Speaker.USER, "  Hi   there  ")]
    ]
    [(day, user_id, model, usage)] = chat.ledger.added
    assert (day, user_id, model, usage) == (utc_day(), "u1", LLAMA, reply.usage)
    assert await released(chat.stops)  # the watcher goes when the generation ends
    assert chat.script.closed.is_set()


async def test_usage_is_estimated_when_the_provider_reports_none() -> None:
    chat = Chat(AiPolicy(system_prompt="sys prompt", start_grace_seconds=1))
    with tenant_context(tenant_a()):
        chat.script.push("Hello", " world!", None)
        answer = await chat.start("What is up")
        events = await rest(stream_of(answer))
    finished = events[-1]
    expected = TokenUsage(
        input_tokens=estimate_tokens("sys prompt") + estimate_tokens("What is up"),
        output_tokens=estimate_tokens("Hello world!"),
        estimated=True,
    )
    assert isinstance(finished, Finished)
    assert finished.usage == expected and finished.partial is False
    assert chat.messages.items[answer.started.message_id].usage == expected
    assert chat.ledger.added[0][3] == expected


async def test_a_length_limit_is_a_complete_reply() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("cut", ChatDelta(finish_reason=FinishReason.LENGTH), None)
        events = await rest(stream_of(await chat.start()))
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.finish_reason is FinishReason.LENGTH and finished.partial is False


async def test_a_follow_up_sends_the_history_and_counts_messages() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("one", None)
        first = await chat.start("first?")
        await rest(stream_of(first))
        cid = first.started.conversation_id
        chat.models.script = Script()
        chat.script.push("two", None)
        second = await chat.start("second?", conversation_id=cid, model=GPT.id)
        await rest(stream_of(second))
    assert second.started.conversation_id == cid and second.started.model == GPT
    assert chat.models.prompts[-1] == [
        PromptMessage(Speaker.USER, "first?"),
        PromptMessage(Speaker.ASSISTANT, "one"),
        PromptMessage(Speaker.USER, "second?"),
    ]
    stored = chat.conversations.items[cid]
    assert stored.message_count == 4 and stored.model == GPT.id
    assert len(chat.conversations.items) == 1


async def test_the_context_holds_the_last_turns_only() -> None:
    chat = Chat(AiPolicy(context_max_turns=1, start_grace_seconds=1))
    with tenant_context(tenant_a()):
        cid: str | None = None
        for n in range(3):
            chat.models.script = Script()
            chat.script.push(f"a{n}", None)
            answer = await chat.ask.start(USER, Question(f"q{n}", conversation_id=cid))
            await rest(stream_of(answer))
            cid = answer.started.conversation_id
    assert chat.models.prompts[-1] == [
        PromptMessage(Speaker.USER, "q1"),
        PromptMessage(Speaker.ASSISTANT, "a1"),
        PromptMessage(Speaker.USER, "q2"),
    ]


async def test_a_conversation_deleted_meanwhile_is_not_found_and_keeps_nothing() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("one", None)
        first = await chat.start("first")
        await rest(stream_of(first))
        cid = first.started.conversation_id
        stored = chat.conversations.items[cid]
        del chat.conversations.items[cid]  # deleted between the check and the write...
        get = chat.conversations.get

        async def still_there(user_id: str, conversation_id: str) -> AiConversation | None:
            return stored if conversation_id == cid else await get(user_id, conversation_id)

        chat.conversations.get = still_there  # type: ignore[method-assign]
        with pytest.raises(NotFound):
            await chat.start("second", conversation_id=cid)
    assert sorted(m.content for m in chat.messages.items.values()) == ["first", "one"]


async def test_a_conversation_deleted_during_the_reply_keeps_no_reply() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("part")
        answer = await chat.start()
        events = stream_of(answer)
        await next_batch(events)
        assert await chat.conversations.delete("u1", answer.started.conversation_id)
        chat.script.push(" two", None)
        seen = await rest(events)
    failed = seen[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, NotFound)
    assert failed.message_id is None
    assert chat.messages.replies() == []


async def test_a_stop_request_ends_the_reply_as_partial() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("Once", " upon")
        answer = await chat.start()
        events = stream_of(answer)
        assert tokens(await next_batch(events)) == "Once upon"
        cid = answer.started.conversation_id
        await StopGeneration(chat.conversations, chat.stops).execute(USER, cid)
        assert chat.stops.requested == [stop_key(cid)] == [f"{TENANT}:{cid}"]
        remaining = await rest(events)
    assert remaining == [
        Finished(
            message_id=answer.started.message_id,
            usage=TokenUsage(
                input_tokens=estimate_tokens("Hello there"),
                output_tokens=estimate_tokens("Once upon"),
                estimated=True,
            ),
            partial=True,
            finish_reason=FinishReason.STOPPED,
        )
    ]
    reply = chat.messages.items[answer.started.message_id]
    assert reply.content == "Once upon" and reply.partial is True
    assert reply.finish_reason is FinishReason.STOPPED
    assert len(chat.ledger.added) == 1  # a partial reply's tokens count too
    assert chat.script.closed.is_set()  # the upstream stream was closed
    assert await released(chat.stops)


async def test_stop_generation_checks_the_owner() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("x", None)
        answer = await chat.start()
        await rest(stream_of(answer))
        with pytest.raises(NotFound):
            await StopGeneration(chat.conversations, chat.stops).execute(
                principal("u2", {"ai:use"}), answer.started.conversation_id
            )
        with pytest.raises(Forbidden):
            await StopGeneration(chat.conversations, chat.stops).execute(
                ADMIN, answer.started.conversation_id
            )
    assert chat.stops.requested == []


async def test_cancel_ends_the_reply_as_disconnected() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("partial")
        answer = await chat.start()
        events = stream_of(answer)
        await next_batch(events)
        answer.cancel()
        remaining = await rest(events)
    [finished] = remaining
    assert isinstance(finished, Finished)
    assert finished.partial is True and finished.finish_reason is FinishReason.DISCONNECTED
    reply = chat.messages.items[answer.started.message_id]
    assert reply.content == "partial" and reply.finish_reason is FinishReason.DISCONNECTED
    assert chat.script.closed.is_set()


async def test_closing_the_events_saves_the_partial_reply() -> None:
    """What the response does when the client goes away: it closes `events()`."""
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("so far")
        answer = await chat.start()
        events = stream_of(answer)
        await next_batch(events)
        await events.aclose()
        async with asyncio.timeout(WAIT):
            await chat.script.closed.wait()
            while not chat.messages.replies():
                await chat.messages.added.wait()
                chat.messages.added.clear()
    [reply] = chat.messages.replies()
    assert reply.id == answer.started.message_id and reply.content == "so far"
    assert reply.partial is True and reply.finish_reason is FinishReason.DISCONNECTED


async def test_an_error_before_the_first_token_takes_the_question_back() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push(ProviderUnavailable("AI provider"))
        with pytest.raises(ProviderUnavailable):
            await chat.start("lost?")
    assert chat.messages.items == {} and len(chat.messages.deleted) == 1
    assert chat.conversations.items == {} and len(chat.conversations.deleted) == 1
    assert chat.ledger.added == []
    assert await released(chat.stops)


async def test_an_error_before_the_first_token_keeps_an_existing_conversation() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("fine", None)
        first = await chat.start("first")
        await rest(stream_of(first))
        cid = first.started.conversation_id
        chat.models.script = Script()
        chat.script.push(ModelNotFound("gone"))
        with pytest.raises(ModelNotFound):
            await chat.start("second", conversation_id=cid)
    assert chat.conversations.items[cid].message_count == 2
    assert sorted(m.content for m in chat.messages.items.values()) == ["fine", "first"]


async def test_an_unexpected_error_before_the_first_token_is_provider_unavailable() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push(RuntimeError("boom"))
        with pytest.raises(ProviderUnavailable):
            await chat.start()
    assert chat.messages.items == {} and chat.conversations.items == {}


async def test_an_error_after_tokens_is_a_failed_event_with_the_partial_reply() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("Half", " a", RuntimeError("connection reset"))
        answer = await chat.start()
        events = await rest(stream_of(answer))
    assert events[:3] == [answer.started, Token("Half"), Token(" a")]
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, ProviderUnavailable)
    assert failed.message_id == answer.started.message_id
    assert failed.before_first_token is False
    reply = chat.messages.items[answer.started.message_id]
    assert reply.content == "Half a" and reply.partial is True
    assert reply.finish_reason is FinishReason.ERROR
    assert chat.conversations.items[answer.started.conversation_id].message_count == 2
    assert len(chat.ledger.added) == 1


async def test_a_quiet_model_times_out_between_tokens() -> None:
    """`token_timeout_seconds` bounds the silence after a delta, whatever the (longer)
    wait allowed for the first one."""
    chat = Chat(
        AiPolicy(first_token_timeout_seconds=30, token_timeout_seconds=0.05,
                 start_grace_seconds=1, keepalive_seconds=5)
    )  # fmt: skip
    with tenant_context(tenant_a()):
        chat.script.push("only this")
        answer = await chat.start()
        events = await until_the_end(stream_of(answer), WAIT)
    assert events[:2] == [answer.started, Token("only this")]
    assert len(events) == 3, f"no timeout within {WAIT} s of silence after a token (0.05 s)"
    failed = events[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, ProviderUnavailable)
    assert failed.message_id == answer.started.message_id
    assert failed.before_first_token is False
    reply = chat.messages.items[answer.started.message_id]
    assert reply.content == "only this" and reply.finish_reason is FinishReason.ERROR
    assert chat.script.closed.is_set()


async def test_a_quiet_model_times_out_between_later_tokens() -> None:
    chat = Chat(
        AiPolicy(first_token_timeout_seconds=0.5, token_timeout_seconds=0.2,
                 start_grace_seconds=1, keepalive_seconds=5)
    )  # fmt: skip
    with tenant_context(tenant_a()):
        chat.script.push("one")
        answer = await chat.start()
        events = stream_of(answer)
        await next_batch(events)
        for word in (" two", " three"):  # each within the limit: no timeout
            await asyncio.sleep(0.02)
            chat.script.push(word)
        seen = await until_the_end(events, WAIT)
    assert tokens(seen) == " two three"
    failed = seen[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, ProviderUnavailable)
    assert chat.messages.items[answer.started.message_id].content == "one two three"


async def test_a_silent_model_times_out_before_the_first_token() -> None:
    chat = Chat(AiPolicy(first_token_timeout_seconds=0.05, start_grace_seconds=1))
    with tenant_context(tenant_a()), pytest.raises(ProviderUnavailable):
        await chat.start()
    assert chat.messages.items == {} and chat.conversations.items == {}


async def test_a_slow_model_streams_with_keepalives() -> None:
    chat = Chat(AiPolicy(start_grace_seconds=0.01, keepalive_seconds=0.02))
    with tenant_context(tenant_a()):
        answer = await chat.start()  # nothing yet: the answer starts anyway
        events = stream_of(answer)
        assert await next_batch(events) == [answer.started]
        assert await next_batch(events) == [KeepAlive()]
        chat.script.push("late", None)
        remaining = await rest(events)
    assert next(e for e in remaining if not isinstance(e, KeepAlive)) == Token("late")
    assert isinstance(remaining[-1], Finished)


async def test_an_error_after_the_grace_period_is_a_failed_event() -> None:
    chat = Chat(AiPolicy(start_grace_seconds=0.01, keepalive_seconds=5))
    with tenant_context(tenant_a()):
        answer = await chat.start()
        chat.script.push(ProviderUnavailable("AI provider"))
        events = await rest(stream_of(answer))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.before_first_token is True and failed.message_id is None
    # Too late to take back: the question stays (the client already had `meta`).
    assert answer.started.user_message_id in chat.messages.items
    assert chat.messages.replies() == []


async def saving_gated(chat: Chat) -> tuple[Answer, AsyncGenerator[list[StreamEvent], None]]:
    """An answer whose model has finished and whose reply is being written (held)."""
    chat.messages.gate = asyncio.Event()
    chat.script.push("all", " done", None)
    answer = await chat.start()
    events = stream_of(answer)
    # Usually one batch; two when the generation's time slice ended between the tokens
    # (a slow or loaded machine).
    seen = await next_batch(events)
    while tokens(seen) != "all done" and len(seen) < 4:
        seen += await next_batch(events)
    assert tokens(seen) == "all done"
    async with asyncio.timeout(WAIT):
        await chat.messages.waiting.wait()  # the model is done; the save has begun
    return answer, events


async def test_a_stop_while_the_reply_is_being_saved_still_ends_the_stream() -> None:
    """The model has finished and the reply is being written when a stop request arrives:
    the stream must still end (with `done`), and the reply be saved."""
    chat = Chat(AiPolicy(start_grace_seconds=1, keepalive_seconds=0.05))
    with tenant_context(tenant_a()):
        answer, events = await saving_gated(chat)
        await chat.stops.request(stop_key(answer.started.conversation_id))
        assert chat.messages.gate is not None
        chat.messages.gate.set()
        seen = await until_the_end(events, WAIT)
    ended = [e for e in seen if not isinstance(e, KeepAlive)]
    assert ended, f"the stream never ended: {len(seen)} keep-alives and nothing else"
    assert isinstance(ended[-1], Finished)
    assert answer.started.message_id in chat.messages.items, "the finished reply was lost"


async def test_a_disconnect_while_the_reply_is_being_saved_keeps_the_reply() -> None:
    """The client goes away while the (finished) reply is being written: it must be saved
    all the same, as the tokens were already counted in the ledger."""
    chat = Chat(AiPolicy(start_grace_seconds=1, keepalive_seconds=5))
    with tenant_context(tenant_a()):
        answer, events = await saving_gated(chat)
        await events.aclose()  # what the response does when the client goes away
        assert chat.messages.gate is not None
        chat.messages.gate.set()
        for _ in range(20):
            await asyncio.sleep(0)
    assert len(chat.ledger.added) == 1
    reply = chat.messages.items.get(answer.started.message_id)
    assert reply is not None, "the ledger counted a reply that was never saved"
    assert reply.content == "all done"


async def test_events_after_the_end_do_not_cancel_anything() -> None:
    chat = Chat()
    with tenant_context(tenant_a()):
        chat.script.push("ok", None)
        answer = await chat.start()
        await rest(stream_of(answer))
        answer.cancel()  # the task is done: nothing changes
    reply = chat.messages.items[answer.started.message_id]
    assert reply.finish_reason is FinishReason.STOP and reply.partial is False
