"""AI assistants: created, listed, read, changed and deleted (`assistants:manage`).

Rules (422 with the field named, unless said otherwise):
- `name`: 1 to 100 characters (spaces collapsed); `instructions`: at most 8000.
- `model`: one the tenant may use now (`GET /ai/models`; else `unknown_model`).
- `channel_ids`: channels of the tenant (else `unknown_channels`), each once, at most 50;
  an enabled assistant may not take a channel another enabled assistant answers on
  (409 `channel_has_assistant`): a channel has one bot.
- `languages`: `"auto"` (the customer's, detected) or 1 to 20 ISO 639-1 codes (two
  letters; the first is the default when the customer's is not in the list).
- `handoff`: `after_turns` 1 to 100 or null; at most 50 `keywords` of 1 to 50 characters.
- `business_hours` as the inbox's (time zone, spans, holidays); `out_of_hours_message`
  and the follow-up's `message` at most 4096 characters; the follow-up's template needs
  its name and language together; `max_tokens_per_day` at least 1 or null (no limit of
  its own; the tenant's quota still counts).
Audited `assistant.created`, `assistant.updated` (what changed), `assistant.deleted`.
"""

from __future__ import annotations

import re
from typing import Any

from api.domain.ai.assistant_runs import AssistantStats, ReplyLedger
from api.domain.ai.assistants import (
    AUTO_LANGUAGE,
    Assistant,
    AssistantPage,
    AssistantRepository,
    FollowUp,
    HandoffRules,
)
from api.domain.ai.errors import ChannelHasAssistant, UnknownChannels, UnknownModel
from api.domain.business_hours import check_business_hours
from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelRepository
from api.domain.permissions import Permission
from api.usecases.ai.knowledge_documents import RemoveAssistantKnowledge
from api.usecases.ai.model_access import ModelAccess
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, dedupe, require_permission
from api.usecases.kernel.clock import stored_now

ASSISTANT_NOT_FOUND = "Assistant not found."
MAX_NAME = 100
MAX_INSTRUCTIONS = 8000
MAX_CHANNELS = 50
MAX_LANGUAGES = 20
MAX_KEYWORDS = 50
MAX_KEYWORD = 50
MAX_TURNS = 100
MAX_TEXT = 4096
MAX_TOKENS_PER_DAY = 1_000_000_000
_LANGUAGE = re.compile(r"^[a-z]{2}$")
FIELDS = (
    "name", "model", "instructions", "channel_ids", "enabled", "languages", "handoff",
    "business_hours", "out_of_hours_message", "max_tokens_per_day", "follow_up",
)  # fmt: skip


def _problem(field: tuple[str | int, ...], message: str) -> InvalidInput:
    return InvalidInput(message, [FieldProblem(field, message)])


