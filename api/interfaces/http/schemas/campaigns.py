"""Campaigns, their runs, stats and recipient rows as the API shows them (API.md's
shapes) and takes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.domain.messaging.campaigns import (
    Audience,
    Campaign,
    CampaignPage,
    CampaignRecipient,
    CampaignRun,
    CampaignRunPage,
    CampaignStats,
    CampaignStatus,
    CampaignVariable,
    PlainMessage,
    RecipientAddress,
    RecipientPage,
    RecipientStatus,
    RunStatus,
    Schedule,
    ScheduleType,
    SkipReason,
    TemplateRef,
    VariableSource,
)
from api.usecases.messaging.campaign_actions import ScheduleRequest
from api.usecases.messaging.campaign_runs import RunView
from api.usecases.messaging.manage_campaigns import CampaignChanges, CampaignInput

CURSOR_NOTE = "`null` on the last page; else pass it as `cursor` for the next one."


class CampaignIn(CampaignInput):
    """A new campaign (always a `draft`): the channel, either an approved template of it
    (WhatsApp) or a plain `message` (Telegram, which has no templates), one variable per
    template variable or `{{n}}` placeholder, an audience and, optionally, a schedule."""


class CampaignPatchIn(CampaignChanges):
    """Only the fields sent change (a `draft` or `scheduled` campaign only); the whole
    campaign is checked again. A `template` replaces a plain message and a `message` a
    template."""


class ScheduleIn(ScheduleRequest):
    """Optionally a new schedule (`at` or `recurring`); without one, the campaign's own."""


class TemplateRefOut(BaseModel):
    name: str
    language: str

    @classmethod
    def of(cls, ref: TemplateRef) -> TemplateRefOut:
        return cls(**ref.model_dump())


class UrlButtonOut(BaseModel):
    text: str
    url: str


class PlainMessageOut(BaseModel):
    text: str = Field(description="With `{{1}}`, `{{2}}`... placeholders; a file's caption")
    file_id: str | None = Field(description="The stored file sent with it")
    media_kind: str | None = Field(description="How the file goes: image, video, audio, document")
    filename: str | None
    button: UrlButtonOut | None = Field(description="A button that opens a link, or null")

    @classmethod
    def of(cls, message: PlainMessage) -> PlainMessageOut:
        return cls(**message.model_dump())


class VariableOut(BaseModel):
    key: str | None = Field(
        description="The template variable it fills (`body.1`, ...) or the plain message's "
        "placeholder (`1` for `{{1}}`)"
    )
    source: VariableSource
    value: str = Field(description="The contact field, the attribute's key, or the constant")
    fallback: str | None = Field(description="Used when the contact has no value")

    @classmethod
    def of(cls, variable: CampaignVariable) -> VariableOut:
        return cls(**variable.model_dump())


class AudienceOut(BaseModel):
    segment_ids: list[str]
    tags_any: list[str]
    contact_ids: list[str]
    all: bool

    @classmethod
    def of(cls, audience: Audience) -> AudienceOut:
        return cls(**audience.model_dump())


class ScheduleOut(BaseModel):
    type: ScheduleType
    at: datetime | None
    cron: str | None
    timezone: str | None = Field(description="IANA zone the schedule is read in")

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        return cls(**schedule.model_dump())


