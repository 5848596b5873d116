"""Leads: a sales opportunity with a contact, moving through a pipeline of stages.

The stage machine (any other move is 409 `lead_stage_conflict`; setting the stage it has
is no change):

    new       -> contacted | qualified | lost
    contacted -> qualified | lost
    qualified -> proposal | lost
    proposal  -> won | lost
    lost      -> new            (reopened)
    won       -> (none)         (terminal)

`won` is terminal on purpose: a won deal is revenue the dashboard has counted; a deal
that falls through afterwards is a new lead (or a refund), not a rewrite of the past.
`lost` can be reopened, back to `new`, because lost leads do come back.

Every change appends a `LeadChange` (who, when, which field, from, to) to the lead's
history, newest last, capped at `HISTORY_LIMIT` entries (the oldest go first; the audit
log keeps every change for good). Values are shown as text (an amount as its decimal
string, notes cut at `HISTORY_TEXT_LIMIT` characters).

A lead created from a conversation remembers it (`conversation_id`); while such a lead is
open (not won or lost) no second lead can be made from that conversation (409
`lead_exists`, naming the open one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import Conflict, FieldProblem, InvalidInput

HISTORY_LIMIT = 200
HISTORY_TEXT_LIMIT = 200
MAX_TITLE = 200
MAX_SOURCE = 50
MAX_NOTES = 5000


class LeadStage(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    WON = "won"
    LOST = "lost"


TRANSITIONS: Mapping[LeadStage, frozenset[LeadStage]] = {
    LeadStage.NEW: frozenset({LeadStage.CONTACTED, LeadStage.QUALIFIED, LeadStage.LOST}),
    LeadStage.CONTACTED: frozenset({LeadStage.QUALIFIED, LeadStage.LOST}),
    LeadStage.QUALIFIED: frozenset({LeadStage.PROPOSAL, LeadStage.LOST}),
    LeadStage.PROPOSAL: frozenset({LeadStage.WON, LeadStage.LOST}),
    LeadStage.LOST: frozenset({LeadStage.NEW}),
    LeadStage.WON: frozenset(),
}
CLOSED = frozenset({LeadStage.WON, LeadStage.LOST})


class LeadSource(StrEnum):
    """The sources Parley sets itself; a caller may name any other (a short label)."""

    MANUAL = "manual"
    CONVERSATION = "conversation"
    IMPORT = "import"


class LeadStageConflict(Conflict):
    """The stage cannot move from where it is to where it was asked to go."""

    code = "lead_stage_conflict"
    title = "Stage change not allowed"

    def __init__(self, current: LeadStage, wanted: LeadStage) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
        super().__init__(
            f"A lead cannot move from {current.value} to {wanted.value}; from "
            f"{current.value} it can move to: {allowed}."
        )
        self.current = current
        self.wanted = wanted

    @property
    def extensions(self) -> dict[str, str]:
        return {"stage": self.current.value}


class LeadExists(Conflict):
    """The conversation has an open lead already (its id is in the answer)."""

    code = "lead_exists"
    title = "The conversation has an open lead"

    def __init__(self, lead_id: str) -> None:
        super().__init__("This conversation already has an open lead.")
        self.lead_id = lead_id

    @property
    def extensions(self) -> dict[str, str]:
        return {"lead_id": self.lead_id}


class LeadChanged(Conflict):
    """The lead kept changing under this update (tried a few times): try again."""

    code = "lead_changed"
    title = "The lead changed meanwhile"


class UnknownLeadReference(InvalidInput):
    """A contact, owner or department named in the body does not exist in the tenant."""

    code = "unknown_reference"
    title = "Unknown reference"
    field = ""
    what = ""

    def __init__(self) -> None:
        super().__init__(f"No such {self.what} in this tenant.",
                         [FieldProblem(("body", self.field), f"unknown {self.what}")])  # fmt: skip


class UnknownContact(UnknownLeadReference):
    code = "unknown_contact"
    title = "Unknown contact"
    field = "contact_id"
    what = "contact"


class UnknownOwner(UnknownLeadReference):
    code = "unknown_owner"
    title = "Unknown owner"
    field = "owner_id"
    what = "active user"


class UnknownDepartment(UnknownLeadReference):
    code = "unknown_department"
    title = "Unknown department"
    field = "department_id"
    what = "department"


def check_transition(current: LeadStage, wanted: LeadStage) -> None:
    """`LeadStageConflict` unless `current -> wanted` is a move of the machine (the same
    stage is no move and passes)."""
    if wanted != current and wanted not in TRANSITIONS[current]:
        raise LeadStageConflict(current, wanted)


class LeadChange(BaseModel):
    """One change of one field (values as text; None for none)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor_id: str | None
    field: str
    from_value: str | None = None
    to_value: str | None = None