class AssistantRules:
    """Checks shared by creating and changing an assistant; see the module's rules."""

    def __init__(
        self, access: ModelAccess, channels: ChannelRepository, assistants: AssistantRepository
    ) -> None:
        self._access = access
        self._channels = channels
        self._assistants = assistants

    async def check(self, fields: dict[str, Any], assistant_id: str | None) -> dict[str, Any]:
        """The fields given, normalised; raises on the first broken rule."""
        out = dict(fields)
        if "name" in out:
            out["name"] = " ".join(str(out["name"]).split())
            if not 1 <= len(out["name"]) <= MAX_NAME:
                raise _problem(("body", "name"), f"1 to {MAX_NAME} characters")
        if "instructions" in out and len(out["instructions"]) > MAX_INSTRUCTIONS:
            raise _problem(("body", "instructions"), f"at most {MAX_INSTRUCTIONS} characters")
        if "model" in out:
            await self._model(out["model"])
        if "channel_ids" in out:
            out["channel_ids"] = await self._channel_ids(out["channel_ids"])
        if "languages" in out:
            out["languages"] = self._languages(out["languages"])
        if out.get("handoff") is not None:
            out["handoff"] = self._handoff(out["handoff"])
        if out.get("business_hours") is not None:
            check_business_hours(out["business_hours"])
        for name in ("out_of_hours_message",):
            if out.get(name) is not None and len(out[name]) > MAX_TEXT:
                raise _problem(("body", name), f"at most {MAX_TEXT} characters")
        if out.get("max_tokens_per_day") is not None and out["max_tokens_per_day"] < 1:
            raise _problem(("body", "max_tokens_per_day"), "at least 1, or null")
        if out.get("follow_up") is not None:
            self._follow_up(out["follow_up"])
        return out

    async def check_claims(self, channel_ids: list[str], enabled: bool, own: str | None) -> None:
        if not enabled or not channel_ids:
            return
        others = [a for a in await self._assistants.claiming(channel_ids) if a.id != own]
        if others:
            taken = sorted(set(channel_ids) & {c for a in others for c in a.channel_ids})
            raise ChannelHasAssistant(
                f"Another enabled assistant ('{others[0].name}') answers on channel(s) "
                + ", ".join(taken) + "."
            )  # fmt: skip

    async def _model(self, model: str) -> None:
        offered, _ = await self._access.available()
        if not any(m.id == model for m in offered):
            raise UnknownModel(
                f"The model '{model}' is not available to this tenant; GET /api/v1/ai/models "
                "lists those it may use.",
                [FieldProblem(("body", "model"), "not a model this tenant may use")],
            )

    async def _channel_ids(self, raw: list[str]) -> list[str]:
        ids = dedupe(raw)
        if len(ids) > MAX_CHANNELS:
            raise _problem(("body", "channel_ids"), f"at most {MAX_CHANNELS}")
        unknown = [i for i in ids if await self._channels.get(i) is None]
        if unknown:
            raise UnknownChannels(
                "Channels must be the tenant's: " + ", ".join(unknown) + ".",
                [FieldProblem(("body", "channel_ids"), f"unknown channel '{i}'") for i in unknown],
            )
        return ids

    @staticmethod
    def _languages(raw: str | list[str]) -> str | list[str]:
        if raw == AUTO_LANGUAGE:
            return raw
        if isinstance(raw, str) or not 1 <= len(raw) <= MAX_LANGUAGES:
            raise _problem(("body", "languages"), f'"auto" or 1 to {MAX_LANGUAGES} codes')
        codes = dedupe([code.strip().lower() for code in raw])
        bad = [code for code in codes if not _LANGUAGE.match(code)]
        if bad:
            raise _problem(
                ("body", "languages"), "ISO 639-1 codes (two letters): " + ", ".join(bad)
            )
        return codes

    @staticmethod
    def _handoff(rules: HandoffRules) -> HandoffRules:
        if rules.after_turns is not None and not 1 <= rules.after_turns <= MAX_TURNS:
            raise _problem(("body", "handoff", "after_turns"), f"1 to {MAX_TURNS}, or null")
        keywords = dedupe([" ".join(k.split()) for k in rules.keywords])
        if len(keywords) > MAX_KEYWORDS or any(not 1 <= len(k) <= MAX_KEYWORD for k in keywords):
            raise _problem(
                ("body", "handoff", "keywords"),
                f"at most {MAX_KEYWORDS} keywords of 1 to {MAX_KEYWORD} characters",
            )
        return rules.model_copy(update={"keywords": keywords})

    @staticmethod
    def _follow_up(follow: FollowUp) -> None:
        if follow.message is not None and not 1 <= len(follow.message.strip()) <= MAX_TEXT:
            raise _problem(("body", "follow_up", "message"), f"1 to {MAX_TEXT} characters")
        if (follow.template_name is None) != (follow.template_language is None):
            raise _problem(
                ("body", "follow_up", "template_name"),
                "template_name and template_language go together",
            )


async def existing_assistant(assistants: AssistantRepository, assistant_id: str) -> Assistant:
    found = await assistants.get(assistant_id)
    if found is None:
        raise NotFound(ASSISTANT_NOT_FOUND)
    return found


