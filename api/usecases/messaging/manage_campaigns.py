"""Campaigns (`/api/v1/campaigns`): created, read, listed, changed and deleted; read with
`campaigns:read`, managed with `campaigns:manage`.

Rules checked when a campaign is saved (created or changed; 422 with a problem code):
- the channel is one of the tenant's (`unknown_channel`);
- the template is stored for that channel, name and language, `APPROVED` and not
  deactivated (`active` false) (`template_not_usable`);
- the variables fill every template variable exactly once (`template_variables_unmapped`):
  by `key` (`body.1`, `header.1`, `button.0.1`, `body.first_name`), or, when no variable
  names a key, in the template's order (the keys are then stored); a `field` variable names
  a contact field (`name`, `phone`, `email`, `language`);
- the audience names something (`invalid_audience`), and its segments exist
  (`unknown_segment`); tags are normalised like a contact's;
- a schedule is checked by `checked_schedule` (`invalid_schedule`);
- `messages_per_second` is 1-1000 (80 by default).
A campaign is changed or deleted only while `draft` or `scheduled` (a deleted one also
when finished: `completed`, `cancelled`, `failed`); else 409 `campaign_state_conflict`.
Changing a scheduled campaign's schedule moves its next run. Audited: `campaign.created`,
`campaign.updated`, `campaign.deleted`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.domain.clock import Clock
from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.campaigns import (
    CONTACT_FIELDS,
    DEFAULT_MESSAGES_PER_SECOND,
    EDITABLE,
    MAX_MESSAGES_PER_SECOND,
    Audience,
    Campaign,
    CampaignPage,
    CampaignRepository,
    CampaignStateConflict,
    CampaignStatus,
    CampaignVariable,
    InvalidAudience,
    InvalidSchedule,
    Schedule,
    ScheduleType,
    TemplateNotUsable,
    TemplateRef,
    TemplateVariablesUnmapped,
    TenantTimezone,
    UnknownChannel,
    UnknownSegment,
    VariableSource,
    ensure_editable,
)
from api.domain.messaging.channels import ChannelRepository
from api.domain.messaging.segments import SegmentRepository
from api.domain.messaging.templates import (
    APPROVED,
    LANGUAGE_PATTERN,
    NAME_PATTERN,
    Template,
    TemplateRepository,
)
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.campaign_schedules import checked_schedule, next_run_at
from api.usecases.messaging.contact_rules import normalised_tags
from api.usecases.messaging.inbox_reads import bounded

CAMPAIGN_NOT_FOUND = "Campaign not found."
MAX_VARIABLES = 50
MAX_AUDIENCE_ITEMS = 50
MAX_CONTACT_IDS = 10_000
DELETABLE = frozenset(
    {
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.COMPLETED,
        CampaignStatus.CANCELLED,
        CampaignStatus.FAILED,
    }
)


class TemplateRefInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    language: str = Field(pattern=LANGUAGE_PATTERN)


class VariableInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str | None = Field(default=None, min_length=1, max_length=100)
    source: VariableSource
    value: str = Field(min_length=1, max_length=1024)
    fallback: str | None = Field(default=None, max_length=1024)


class AudienceInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    segment_ids: list[str] = Field(default_factory=list, max_length=MAX_AUDIENCE_ITEMS)
    tags_any: list[str] = Field(default_factory=list, max_length=MAX_AUDIENCE_ITEMS)
    contact_ids: list[str] = Field(default_factory=list, max_length=MAX_CONTACT_IDS)
    all: bool = False


class ScheduleInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: ScheduleType
    at: datetime | None = None
    cron: str | None = Field(default=None, max_length=120)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)


class CampaignInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    channel_id: str = Field(min_length=1, max_length=64)
    template: TemplateRefInput
    variables: list[VariableInput] = Field(default_factory=list, max_length=MAX_VARIABLES)
    audience: AudienceInput
    schedule: ScheduleInput | None = None
    messages_per_second: int = Field(
        default=DEFAULT_MESSAGES_PER_SECOND, ge=1, le=MAX_MESSAGES_PER_SECOND
    )


class CampaignChanges(BaseModel):
    """Only the fields sent change; `schedule: null` removes the schedule of a draft."""

    model_config = ConfigDict(frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    channel_id: str | None = Field(default=None, min_length=1, max_length=64)
    template: TemplateRefInput | None = None
    variables: list[VariableInput] | None = Field(default=None, max_length=MAX_VARIABLES)
    audience: AudienceInput | None = None
    schedule: ScheduleInput | None = None
    messages_per_second: int | None = Field(default=None, ge=1, le=MAX_MESSAGES_PER_SECOND)


def template_usable(template: Template) -> bool:
    """Approved by the provider and not deactivated here (`usable_template`'s rules, on a
    template already read)."""
    return template.status == APPROVED and template.active


def mapped_variables(template: Template, given: list[VariableInput]) -> list[CampaignVariable]:
    """The variables with their template keys, each template variable filled once."""
    keys = [v.key for v in template.variables]
    loc: tuple[str | int, ...] = ("body", "variables")
    for index, variable in enumerate(given):
        if variable.source is VariableSource.FIELD and variable.value not in CONTACT_FIELDS:
            raise InvalidInput(
                "A field variable names a contact field.",
                [FieldProblem((*loc, index, "value"), f"one of {', '.join(CONTACT_FIELDS)}")],
            )
    named = [v.key for v in given if v.key is not None]
    if named and len(named) != len(given):
        raise TemplateVariablesUnmapped(
            "Either every variable names its template key, or none does.", loc, "mixed keys"
        )
    if not named:
        if len(given) != len(keys):
            raise TemplateVariablesUnmapped(
                f"The template has {len(keys)} variables ({', '.join(keys) or 'none'}); "
                f"{len(given)} were given.",
                loc,
                "one value per template variable, in order",
            )
        return [CampaignVariable(key=k, **v.model_dump(exclude={"key"})) for k, v in zip(
            keys, given, strict=True)]  # fmt: skip
    unknown = sorted(set(named) - set(keys))
    missing = [k for k in keys if k not in named]
    if unknown or missing or len(set(named)) != len(named):
        parts = []
        if missing:
            parts.append(f"unmapped: {', '.join(missing)}")
        if unknown:
            parts.append(f"not in the template: {', '.join(unknown)}")
        if len(set(named)) != len(named):
            parts.append("a key is mapped twice")
        raise TemplateVariablesUnmapped(
            "The variables must fill every template variable once (" + "; ".join(parts) + ").",
            loc,
            "; ".join(parts),
        )
    return [CampaignVariable(**v.model_dump()) for v in given]


class CampaignChecks:
    """What a saved campaign must satisfy (see the module's rules): checks the channel,
    template, variables, audience and schedule, and answers them normalised."""

    def __init__(
        self,
        channels: ChannelRepository,
        templates: TemplateRepository,
        segments: SegmentRepository,
        timezone: TenantTimezone,
        clock: Clock,
    ) -> None:
        self._channels = channels
        self._templates = templates
        self._segments = segments
        self._timezone = timezone
        self._clock = clock

    async def content(
        self, channel_id: str, template: TemplateRefInput, variables: list[VariableInput]
    ) -> tuple[TemplateRef, list[CampaignVariable]]:
        if await self._channels.get(channel_id) is None:
            raise UnknownChannel(
                "No channel of the tenant has this id.", ("body", "channel_id"), "unknown channel"
            )
        stored = await self._templates.find(channel_id, template.name, template.language)
        why = None
        if stored is None:
            why = "not found on the channel"
        elif stored.status != APPROVED:
            why = f"status {stored.status}, not {APPROVED}"
        elif not template_usable(stored):
            why = "switched off"
        if stored is None or why is not None:
            raise TemplateNotUsable(
                f"The template {template.name} ({template.language}) cannot be sent: {why}.",
                ("body", "template"),
                why or "not usable",
            )
        return TemplateRef(name=stored.name, language=stored.language), mapped_variables(
            stored, variables
        )

    async def audience(self, given: AudienceInput) -> Audience:
        loc: tuple[str | int, ...] = ("body", "audience")
        audience = Audience(
            segment_ids=list(dict.fromkeys(given.segment_ids)),
            tags_any=normalised_tags(given.tags_any, (*loc, "tags_any")),
            contact_ids=list(dict.fromkeys(given.contact_ids)),
            all=given.all,
        )
        if audience.empty:
            raise InvalidAudience(
                "Name segments, tags, contacts, or all contacts.", loc, "an empty audience"
            )
        for index, segment_id in enumerate(audience.segment_ids):
            if await self._segments.get(segment_id) is None:
                raise UnknownSegment(
                    "No segment of the tenant has this id.",
                    (*loc, "segment_ids", index),
                    "unknown segment",
                )
        return audience

    async def schedule(self, given: ScheduleInput | Schedule) -> Schedule:
        schedule = Schedule(**given.model_dump())
        return checked_schedule(schedule, await self._timezone.current(), self._clock.now())

    def now(self) -> datetime:
        return stored_time(self._clock.now())


async def existing_campaign(campaigns: CampaignRepository, campaign_id: str) -> Campaign:
    found = await campaigns.get(campaign_id)
    if found is None:
        raise NotFound(CAMPAIGN_NOT_FOUND)
    return found


def _audited(campaign: Campaign) -> dict[str, Any]:
    return campaign.model_dump(
        mode="json",
        include={"name", "channel_id", "template", "variables", "audience", "schedule",
                 "messages_per_second"},
    )  # fmt: skip


class CreateCampaign:
    """A new `draft` campaign, owned by its creator (who gets the results emails)."""

    def __init__(
        self, campaigns: CampaignRepository, checks: CampaignChecks, auditor: Auditor
    ) -> None:
        self._campaigns = campaigns
        self._checks = checks
        self._auditor = auditor

    async def execute(self, principal: Principal, given: CampaignInput) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        template, variables = await self._checks.content(
            given.channel_id, given.template, given.variables
        )
        audience = await self._checks.audience(given.audience)
        schedule = await self._checks.schedule(given.schedule) if given.schedule else None
        now = self._checks.now()
        campaign = await self._campaigns.add(
            Campaign(
                name=given.name, channel_id=given.channel_id, template=template,
                variables=variables, audience=audience, schedule=schedule,
                messages_per_second=given.messages_per_second, owner_id=principal.user_id,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        await self._auditor.record(
            "campaign.created", "campaign", campaign.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audited(campaign)),
        )  # fmt: skip
        return campaign


class GetCampaign:
    def __init__(self, campaigns: CampaignRepository) -> None:
        self._campaigns = campaigns

    async def execute(self, principal: Principal, campaign_id: str) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        return await existing_campaign(self._campaigns, campaign_id)


class ListCampaigns:
    def __init__(self, campaigns: CampaignRepository) -> None:
        self._campaigns = campaigns

    async def execute(
        self,
        principal: Principal,
        *,
        status: CampaignStatus | None,
        cursor: str | None,
        limit: int,
    ) -> CampaignPage:
        require_permission(principal, Permission.CAMPAIGNS_READ)
        return await self._campaigns.page(status=status, cursor=cursor, limit=bounded(limit))


class UpdateCampaign:
    """Change a `draft` or `scheduled` campaign (409 otherwise). The whole campaign is
    checked again; a scheduled one keeps a schedule that can run (`at` or `recurring`) and
    its next run moves with it."""

    def __init__(
        self, campaigns: CampaignRepository, checks: CampaignChecks, auditor: Auditor
    ) -> None:
        self._campaigns = campaigns
        self._checks = checks
        self._auditor = auditor

    async def execute(
        self, principal: Principal, campaign_id: str, changes: CampaignChanges
    ) -> Campaign:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        before = await existing_campaign(self._campaigns, campaign_id)
        ensure_editable(before.status)
        sent = changes.model_fields_set
        fields: dict[str, object] = {}
        if changes.name is not None:
            fields["name"] = changes.name
        if changes.messages_per_second is not None:
            fields["messages_per_second"] = changes.messages_per_second
        if sent & {"channel_id", "template", "variables"}:
            channel_id = changes.channel_id or before.channel_id
            template = changes.template or TemplateRefInput(**before.template.model_dump())
            given = changes.variables
            if given is None:  # the stored mapping, checked against the (new) template
                given = [VariableInput(**v.model_dump()) for v in before.variables]
            ref, variables = await self._checks.content(channel_id, template, given)
            fields.update(channel_id=channel_id, template=ref, variables=variables)
        if changes.audience is not None:
            fields["audience"] = await self._checks.audience(changes.audience)
        if "schedule" in sent:
            schedule = await self._checks.schedule(changes.schedule) if changes.schedule else None
            if before.status is CampaignStatus.SCHEDULED:
                upcoming = next_run_at(schedule, self._checks.now())
                if upcoming is None:
                    raise InvalidSchedule(
                        "A scheduled campaign needs an `at` or `recurring` schedule.",
                        ("body", "schedule"),
                        "cannot be scheduled",
                    )
                fields["next_run_at"] = upcoming
            fields["schedule"] = schedule
        if not fields:
            return before
        after = await self._campaigns.update(campaign_id, fields, statuses=EDITABLE)
        if after is None:  # deleted, or started meanwhile
            now = await existing_campaign(self._campaigns, campaign_id)
            ensure_editable(now.status)
            raise CampaignStateConflict("The campaign changed meanwhile; try again.")
        changed = diff(_audited(before), _audited(after))
        if changed:
            await self._auditor.record(
                "campaign.updated", "campaign", campaign_id, actor_id=principal.user_id,
                changes=audit_extra(principal, changed),
            )  # fmt: skip
        return after


class DeleteCampaign:
    """Delete a campaign that is not running or paused (cancel it first: 409)."""

    def __init__(self, campaigns: CampaignRepository, auditor: Auditor) -> None:
        self._campaigns = campaigns
        self._auditor = auditor

    async def execute(self, principal: Principal, campaign_id: str) -> None:
        require_permission(principal, Permission.CAMPAIGNS_MANAGE)
        campaign = await existing_campaign(self._campaigns, campaign_id)
        if not await self._campaigns.delete(campaign_id, statuses=DELETABLE):
            now = await existing_campaign(self._campaigns, campaign_id)
            raise CampaignStateConflict(
                f"A {now.status.value} campaign cannot be deleted; cancel it first."
            )
        await self._auditor.record(
            "campaign.deleted", "campaign", campaign_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": campaign.name}),
        )  # fmt: skip
