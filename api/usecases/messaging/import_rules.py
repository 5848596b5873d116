"""The rules of a contact import: the column mapping, and what each row becomes.

Mapping `{column header: field}`; a field is `name`, `phone`, `email`, `language`, `tags`
(split on `,` and `;`), `attribute:<key>` (a custom attribute) or `ignore`. Columns the
mapping leaves out are ignored. Exactly one column is the phone; `name`, `email`,
`language` and each attribute key come from one column at most; several columns may
hold tags. Every mapped column must be in the header, once.

A row is, in this order:
- skipped when every cell is empty ("blank row");
- failed, naming the first column at fault, when the phone is missing or not a valid
  number (national numbers are read in the company profile's `default_country`, bare
  international digits such as Excel leaves are tried with a `+`), the email or the
  language is not valid, the name is longer than 200 characters, a tag longer than 50,
  an attribute value longer than 500, or the contact would have more than 50 tags or
  attributes;
- else it creates the contact with that number, or updates it: cells that are empty
  change nothing, the name, email and language are replaced, attributes merge, tags are
  added. A number seen again later in the file updates what the earlier row made. The
  consent is never changed (an opted-out contact stays opted out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from api.common.locales import e164
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.messaging.imports import (
    ContactUpsert,
    InvalidImportMapping,
    KnownContact,
    RowOutcome,
    RowResult,
)
from api.usecases.messaging.contact_rules import (
    ATTRIBUTE_KEY,
    LANGUAGE,
    MAX_ATTRIBUTE_TEXT,
    MAX_ATTRIBUTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
)

SINGLE_FIELDS = ("name", "phone", "email", "language")
FIELDS = (*SINGLE_FIELDS, "tags", "ignore")
ATTRIBUTE_PREFIX = "attribute:"
MAX_NAME = 200
MAX_VALUE_SHOWN = 200  # of a cell, in a row's result
MAX_MAPPED_COLUMNS = 100
UNKNOWN_FIELD = (
    "unknown field {target!r}: one of name, phone, email, language, tags, attribute:<key>, ignore"
)
BAD_KEY = "an attribute key is a letter or _ then up to 63 letters, digits or _"
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
_MAPPING_LOC = ("body", "mapping")
BLANK_ROW = "blank row"
PHONE_MISSING = "phone number is missing"
PHONE_INVALID = "not a valid phone number"
EMAIL_INVALID = "not a valid email address"
LANGUAGE_INVALID = "not a valid language tag (such as en, pt_BR)"
NAME_TOO_LONG = f"name longer than {MAX_NAME} characters"
TAG_TOO_LONG = f"a tag longer than {MAX_TAG_LENGTH} characters"
TOO_MANY_TAGS = f"more than {MAX_TAGS} tags"
VALUE_TOO_LONG = f"value longer than {MAX_ATTRIBUTE_TEXT} characters"
TOO_MANY_ATTRIBUTES = f"more than {MAX_ATTRIBUTES} attributes"


@dataclass(frozen=True)
class Column:
    index: int  # in the header
    header: str
    field: str  # one of FIELDS but `ignore`, or "attribute"
    key: str | None = None  # the attribute's


def parse_mapping(raw: str | None) -> dict[str, str]:
    """The `mapping` form field: a JSON object of strings."""
    try:
        mapping = json.loads(raw) if raw is not None else None
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise InvalidImportMapping(
            "`mapping` must be a JSON object {column header: field}.",
            [FieldProblem(_MAPPING_LOC, "a JSON object of column headers to field names")],
        )
    if len(mapping) > MAX_MAPPED_COLUMNS:
        raise InvalidImportMapping(
            f"At most {MAX_MAPPED_COLUMNS} columns can be mapped.",
            [FieldProblem(_MAPPING_LOC, f"at most {MAX_MAPPED_COLUMNS} columns")],
        )
    return {k.strip(): v.strip() for k, v in mapping.items()}


def parse_flag(raw: str | None, name: str) -> bool:
    """A boolean form field (`true`/`false`, `1`/`0`, `yes`/`no`; absent: false)."""
    value = (raw or "false").strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise InvalidInput(
        f"`{name}` must be true or false.", [FieldProblem(("body", name), "true or false")]
    )


def compile_mapping(mapping: dict[str, str], header: list[str]) -> list[Column]:
    """The mapped columns, or `InvalidImportMapping` naming every problem."""
    problems: list[FieldProblem] = []
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        positions.setdefault(name, []).append(index)
    columns: list[Column] = []
    taken: set[str] = set()
    for header_name, target in mapping.items():
        loc = (*_MAPPING_LOC, header_name)
        found = positions.get(header_name, [])
        kind, key = _field_of(target)
        if kind is None:
            problems.append(FieldProblem(loc, UNKNOWN_FIELD.format(target=target)))
        elif kind == "attribute" and (key is None or not ATTRIBUTE_KEY.match(key)):
            problems.append(FieldProblem(loc, BAD_KEY))
        if not found:
            problems.append(FieldProblem(loc, "no such column in the file's header"))
        elif len(found) > 1:
            problems.append(FieldProblem(loc, "the header has this column more than once"))
        if kind is None or kind == "ignore" or len(found) != 1:
            continue
        unique = kind if kind != "attribute" else f"attribute:{key}"
        if kind != "tags" and unique in taken:
            problems.append(FieldProblem(loc, f"{unique} is mapped from more than one column"))
            continue
        taken.add(unique)
        columns.append(Column(index=found[0], header=header_name, field=kind, key=key))
    if "phone" not in taken and not any(_field_of(t)[0] == "phone" for t in mapping.values()):
        problems.append(FieldProblem(_MAPPING_LOC, "one column must map to phone"))
    if problems:
        raise InvalidImportMapping("The column mapping does not fit the file.", problems)
    return columns


def _field_of(target: str) -> tuple[str | None, str | None]:
    if target in FIELDS:
        return target, None
    if target.startswith(ATTRIBUTE_PREFIX):
        return "attribute", target[len(ATTRIBUTE_PREFIX) :]
    return None, None


@dataclass
class ParsedRow:
    """A row that reads as a contact change (its limits are checked with the chunk)."""

    row: int
    phone: str
    phone_cell: tuple[str, str]  # column, value
    change: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    tags_cell: tuple[str, str] | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    attributes_cell: tuple[str, str] | None = None


class _RowFailed(Exception):
    def __init__(self, column: str, value: str, reason: str) -> None:
        self.column, self.value, self.reason = column, value, reason


def _shown(value: str) -> str:
    return value if len(value) <= MAX_VALUE_SHOWN else value[: MAX_VALUE_SHOWN - 1] + "…"


def phone_of(raw: str, country: str | None) -> str | None:
    """The number in E.164; bare digits that are not a national number are tried as
    international (a spreadsheet drops the `+` of a number typed as a number)."""
    number = e164(raw, country)
    digits = raw.strip()
    if number is None and digits.isdigit() and len(digits) >= 8:
        number = e164("+" + digits)
    return number


class RowReader:
    """Reads one row into a contact change, or into its failed or skipped result."""

    def __init__(self, columns: list[Column], country: str | None) -> None:
        self._columns = columns
        self._country = country
        self._phone = next(c for c in columns if c.field == "phone")

    def phone(self, cells: list[str]) -> str | None:
        """The row's valid number, if any (what a dry run remembers of rows it passed)."""
        raw = cells[self._phone.index]
        return phone_of(raw, self._country) if raw else None

    def read(self, row: int, cells: list[str]) -> ParsedRow | RowResult:
        if not any(cells):
            return RowResult(row=row, outcome=RowOutcome.SKIPPED, reason=BLANK_ROW)
        try:
            return self._parse(row, cells)
        except _RowFailed as failed:
            return RowResult(row=row, outcome=RowOutcome.FAILED, column=failed.column,
                             value=_shown(failed.value), reason=failed.reason)  # fmt: skip

    def _parse(self, row: int, cells: list[str]) -> ParsedRow:
        raw_phone = cells[self._phone.index]
        if not raw_phone:
            raise _RowFailed(self._phone.header, "", PHONE_MISSING)
        phone = phone_of(raw_phone, self._country)
        if phone is None:
            raise _RowFailed(self._phone.header, raw_phone, PHONE_INVALID)
        parsed = ParsedRow(row=row, phone=phone, phone_cell=(self._phone.header, raw_phone))
        for column in self._columns:
            value = cells[column.index]
            if value and column.field != "phone":
                self._take(parsed, column, value)
        return parsed

    def _take(self, parsed: ParsedRow, column: Column, value: str) -> None:
        if column.field == "email":
            try:
                parsed.change["email"] = _EMAIL.validate_python(value)
            except ValidationError:
                raise _RowFailed(column.header, value, EMAIL_INVALID) from None
            if len(value) > 254:
                raise _RowFailed(column.header, value, EMAIL_INVALID)
        elif column.field == "language":
            if len(value) > 20 or not LANGUAGE.match(value):
                raise _RowFailed(column.header, value, LANGUAGE_INVALID)
            parsed.change["language"] = value
        elif column.field == "name":
            if len(value) > MAX_NAME:
                raise _RowFailed(column.header, value, NAME_TOO_LONG)
            parsed.change["name"] = value
        elif column.field == "tags":
            self._tags(parsed, column, value)
        elif column.field == "attribute" and column.key is not None:
            if len(value) > MAX_ATTRIBUTE_TEXT:
                raise _RowFailed(column.header, value, VALUE_TOO_LONG)
            parsed.attributes[column.key] = value
            parsed.attributes_cell = (column.header, value)

    def _tags(self, parsed: ParsedRow, column: Column, value: str) -> None:
        for piece in value.replace(";", ",").split(","):
            tag = " ".join(piece.split()).lower()
            if not tag:
                continue
            if len(tag) > MAX_TAG_LENGTH or not tag.isprintable():
                raise _RowFailed(column.header, value, TAG_TOO_LONG)
            if tag not in parsed.tags:
                parsed.tags.append(tag)
        parsed.tags_cell = (column.header, value)


