"""Campaigns: one approved template (WhatsApp) or one plain message (Telegram, which has
no templates) sent to an audience of contacts, now, at a time, or on a recurring schedule
(a cron in the tenant's time zone).

A plain message is a text with `{{1}}`, `{{2}}`... placeholders (filled per recipient by
the campaign's `variables`, like a template's), optionally with one of the tenant's
stored files (the text is then its caption). Its recipients are the contacts reachable on
the campaign's channel: those with a user id on its provider account (a Telegram chat).

A campaign is the plan; each time it fires, a `CampaignRun` is created for that *window*
(the scheduled time it is for) and snapshots its audience into `CampaignRecipient` rows
(one per contact per run, unique), which the send engine then claims in batches, sends and
follows (sent < delivered < read, or failed). One run per window: the run's unique
(campaign, window) key decides when two dispatchers race.

The campaign's life (`transition` holds the whole table; anything else is
`CampaignStateConflict`, 409):

    draft ──schedule──▶ scheduled ──start/dispatch──▶ running ──pause──▶ paused
      │                     │                            ▲ │ ◀──resume───┘
      └────────start────────┼────────────────────────────┘ ├──complete──▶ completed
                            │                              ├──fail──────▶ failed
                            │                              └──reschedule▶ scheduled (recurring)
    draft|scheduled|running|paused ──cancel──▶ cancelled

A campaign is edited only while `draft` or `scheduled`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import Conflict, FieldProblem, InvalidInput
from api.domain.messaging.contacts import Contact, SegmentFilter

DEFAULT_MESSAGES_PER_SECOND = 80
MAX_MESSAGES_PER_SECOND = 1000
CONTACT_FIELDS = ("name", "phone", "email", "language")


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class CampaignAction(StrEnum):
    """What moves a campaign: the API's verbs, then the engine's (`complete`, `fail`,
    `reschedule`: a recurring campaign's run finished, back to `scheduled`)."""

    SCHEDULE = "schedule"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    COMPLETE = "complete"
    FAIL = "fail"
    RESCHEDULE = "reschedule"


_S = CampaignStatus
_TRANSITIONS: dict[CampaignAction, tuple[frozenset[CampaignStatus], CampaignStatus]] = {
    CampaignAction.SCHEDULE: (frozenset({_S.DRAFT}), _S.SCHEDULED),
    CampaignAction.START: (frozenset({_S.DRAFT, _S.SCHEDULED}), _S.RUNNING),
    CampaignAction.PAUSE: (frozenset({_S.RUNNING}), _S.PAUSED),
    CampaignAction.RESUME: (frozenset({_S.PAUSED}), _S.RUNNING),
    CampaignAction.CANCEL: (
        frozenset({_S.DRAFT, _S.SCHEDULED, _S.RUNNING, _S.PAUSED}),
        _S.CANCELLED,
    ),
    CampaignAction.COMPLETE: (frozenset({_S.RUNNING}), _S.COMPLETED),
    CampaignAction.FAIL: (frozenset({_S.RUNNING}), _S.FAILED),
    CampaignAction.RESCHEDULE: (frozenset({_S.RUNNING}), _S.SCHEDULED),
}
EDITABLE = frozenset({_S.DRAFT, _S.SCHEDULED})


class CampaignStateConflict(Conflict):
    """The campaign's status does not allow this action (or an edit)."""

    code = "campaign_state_conflict"
    title = "Campaign state conflict"


def allowed_from(action: CampaignAction) -> frozenset[CampaignStatus]:
    """The statuses `action` may start from."""
    return _TRANSITIONS[action][0]


def transition(status: CampaignStatus, action: CampaignAction) -> CampaignStatus:
    """The status after `action` from `status`; `CampaignStateConflict` when not allowed."""
    sources, target = _TRANSITIONS[action]
    if status not in sources:
        raise CampaignStateConflict(f"A {status.value} campaign cannot {action.value}.")
    return target


def ensure_editable(status: CampaignStatus) -> None:
    if status not in EDITABLE:
        raise CampaignStateConflict(
            f"A {status.value} campaign cannot be edited (only draft or scheduled)."
        )


class VariableSource(StrEnum):
    FIELD = "field"  # a contact field: name, phone, email, language
    ATTRIBUTE = "attribute"  # the contact's attributes[value]
    CONSTANT = "constant"  # the value itself


class CampaignVariable(BaseModel):
    """How one template variable is filled for each recipient. `key` names the template
    variable (e.g. `body.1`); without keys, the list's order is the template's."""

    model_config = ConfigDict(frozen=True)

    key: str | None = None
    source: VariableSource
    value: str = Field(min_length=1, max_length=1024)
    fallback: str | None = Field(default=None, max_length=1024)


class Audience(BaseModel):
    """Who receives a run: the union of the segments' contacts, the contacts with any of
    `tags_any`, the listed contacts, or every contact (`all`). Deleted contacts never."""

    model_config = ConfigDict(frozen=True)

    segment_ids: list[str] = Field(default_factory=list)
    tags_any: list[str] = Field(default_factory=list)
    contact_ids: list[str] = Field(default_factory=list)
    all: bool = False

    @property
    def empty(self) -> bool:
        return not (self.segment_ids or self.tags_any or self.contact_ids or self.all)


class ScheduleType(StrEnum):
    NOW = "now"
    AT = "at"
    RECURRING = "recurring"


class Schedule(BaseModel):
    """When a campaign runs: `now` (when started), `at` a future time, or `recurring`
    on a cron expression read in `timezone` (the tenant's, by default)."""

    model_config = ConfigDict(frozen=True)

    type: ScheduleType
    at: datetime | None = None
    cron: str | None = None
    timezone: str | None = None


class TemplateRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    language: str


PLACEHOLDER = re.compile(r"\{\{\s*(\d{1,2})\s*\}\}")
MAX_TEXT = 4096  # Telegram's limit of a text message
MAX_CAPTION = 1024  # ... and of a file's caption


def placeholders(text: str) -> list[str]:
    """The placeholders of a plain message's text (`{{1}}`, `{{ 2 }}`), as keys "1",
    "2"..., each once, in numeric order."""
    return sorted({str(int(n)) for n in PLACEHOLDER.findall(text)}, key=int)


def render(text: str, values: dict[str, str]) -> str:
    """The text with each placeholder replaced by its value (a missing one: `KeyError`)."""
    return PLACEHOLDER.sub(lambda m: values[str(int(m.group(1)))], text)


class UrlButton(BaseModel):
    """A button under a plain message that opens a link (Telegram's inline URL button)."""

    model_config = ConfigDict(frozen=True)

    text: str
    url: str


class PlainMessage(BaseModel):
    """A campaign's message where the channel has no templates: a text (the caption when a
    file goes with it) and, optionally, one of the tenant's stored files (`media_kind` and
    `filename` are read from the file when the campaign is saved) or, with a text only, a
    URL button."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    file_id: str | None = None
    media_kind: str | None = None  # image | video | audio | document
    filename: str | None = None
    button: UrlButton | None = None


class Campaign(BaseModel):
    id: str | None = None
    name: str
    channel_id: str
    template: TemplateRef | None = None  # exactly one of template and message
    message: PlainMessage | None = None
    variables: list[CampaignVariable] = Field(default_factory=list)
    audience: Audience
    schedule: Schedule | None = None
    status: CampaignStatus = CampaignStatus.DRAFT
    messages_per_second: int = DEFAULT_MESSAGES_PER_SECOND
    next_run_at: datetime | None = None
    current_run_id: str | None = None
    owner_id: str | None = None  # who created it: they get the results email
    created_at: datetime
    updated_at: datetime


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None = None


class DueCampaign(BaseModel):
    """A scheduled campaign whose next run is due, in whichever tenant."""

    tenant_id: str
    campaign_id: str
    next_run_at: datetime


class StalledRun(BaseModel):
    """A run still `snapshotting` whose lease ran out, in whichever tenant."""

    tenant_id: str
    run_id: str


class RunStatus(StrEnum):
    SNAPSHOTTING = "snapshotting"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINISHED_RUN = frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED})


class CampaignRun(BaseModel):
    """One firing of a campaign, for `window` (the scheduled time; for a start, its time)."""

    id: str | None = None
    campaign_id: str
    window: datetime
    status: RunStatus = RunStatus.SNAPSHOTTING
    recipients: int = 0
    opted_out_skipped: int = 0
    lease_until: datetime | None = None  # the snapshot's, then the send engine's heartbeat
    lease_holder: str | None = None  # which send job holds the run until `lease_until`
    next_seq: int = 0  # the send engine's cursor: rows below it were claimed at least once
    media_id: str | None = None  # the provider's reusable id of the uploaded file, if any
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None


class CampaignRunPage(BaseModel):
    items: list[CampaignRun]
    next_cursor: str | None = None


class RecipientStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"


QUEUED = frozenset({RecipientStatus.PENDING, RecipientStatus.SENDING})
# A status update moves a row forward only: sent < delivered < read; failed from any of
# these (never from read, failed or skipped).
PROGRESS = {RecipientStatus.SENT: 1, RecipientStatus.DELIVERED: 2, RecipientStatus.READ: 3}
FAILABLE = frozenset({RecipientStatus.SENDING, RecipientStatus.SENT, RecipientStatus.DELIVERED})


class SkipReason(StrEnum):
    OPTED_OUT = "opted_out"
    DELETED = "deleted"
    NO_ADDRESS = "no_address"
    CANCELLED = "cancelled"
    RECENT_MARKETING_LIMIT = "recent_marketing_limit"
    NOT_ON_CHANNEL = "not_on_channel"  # no user id on the campaign's channel (Telegram)


class RecipientAddress(BaseModel):
    """Where the message goes: WhatsApp's number (E.164 and its digits) or business-scoped
    user id; on other providers, the contact's user id on the channel's account
    (`user_id`: Telegram's chat id)."""

    model_config = ConfigDict(frozen=True)

    phone: str | None = None
    wa_id: str | None = None
    bsuid: str | None = None
    user_id: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.phone or self.wa_id or self.bsuid or self.user_id)


class CampaignRecipient(BaseModel):
    id: str | None = None
    campaign_id: str
    run_id: str
    contact_id: str
    address: RecipientAddress = Field(default_factory=RecipientAddress)
    name: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)  # rendered at snapshot
    seq: int | None = None  # the row's place in its run's snapshot (0, 1, ...)
    status: RecipientStatus = RecipientStatus.PENDING
    skip_reason: SkipReason | None = None
    claim: str | None = None
    claimed_until: datetime | None = None
    attempts: int = 0
    not_before: datetime | None = None  # retry after a provider backoff
    wamid: str | None = None
    error_code: str | None = None
    error_title: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    updated_at: datetime


