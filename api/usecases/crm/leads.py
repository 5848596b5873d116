"""Leads over the API (`crm:read` to read, `crm:write` to change): create one by hand,
read, list (filters, title search, cursor), change (any field, the stage by the machine
of `api.domain.crm.leads`), delete. The field rules are in `lead_rules`.

Every change is appended to the lead's history and audited (`lead.created`,
`lead.updated` with the changed fields' from and to, `lead.deleted`); the owner is told
by email when the lead is given to them (`lead_notices`). A change is a conditional
update on the lead's version: one made meanwhile by someone else is read again and the
change re-checked (a stage move checked against a stale stage never lands), up to
`UPDATE_TRIES` times (then 409 `lead_changed`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.domain.clock import Clock
from api.domain.crm.leads import (
    Lead,
    LeadChange,
    LeadChanged,
    LeadPage,
    LeadQuery,
    LeadRepository,
    LeadSource,
    LeadStage,
    check_transition,
    shown,
)
from api.domain.errors import InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.crm.lead_notices import NotifyLeadOwner
from api.usecases.crm.lead_rules import (
    LeadFields,
    LeadReferences,
    clean_notes,
    clean_source,
    clean_title,
    money,
    shown_value,
)
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time

LEAD_NOT_FOUND = "Lead not found."
UPDATE_TRIES = 3
MAX_PAGE = 100
_TEXT_FIELDS = ("title", "source", "notes", "contact_id", "owner_id", "department_id")


async def existing_lead(leads: LeadRepository, lead_id: str) -> Lead:
    found = await leads.get(lead_id)
    if found is None:
        raise NotFound(LEAD_NOT_FOUND)
    return found


def new_lead(fields: LeadFields, actor_id: str | None, at: datetime, source: LeadSource) -> Lead:
    """A lead from `fields` (checked, references not yet), made by `actor_id` at `at`."""
    if fields.contact_id is None:
        raise InvalidInput("A lead needs a contact.")
    value_minor, currency = money(fields.value, fields.currency)
    stage = fields.stage or LeadStage.NEW
    return Lead(
        contact_id=fields.contact_id, title=clean_title(fields.title), value_minor=value_minor,
        currency=currency, stage=stage,
        source=clean_source(fields.source) if fields.source is not None else source.value,
        owner_id=fields.owner_id, department_id=fields.department_id,
        notes=clean_notes(fields.notes), created_by=actor_id, created_at=at,
        updated_at=at,
        history=[LeadChange(at=at, actor_id=actor_id, field="stage",
                            to_value=stage.value)],
    )  # fmt: skip


class LeadWriter:
    """What creating a lead takes, whichever way: checks, store, audit, the owner's email."""

    def __init__(
        self,
        leads: LeadRepository,
        references: LeadReferences,
        auditor: Auditor,
        notify: NotifyLeadOwner,
    ) -> None:
        self._leads = leads
        self._references = references
        self._auditor = auditor
        self._notify = notify

    async def create(self, principal: Principal, lead: Lead, *, notify: bool = True) -> Lead:
        await self._references.contact(lead.contact_id)
        if lead.owner_id is not None:
            await self._references.owner(lead.owner_id)
        await self._references.department(lead.department_id)
        stored = await self._leads.add(lead)
        await self._auditor.record(
            "lead.created", "lead", stored.id, actor_id=principal.user_id,
            changes=audit_extra(principal, created_changes(stored)),
        )  # fmt: skip
        if notify:
            await self._notify.execute(stored, principal.user_id)
        return stored


def created_changes(lead: Lead) -> dict[str, object]:
    return {
        "contact_id": lead.contact_id, "title": lead.title, "stage": lead.stage.value,
        "value": shown_value(lead.value_minor, lead.currency), "currency": lead.currency,
        "source": lead.source, "owner_id": lead.owner_id, "department_id": lead.department_id,
        "conversation_id": lead.conversation_id,
    }  # fmt: skip


class CreateLead:
    def __init__(self, writer: LeadWriter, clock: Clock) -> None:
        self._writer = writer
        self._clock = clock

    async def execute(self, principal: Principal, fields: LeadFields) -> Lead:
        require_permission(principal, Permission.CRM_WRITE)
        at = stored_time(self._clock.now())
        return await self._writer.create(
            principal, new_lead(fields, principal.user_id, at, LeadSource.MANUAL)
        )


class GetLead:
    def __init__(self, leads: LeadRepository) -> None:
        self._leads = leads

    async def execute(self, principal: Principal, lead_id: str) -> Lead:
        require_permission(principal, Permission.CRM_READ)
        return await existing_lead(self._leads, lead_id)