@dataclass
class _Seen:
    """A number's state as the chunk goes: its tags and attribute keys so far."""

    tags: set[str]
    keys: set[str]


def plan_chunk(
    parsed: list[ParsedRow | RowResult],
    known: dict[str, KnownContact],
    seen_before: set[str] | None = None,
) -> tuple[list[RowResult], list[ContactUpsert]]:
    """The chunk's results and contact changes, in row order. A number is `updated` when
    a live contact has it (`known`), an earlier row of the chunk had it, or (dry runs,
    which write nothing) an earlier chunk did (`seen_before`)."""
    results: list[RowResult] = []
    changes: list[ContactUpsert] = []
    state: dict[str, _Seen] = {}
    for item in parsed:
        if isinstance(item, RowResult):
            results.append(item)
            continue
        current = state.get(item.phone)
        exists = (
            current is not None
            or item.phone in known
            or (seen_before is not None and item.phone in seen_before)
        )
        if current is None:
            found = known.get(item.phone)
            current = _Seen(set(found.tags) if found else set(),
                            set(found.attribute_keys) if found else set())  # fmt: skip
        failure = _limits(item, current)
        if failure is not None:
            results.append(failure)
            continue
        current.tags.update(item.tags)
        current.keys.update(item.attributes)
        state[item.phone] = current
        outcome = RowOutcome.UPDATED if exists else RowOutcome.CREATED
        results.append(RowResult(row=item.row, outcome=outcome))
        changes.append(ContactUpsert(phone=item.phone, attributes=item.attributes,
                                     tags=item.tags, new=not exists, **item.change))  # fmt: skip
    return results, changes


def _limits(item: ParsedRow, current: _Seen) -> RowResult | None:
    if item.tags_cell and len(current.tags | set(item.tags)) > MAX_TAGS:
        column, value = item.tags_cell
        return RowResult(row=item.row, outcome=RowOutcome.FAILED, column=column,
                         value=_shown(value), reason=TOO_MANY_TAGS)  # fmt: skip
    if item.attributes_cell and len(current.keys | set(item.attributes)) > MAX_ATTRIBUTES:
        column, value = item.attributes_cell
        return RowResult(row=item.row, outcome=RowOutcome.FAILED, column=column,
                         value=_shown(value), reason=TOO_MANY_ATTRIBUTES)  # fmt: skip
    return None