class RecipientPage(BaseModel):
    items: list[CampaignRecipient]
    next_cursor: str | None = None


class RecipientOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    RETRY = "retry"  # back to pending, not before `not_before`


class RecipientResult(BaseModel):
    """What became of one claimed row; written only while the row still holds `claim`."""

    model_config = ConfigDict(frozen=True)

    recipient_id: str
    claim: str
    outcome: RecipientOutcome
    at: datetime
    wamid: str | None = None
    error_code: str | None = None
    error_title: str | None = None
    skip_reason: SkipReason | None = None
    not_before: datetime | None = None


class RecipientCounts(BaseModel):
    """Rows by status, failed rows by error code, skipped rows by reason."""

    by_status: dict[str, int] = Field(default_factory=dict)
    failures_by_code: dict[str, int] = Field(default_factory=dict)
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)


class CampaignStats(BaseModel):
    recipients: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    opted_out_skipped: int
    skipped: int
    skipped_by_reason: dict[str, int]
    failures_by_code: dict[str, int]
    delivery_rate: float
    read_rate: float


def campaign_stats(counts: RecipientCounts) -> CampaignStats:
    """The stats of a run (or of all of a campaign's runs) from its rows' counts. `sent`,
    `delivered` and `read` are rows in exactly that status; the rates are over every row
    that was at least sent."""
    status = counts.by_status
    sent, delivered, read = (status.get(s.value, 0) for s in PROGRESS)
    at_least_sent = sent + delivered + read
    return CampaignStats(
        recipients=sum(status.values()),
        queued=sum(status.get(s.value, 0) for s in QUEUED),
        sent=sent,
        delivered=delivered,
        read=read,
        failed=status.get(RecipientStatus.FAILED.value, 0),
        opted_out_skipped=counts.skipped_by_reason.get(SkipReason.OPTED_OUT.value, 0),
        skipped=status.get(RecipientStatus.SKIPPED.value, 0),
        skipped_by_reason=dict(counts.skipped_by_reason),
        failures_by_code=dict(counts.failures_by_code),
        delivery_rate=round((delivered + read) / at_least_sent, 4) if at_least_sent else 0.0,
        read_rate=round(read / at_least_sent, 4) if at_least_sent else 0.0,
    )