def _audited(fields: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of the fields (not the instructions' or messages' text)."""
    shown = {
        k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for k, v in fields.items()
    }
    for secret_ish in ("instructions", "out_of_hours_message"):
        if secret_ish in shown:
            shown[secret_ish] = f"<{len(str(shown[secret_ish] or ''))} characters>"
    return shown


class CreateAssistant:
    def __init__(
        self, assistants: AssistantRepository, rules: AssistantRules, auditor: Auditor
    ) -> None:
        self._assistants = assistants
        self._rules = rules
        self._auditor = auditor

    async def execute(self, principal: Principal, fields: dict[str, Any]) -> Assistant:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        checked = await self._rules.check(fields, None)
        await self._rules.check_claims(
            checked.get("channel_ids", []), checked.get("enabled", True), None
        )
        now = stored_now()
        assistant = await self._assistants.add(Assistant(**checked, created_at=now, updated_at=now))
        await self._auditor.record(
            "assistant.created", "assistant", assistant.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audited(
                {k: getattr(assistant, k) for k in ("name", "model", "channel_ids", "enabled")}
            )),
        )  # fmt: skip
        return assistant


class UpdateAssistant:
    """Change the fields given (absent ones stay; `business_hours`, `follow_up`,
    `out_of_hours_message`, `max_tokens_per_day` may be set to null)."""

    def __init__(
        self, assistants: AssistantRepository, rules: AssistantRules, auditor: Auditor
    ) -> None:
        self._assistants = assistants
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self, principal: Principal, assistant_id: str, fields: dict[str, Any]
    ) -> Assistant:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        before = await existing_assistant(self._assistants, assistant_id)
        checked = await self._rules.check(fields, assistant_id)
        await self._rules.check_claims(
            checked.get("channel_ids", before.channel_ids),
            checked.get("enabled", before.enabled),
            assistant_id,
        )
        changed = diff(
            before.model_dump(mode="json", include=set(checked)),
            {
                k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v)
                for k, v in checked.items()
            },
        )
        if not changed:
            return before
        after = await self._assistants.update(
            assistant_id, {k: v for k, v in checked.items() if k in changed}
        )
        if after is None:
            raise NotFound(ASSISTANT_NOT_FOUND)
        await self._auditor.record(
            "assistant.updated", "assistant", assistant_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"fields": sorted(changed)}),
        )  # fmt: skip
        return after


class DeleteAssistant:
    """Its conversations stay as they are; those the bot handled go to humans with the
    next customer message (no assistant answers on their channel any more). Its knowledge
    documents and their passages are deleted with it."""

    def __init__(
        self, assistants: AssistantRepository, knowledge: RemoveAssistantKnowledge, auditor: Auditor
    ) -> None:
        self._assistants = assistants
        self._knowledge = knowledge
        self._auditor = auditor

    async def execute(self, principal: Principal, assistant_id: str) -> None:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        found = await existing_assistant(self._assistants, assistant_id)
        if not await self._assistants.delete(assistant_id):
            raise NotFound(ASSISTANT_NOT_FOUND)
        await self._knowledge.execute(assistant_id)
        await self._auditor.record(
            "assistant.deleted", "assistant", assistant_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": found.name}),
        )  # fmt: skip


class GetAssistant:
    def __init__(self, assistants: AssistantRepository) -> None:
        self._assistants = assistants

    async def execute(self, principal: Principal, assistant_id: str) -> Assistant:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        return await existing_assistant(self._assistants, assistant_id)


class ListAssistants:
    def __init__(self, assistants: AssistantRepository) -> None:
        self._assistants = assistants

    async def execute(self, principal: Principal, *, page: int, page_size: int) -> AssistantPage:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        return await self._assistants.search(skip=(page - 1) * page_size, limit=page_size)


class GetAssistantStats:
    """Conversations handled, resolved without handoff, handed off (by reason), replies,
    tokens, and the latency from an inbound message to the reply queued (p50/p90)."""

    def __init__(self, assistants: AssistantRepository, ledger: ReplyLedger) -> None:
        self._assistants = assistants
        self._ledger = ledger

    async def execute(self, principal: Principal, assistant_id: str) -> AssistantStats:
        require_permission(principal, Permission.ASSISTANTS_MANAGE)
        found = await existing_assistant(self._assistants, assistant_id)
        assert found.id is not None  # noqa: S101 - stored
        return await self._ledger.stats(found.id)
