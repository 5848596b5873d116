"""Merging two contacts that are one customer (met on two channels, or once by hand and
once on a channel): everything of the source moves to the target, and the source is
deleted as `merged_into` the target.

`ContactRecords` is what points at a contact outside the contact itself: conversations
(and their messages), leads, tickets, meetings and callback requests. Moving them is a
sequence of idempotent updates keyed by the source's id (what still names the source
moves; what moved already is not found again), so a merge that stopped half-way is
completed by running it again.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.errors import Conflict, Forbidden, NotFound, ParleyError
from api.domain.messaging.conversations import ContactSummary


class MovedRecords(BaseModel):
    """What a merge moved (this run), by kind. `resolved`: the source's unresolved
    conversations on a channel where the target had one too, moved and resolved (one
    unresolved conversation per contact and channel)."""

    conversations: list[str] = Field(default_factory=list)
    resolved: list[str] = Field(default_factory=list)
    messages: int = 0
    leads: int = 0
    tickets: int = 0
    meetings: int = 0
    callback_requests: int = 0
    channel_identities: int = 0  # Telegram, Messenger, Instagram user ids


class ContactRecords(Protocol):
    """The records of the current tenant that point at a contact."""

    async def outside_scope(self, contact_id: str) -> bool:
        """Whether a department-routed record of the contact (conversation, lead, ticket,
        meeting, callback request) is outside the current work's department scope
        (always False for unlimited work)."""
        ...

    async def move(self, source_id: str, target: ContactSummary) -> MovedRecords:
        """Point every record of `source_id` at `target` (whatever the department scope:
        the caller checked `outside_scope`). Messages of a conversation move before it, so
        a run that stops finds the rest again by the source's id."""
        ...


class _MergedInto(ParleyError):
    """An error naming the contact the one asked for was merged into (`merged_into`)."""

    def __init__(self, merged_into: str, detail: str) -> None:
        super().__init__(detail)
        self.merged_into = merged_into

    @property
    def extensions(self) -> dict[str, str]:
        return {"merged_into": self.merged_into}


class ContactMerged(_MergedInto, NotFound):
    """The contact was merged into another: `merged_into` is where it lives on."""

    code = "contact_merged"
    title = "Contact merged"

    def __init__(self, merged_into: str) -> None:
        super().__init__(merged_into, f"This contact was merged into {merged_into}.")


class AlreadyMerged(_MergedInto, Conflict):
    """The source was merged into the target already (a repeated merge)."""

    code = "already_merged"
    title = "Already merged"

    def __init__(self, merged_into: str) -> None:
        super().__init__(merged_into, "The source contact was merged into this one already.")


class MergeInProgress(Conflict):
    """Another merge holds one of the two contacts (or the source is merging elsewhere)."""

    code = "merge_in_progress"
    title = "Merge in progress"


class MergeOutsideDepartments(Forbidden):
    """A department-limited user asked to move records outside their departments."""

    code = "merge_outside_departments"
    title = "Records outside your departments"