def shown(value: Any) -> str | None:
    """A field's value as history shows it."""
    if value is None:
        return None
    text = value.value if isinstance(value, StrEnum) else str(value)
    if len(text) > HISTORY_TEXT_LIMIT:
        return text[: HISTORY_TEXT_LIMIT - 1] + "…"
    return text


class Lead(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    contact_id: str
    title: str
    value_minor: int | None = None
    currency: str | None = None
    stage: LeadStage = LeadStage.NEW
    source: str = LeadSource.MANUAL.value
    owner_id: str | None = None
    department_id: str | None = None
    notes: str | None = None
    conversation_id: str | None = None
    history: list[LeadChange] = Field(default_factory=list)
    version: int = 0  # moved on by every change: updates are conditional on it
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED


class LeadQuery(BaseModel):
    """What narrows the list; None narrows nothing. `text`: a piece of the title, any case."""

    stage: LeadStage | None = None
    owner_id: str | None = None
    department_id: str | None = None
    contact_id: str | None = None
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None


class LeadPage(BaseModel):
    items: list[Lead]
    next_cursor: str | None = None


class LeadRepository(Protocol):
    """The current tenant's leads, within the caller's department scope (a limited user's
    query never sees a lead of another department, nor one of none)."""

    async def add(self, lead: Lead) -> Lead:
        """Store a new lead; `LeadExists` when it names a conversation with an open lead."""
        ...

    async def add_with_id(self, lead_id: str, lead: Lead) -> tuple[Lead, bool]:
        """Store a lead under a chosen id (imports: the id is derived from the import and
        row, so a row settled twice makes one lead); (the lead, whether it was new)."""
        ...

    async def get(self, lead_id: str) -> Lead | None: ...

    async def open_for_conversation(self, conversation_id: str) -> Lead | None: ...

    async def replace_if_unchanged(
        self,
        lead_id: str,
        expected_version: int,
        changes: Mapping[str, Any],
        history: list[LeadChange],
    ) -> Lead | None:
        """Set `changes`, append `history` (capped) and move `version` on when the lead is
        still at `expected_version`; None when it changed meanwhile or is gone. `LeadExists` when a
        reopened lead's conversation has another open lead."""
        ...

    async def delete(self, lead_id: str) -> bool: ...

    async def search(self, query: LeadQuery, *, cursor: str | None, limit: int) -> LeadPage:
        """Newest first, by cursor (`InvalidInput` for a cursor this list did not give)."""
        ...


class LeadContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None


class LeadContacts(Protocol):
    """The contacts leads point at (the messaging context's), read in the current tenant."""

    async def get(self, contact_id: str) -> LeadContact | None:
        """The live (not deleted) contact with this id."""
        ...

    async def by_phone(self, phone: str) -> LeadContact | None:
        """The live contact with this E.164 number."""
        ...


class LeadConversation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    contact_id: str
    contact_name: str | None = None
    department_id: str | None = None


class LeadConversations(Protocol):
    """The conversations leads are made from (the messaging context's), current tenant."""

    async def get(self, conversation_id: str) -> LeadConversation | None: ...