class CampaignOut(BaseModel):
    id: str
    name: str
    channel_id: str
    template: TemplateRefOut | None = Field(description="The template sent (WhatsApp), or null")
    message: PlainMessageOut | None = Field(
        description="The plain message sent (Telegram), or null"
    )
    variables: list[VariableOut]
    audience: AudienceOut
    schedule: ScheduleOut | None
    status: CampaignStatus
    messages_per_second: int
    next_run_at: datetime | None = Field(description="When the next scheduled run starts")
    current_run_id: str | None = Field(description="The latest run")
    owner_id: str | None = Field(description="Who created it (gets the results emails)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        if campaign.id is None:
            raise ValueError("a stored campaign has an id")
        return cls(
            id=campaign.id, name=campaign.name, channel_id=campaign.channel_id,
            template=TemplateRefOut.of(campaign.template) if campaign.template else None,
            message=PlainMessageOut.of(campaign.message) if campaign.message else None,
            variables=[VariableOut.of(v) for v in campaign.variables],
            audience=AudienceOut.of(campaign.audience),
            schedule=ScheduleOut.of(campaign.schedule) if campaign.schedule else None,
            status=campaign.status, messages_per_second=campaign.messages_per_second,
            next_run_at=campaign.next_run_at, current_run_id=campaign.current_run_id,
            owner_id=campaign.owner_id, created_at=campaign.created_at,
            updated_at=campaign.updated_at,
        )  # fmt: skip


class CampaignPageOut(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: CampaignPage) -> CampaignPageOut:
        return cls(items=[CampaignOut.of(c) for c in page.items], next_cursor=page.next_cursor)


class StatsOut(BaseModel):
    recipients: int = Field(description="Rows of the run(s), skipped ones included")
    queued: int = Field(description="Pending or being sent")
    sent: int = Field(description="Sent, not (yet) delivered")
    delivered: int = Field(description="Delivered, not (yet) read")
    read: int
    failed: int
    opted_out_skipped: int = Field(description="Skipped because the contact opted out")
    skipped: int = Field(description="Skipped for any reason (opted out, no address, ...)")
    skipped_by_reason: dict[str, int] = Field(
        description="Skipped rows by reason (`opted_out`, `deleted`, `no_address`, "
        "`not_on_channel`, `cancelled`, `recent_marketing_limit`)"
    )
    failures_by_code: dict[str, int] = Field(description="Failed rows by provider error code")
    delivery_rate: float = Field(description="(delivered + read) / (sent + delivered + read)")
    read_rate: float = Field(description="read / (sent + delivered + read)")

    @classmethod
    def of(cls, stats: CampaignStats) -> StatsOut:
        return cls(**stats.model_dump())


class RunOut(BaseModel):
    id: str
    campaign_id: str
    window: datetime = Field(description="The scheduled time this run is for")
    status: RunStatus
    recipients: int
    opted_out_skipped: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, run: CampaignRun) -> RunOut:
        if run.id is None:
            raise ValueError("a stored run has an id")
        return cls(id=run.id, **run.model_dump(exclude={"id", "lease_until"}))


class RunDetailOut(RunOut):
    stats: StatsOut

    @classmethod
    def of_view(cls, view: RunView) -> RunDetailOut:
        return cls(**RunOut.of(view.run).model_dump(), stats=StatsOut.of(view.stats))


class RunPageOut(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: CampaignRunPage) -> RunPageOut:
        return cls(items=[RunOut.of(r) for r in page.items], next_cursor=page.next_cursor)


class AddressOut(BaseModel):
    phone: str | None
    wa_id: str | None
    bsuid: str | None
    user_id: str | None = Field(description="The user id on the channel (Telegram's chat)")

    @classmethod
    def of(cls, address: RecipientAddress) -> AddressOut:
        return cls(**address.model_dump())


class RecipientOut(BaseModel):
    id: str
    run_id: str
    contact_id: str
    address: AddressOut
    name: str | None
    variables: dict[str, str] = Field(
        description="The values sent, by template key or placeholder number"
    )
    status: RecipientStatus
    skip_reason: SkipReason | None
    attempts: int
    wamid: str | None = Field(description="The provider's message id (Telegram: `chat:message`)")
    error_code: str | None
    error_title: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: CampaignRecipient) -> RecipientOut:
        if row.id is None:
            raise ValueError("a stored row has an id")
        return cls(
            id=row.id, address=AddressOut.of(row.address),
            **row.model_dump(include={
                "run_id", "contact_id", "name", "variables", "status", "skip_reason",
                "attempts", "wamid", "error_code", "error_title", "sent_at", "delivered_at",
                "read_at", "updated_at",
            }),
        )  # fmt: skip


class RecipientPageOut(BaseModel):
    items: list[RecipientOut]
    next_cursor: str | None = Field(description=CURSOR_NOTE)

    @classmethod
    def of(cls, page: RecipientPage) -> RecipientPageOut:
        return cls(items=[RecipientOut.of(r) for r in page.items], next_cursor=page.next_cursor)