class ListLeads:
    """Newest first, by cursor; the caller's departments only when limited."""

    def __init__(self, leads: LeadRepository) -> None:
        self._leads = leads

    async def execute(
        self, principal: Principal, query: LeadQuery, *, cursor: str | None, limit: int
    ) -> LeadPage:
        require_permission(principal, Permission.CRM_READ)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be within 1..{MAX_PAGE}")
        if query.created_from and query.created_to and query.created_from > query.created_to:
            raise InvalidInput("created_from is after created_to.")
        return await self._leads.search(query, cursor=cursor, limit=limit)


def plan_changes(lead: Lead, fields: LeadFields) -> dict[str, Any]:
    """The stored fields `fields` change on `lead` (only those that differ)."""
    sent = fields.model_fields_set
    wanted: dict[str, Any] = {}
    if "title" in sent:
        wanted["title"] = clean_title(fields.title)
    if "source" in sent:
        wanted["source"] = clean_source(fields.source or "")
    if "notes" in sent:
        wanted["notes"] = clean_notes(fields.notes)
    if "contact_id" in sent:
        if fields.contact_id is None:
            raise InvalidInput("A lead needs a contact.")
        wanted["contact_id"] = fields.contact_id
    for field in ("owner_id", "department_id"):
        if field in sent:
            wanted[field] = getattr(fields, field)
    if sent & {"value", "currency"}:
        value = fields.value if "value" in sent else shown_value(lead.value_minor, lead.currency)
        currency = fields.currency if "currency" in sent else lead.currency
        wanted["value_minor"], wanted["currency"] = money(value, currency)
    if "stage" in sent and fields.stage is not None:
        check_transition(lead.stage, fields.stage)
        wanted["stage"] = fields.stage
    return {k: v for k, v in wanted.items() if getattr(lead, k) != v}


def history_of(
    lead: Lead, changes: dict[str, Any], actor_id: str, at: datetime
) -> list[LeadChange]:
    """One entry per changed field; an amount shows as `value` (decimal string)."""
    entries = [
        LeadChange(at=at, actor_id=actor_id, field=field, from_value=shown(getattr(lead, field)),
                   to_value=shown(changes[field]))
        for field in (*_TEXT_FIELDS, "stage") if field in changes
    ]  # fmt: skip
    if "value_minor" in changes or "currency" in changes:
        before = shown_value(lead.value_minor, lead.currency)
        after = shown_value(changes.get("value_minor", lead.value_minor),
                            changes.get("currency", lead.currency))  # fmt: skip
        if before != after or lead.currency != changes.get("currency", lead.currency):
            entries.append(LeadChange(at=at, actor_id=actor_id, field="value",
                                      from_value=_money_text(before, lead.currency),
                                      to_value=_money_text(after, changes.get(
                                          "currency", lead.currency))))  # fmt: skip
    return entries


def _money_text(value: str | None, currency: str | None) -> str | None:
    return f"{value} {currency}" if value is not None else None


class UpdateLead:
    def __init__(
        self,
        leads: LeadRepository,
        references: LeadReferences,
        auditor: Auditor,
        notify: NotifyLeadOwner,
        clock: Clock,
    ) -> None:
        self._leads = leads
        self._references = references
        self._auditor = auditor
        self._notify = notify
        self._clock = clock

    async def execute(self, principal: Principal, lead_id: str, fields: LeadFields) -> Lead:
        require_permission(principal, Permission.CRM_WRITE)
        for _ in range(UPDATE_TRIES):
            lead = await existing_lead(self._leads, lead_id)
            changes = plan_changes(lead, fields)
            if not changes:
                return lead
            await self._references.check(changes)
            at = stored_time(self._clock.now())
            history = history_of(lead, changes, principal.user_id, at)
            updated = await self._leads.replace_if_unchanged(
                lead_id, lead.version, {**changes, "updated_at": at}, history
            )
            if updated is None:
                continue
            await self._auditor.record(
                "lead.updated", "lead", lead_id, actor_id=principal.user_id,
                changes=audit_extra(principal, {e.field: {"from": e.from_value, "to": e.to_value}
                                                for e in history}),
            )  # fmt: skip
            if "owner_id" in changes:
                await self._notify.execute(updated, principal.user_id)
            return updated
        raise LeadChanged("The lead kept changing while this change was made; try again.")


class DeleteLead:
    def __init__(self, leads: LeadRepository, auditor: Auditor) -> None:
        self._leads = leads
        self._auditor = auditor

    async def execute(self, principal: Principal, lead_id: str) -> None:
        require_permission(principal, Permission.CRM_WRITE)
        lead = await existing_lead(self._leads, lead_id)
        if not await self._leads.delete(lead_id):
            raise NotFound(LEAD_NOT_FOUND)
        await self._auditor.record(
            "lead.deleted", "lead", lead_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"title": lead.title, "stage": lead.stage.value}),
        )  # fmt: skip