# Input refusals (422).


class _CampaignInvalid(InvalidInput):
    def __init__(self, detail: str, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(detail, [FieldProblem(loc, msg)])


class UnknownChannel(_CampaignInvalid):
    code = "unknown_channel"
    title = "Unknown channel"


class TemplateNotUsable(_CampaignInvalid):
    code = "template_not_usable"
    title = "Template not usable"


class TemplateVariablesUnmapped(_CampaignInvalid):
    code = "template_variables_unmapped"
    title = "Template variables unmapped"


class InvalidCampaignContent(_CampaignInvalid):
    """Neither or both of `template` and `message`, or an empty message."""

    code = "invalid_campaign_content"
    title = "Invalid campaign content"


class TemplateRequired(_CampaignInvalid):
    """A plain message to a WhatsApp audience: outside the 24-hour window only templates
    may be sent."""

    code = "template_required"
    title = "Template required"


class TemplatesNotSupported(_CampaignInvalid):
    """A template on a channel whose provider has none (Telegram)."""

    code = "templates_not_supported"
    title = "Templates not supported"


class CampaignsNotSupported(_CampaignInvalid):
    """Messenger and Instagram: Meta allows no promotional message outside the 24-hour
    window (and its message tags are not for promotions)."""

    code = "campaigns_not_supported"
    title = "Campaigns not supported on this channel"


class UnknownFile(_CampaignInvalid):
    code = "unknown_file"
    title = "Unknown file"


class UnknownSegment(_CampaignInvalid):
    code = "unknown_segment"
    title = "Unknown segment"


class InvalidAudience(_CampaignInvalid):
    code = "invalid_audience"
    title = "Invalid audience"


class InvalidSchedule(_CampaignInvalid):
    code = "invalid_schedule"
    title = "Invalid schedule"


# Ports.


class CampaignRepository(Protocol):
    """Campaigns of the current tenant (fail closed without one)."""

    async def add(self, campaign: Campaign) -> Campaign: ...

    async def get(self, campaign_id: str) -> Campaign | None: ...

    async def page(
        self, *, status: CampaignStatus | None, cursor: str | None, limit: int
    ) -> CampaignPage:
        """Newest first (`created_at`, then id), by cursor."""
        ...

    async def update(
        self,
        campaign_id: str,
        changes: dict[str, object],
        *,
        statuses: frozenset[CampaignStatus] | None = None,
    ) -> Campaign | None:
        """Set `changes` (and `updated_at`) when the campaign exists and, if `statuses` is
        given, is in one of them (atomic: the status is the condition); else None."""
        ...

    async def claim_window(
        self, campaign_id: str, window: datetime, changes: dict[str, object]
    ) -> Campaign | None:
        """Set `changes` when the campaign is still `scheduled` for `window` (its
        `next_run_at`): of several dispatchers firing one window, exactly one gets it."""
        ...

    async def delete(
        self, campaign_id: str, *, statuses: frozenset[CampaignStatus] | None = None
    ) -> bool: ...


class CampaignSchedule(Protocol):
    """The one cross-tenant read of campaigns: the scheduled ones that are due, for the
    dispatcher (each is then dispatched within its own tenant)."""

    async def due(self, at: datetime, limit: int) -> list[DueCampaign]:
        """At most `limit` campaigns `scheduled` with `next_run_at` <= `at`, earliest first."""
        ...

    async def stalled_snapshots(self, at: datetime, limit: int) -> list[StalledRun]:
        """At most `limit` runs `snapshotting` whose `lease_until` is before `at`."""
        ...


class CampaignRunRepository(Protocol):
    """Runs of the current tenant's campaigns."""

    async def create(self, run: CampaignRun) -> CampaignRun | None:
        """Store a new run; None when the campaign already has a run for this window."""
        ...

    async def get(self, run_id: str) -> CampaignRun | None: ...

    async def for_window(self, campaign_id: str, window: datetime) -> CampaignRun | None: ...

    async def page(self, campaign_id: str, *, cursor: str | None, limit: int) -> CampaignRunPage:
        """The campaign's runs, newest window first, by cursor."""
        ...

    async def update(
        self,
        run_id: str,
        changes: dict[str, object],
        *,
        statuses: frozenset[RunStatus] | None = None,
    ) -> CampaignRun | None:
        """Set `changes` when the run exists and, if `statuses` is given, is in one of them
        (atomic); else None."""
        ...

    async def increment(self, run_id: str, amounts: dict[str, int]) -> bool: ...

    async def in_status(self, statuses: frozenset[RunStatus], limit: int) -> list[CampaignRun]:
        """This tenant's runs in these statuses (oldest first)."""
        ...

    async def take_lease(
        self, run_id: str, holder: str, until: datetime, now: datetime, *, previous: str | None
    ) -> CampaignRun | None:
        """Make `holder` the one send job of the `sending` run until `until`: when no send
        job holds it (never did, or released it), its lease ran out before `now`, or it is
        held by `previous` (the job handing the run over). None when the run is not
        `sending` or another job holds it."""
        ...

    async def renew_lease(
        self, run_id: str, holder: str, until: datetime, *, next_seq: int | None = None
    ) -> bool:
        """Extend `holder`'s lease of the `sending` run (and save its cursor); False when it
        lost it (the run was paused, cancelled or finished, or another job took it over)."""
        ...

    async def release_lease(self, run_id: str, holder: str) -> None:
        """Give the run's lease up (if `holder` still has it)."""
        ...


class CampaignRecipientRepository(Protocol):
    """Recipient rows of the current tenant's runs."""

    async def add_snapshot(self, rows: list[CampaignRecipient]) -> int:
        """Insert the rows, ignoring those already there (same run and contact): how many
        were new. Idempotent, so a redelivered snapshot job adds nothing twice."""
        ...

    async def claim_batch(
        self, run_id: str, limit: int, claim: str, until: datetime, now: datetime
    ) -> list[CampaignRecipient]:
        """Take up to `limit` pending rows of the run that may go now (`not_before` unset or
        passed): they become `sending` with `claim` until `until` (attempts + 1). Two
        claimers never get the same row."""
        ...

    async def record_results(self, results: list[RecipientResult]) -> int:
        """Write each outcome on its row if the row is still `sending` under its claim (one
        bulk write); how many rows were written."""
        ...

    async def expired_claims(self, run_id: str, now: datetime) -> list[CampaignRecipient]:
        """Rows of the run still `sending` whose claim ran out before `now`."""
        ...

    async def apply_status_by_wamid(
        self,
        wamid: str,
        status: RecipientStatus,
        at: datetime,
        error: tuple[str | None, str | None] | None = None,
    ) -> bool:
        """Move the row with this message id forward (sent < delivered < read; failed from
        any non-final status, with `error` = (code, title)); False when no row moved. A
        progress status arriving after a further one (delivered after read: webhooks
        are processed side by side) moves nothing but still gives the row its time
        when it has none."""
        ...

    async def counts(
        self, *, run_id: str | None = None, campaign_id: str | None = None
    ) -> RecipientCounts:
        """The rows of a run, or of a campaign's runs, counted."""
        ...

    async def page(
        self,
        campaign_id: str,
        *,
        run_id: str | None,
        status: RecipientStatus | None,
        cursor: str | None,
        limit: int,
    ) -> RecipientPage:
        """The campaign's rows in snapshot order, by cursor."""
        ...

    async def get(self, recipient_id: str) -> CampaignRecipient | None: ...

    async def erase_contact(self, contact_id: str, at: datetime) -> int:
        """The contact's personal data erased: its rows keep their status and times but
        lose the address, name and rendered values; rows still pending are skipped
        (`deleted`). How many rows it had."""
        ...

    async def cancel_pending(self, run_id: str, at: datetime) -> int:
        """Every `pending` row of the run becomes `skipped` (reason `cancelled`): how many."""
        ...

    async def apply_status_by_tracker(
        self,
        recipient_id: str,
        wamid: str,
        status: RecipientStatus,
        at: datetime,
        error: tuple[str | None, str | None] | None = None,
    ) -> bool:
        """A status naming the row itself (the tracker sent with the message) while the row
        has no message id yet (its send was not recorded: a worker died, or the webhook
        overtook the answer): the row gets `wamid` and moves like `apply_status_by_wamid`
        (also from `sending`). False when no row moved."""
        ...

    async def by_wamid(self, wamid: str) -> CampaignRecipient | None: ...

    async def unsettled(self, run_id: str) -> tuple[int, int]:
        """How many rows of the run are `pending` and how many `sending` (counted through
        the status index: cheap when few are left, unlike `counts`)."""
        ...

    async def claim_range(
        self, run_id: str, start: int, stop: int, claim: str, until: datetime, now: datetime
    ) -> list[CampaignRecipient]:
        """Claim the rows of the run whose `seq` is in [start, stop) and that are pending and
        may go now, like `claim_batch` (two claimers never get one row); a read of a range
        of the snapshot's order, which stays cheap however many rows are pending."""
        ...


class TenantTimezone(Protocol):
    """The zone the current tenant's schedules are read in (its company profile's)."""

    async def current(self) -> str: ...


class AudienceContacts(Protocol):
    """The contacts of an audience, streamed (deleted contacts never; opted-out ones are
    included, so the snapshot can count them)."""

    def batches(
        self,
        *,
        filters: list[SegmentFilter],
        contact_ids: list[str],
        everyone: bool,
        size: int,
    ) -> AsyncIterator[list[Contact]]: ...
