"""The rules a lead's fields follow, shared by every way a lead is made or changed.

- `title`: 1 to 200 characters (trimmed); `source`: 1 to 50 characters, lower case
  (trimmed); `notes`: at most 5,000 characters (empty is none).
- `value` and `currency` come together (`currency_required`), see `api.domain.crm.money`.
- `contact_id` names a live contact of the tenant (422 `unknown_contact`); `owner_id` an
  active user of the tenant (422 `unknown_owner`); `department_id` a department of the
  tenant (422 `unknown_department`).
- Departments: a caller limited to departments may only put a lead in one of them (and
  not in none): anything else is 403, and so is a lead outside the caller's scope (which
  the caller cannot even read: 404 there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from api.domain.crm.leads import (
    MAX_NOTES,
    MAX_SOURCE,
    MAX_TITLE,
    LeadContact,
    LeadContacts,
    LeadStage,
    UnknownContact,
    UnknownDepartment,
    UnknownOwner,
)
from api.domain.crm.money import CurrencyRequired, from_minor, to_minor
from api.domain.departments import DepartmentRepository, current_department_scope
from api.domain.errors import FieldProblem, Forbidden, InvalidInput
from api.domain.identity.users import User, UserRepository

OUTSIDE_SCOPE = "You can only put leads in your own departments."


class LeadFields(BaseModel):
    """A lead's writable fields as a caller sent them (which were sent: `model_fields_set`)."""

    contact_id: str | None = None
    title: str | None = None
    value: str | None = None
    currency: str | None = None
    stage: LeadStage | None = None
    source: str | None = None
    owner_id: str | None = None
    department_id: str | None = None
    notes: str | None = None


def _problem(field: str, detail: str, message: str) -> InvalidInput:
    return InvalidInput(detail, [FieldProblem(("body", field), message)])


def clean_title(raw: str | None) -> str:
    title = (raw or "").strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise _problem("title", "A lead needs a title.", f"1 to {MAX_TITLE} characters")
    return title


def clean_source(raw: str) -> str:
    source = raw.strip().lower()
    if not 1 <= len(source) <= MAX_SOURCE:
        raise _problem("source", "Invalid source.", f"1 to {MAX_SOURCE} characters")
    return source


def clean_notes(raw: str | None) -> str | None:
    notes = (raw or "").strip()
    if len(notes) > MAX_NOTES:
        raise _problem("notes", "The notes are too long.", f"at most {MAX_NOTES} characters")
    return notes or None


def money(value: str | None, currency: str | None) -> tuple[int | None, str | None]:
    """(value_minor, currency) of an amount and its currency, both or neither."""
    if value is None and currency is None:
        return None, None
    if value is None or currency is None:
        missing = "currency" if currency is None else "value"
        raise CurrencyRequired(
            "An amount and its currency come together.",
            [FieldProblem(("body", missing), "required with the other")],
        )
    code = currency.strip()
    return to_minor(value, code), code


def shown_value(value_minor: int | None, currency: str | None) -> str | None:
    if value_minor is None or currency is None:
        return None
    return from_minor(value_minor, currency)


def check_department_scope(department_id: str | None) -> None:
    """`Forbidden` when a limited caller would put a lead outside their departments."""
    scope = current_department_scope()
    if scope is not None and department_id not in scope:
        raise Forbidden(OUTSIDE_SCOPE)


class LeadReferences:
    """Checks what a lead points at: its contact, owner and department, in the tenant."""

    def __init__(
        self, contacts: LeadContacts, users: UserRepository, departments: DepartmentRepository
    ) -> None:
        self._contacts = contacts
        self._users = users
        self._departments = departments

    async def contact(self, contact_id: str) -> LeadContact:
        found = await self._contacts.get(contact_id)
        if found is None:
            raise UnknownContact()
        return found

    async def find_contact(self, contact_id: str) -> LeadContact | None:
        return await self._contacts.get(contact_id)

    async def contact_by_phone(self, phone: str) -> LeadContact | None:
        return await self._contacts.by_phone(phone)

    async def owner(self, owner_id: str) -> User:
        found = await self._users.get(owner_id)
        if found is None or not found.is_active or found.tenant_id is None:
            raise UnknownOwner()
        return found

    async def department(self, department_id: str | None) -> None:
        """Checks the department exists and is within the caller's scope."""
        check_department_scope(department_id)
        if department_id is not None and await self._departments.get(department_id) is None:
            raise UnknownDepartment()

    async def check(self, changes: Mapping[str, Any]) -> None:
        """Checks each reference `changes` sets (contact, owner, department)."""
        if changes.get("contact_id") is not None:
            await self.contact(changes["contact_id"])
        if changes.get("owner_id") is not None:
            await self.owner(changes["owner_id"])
        if "department_id" in changes:
            await self.department(changes["department_id"])
