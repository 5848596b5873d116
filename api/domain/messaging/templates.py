"""Message templates: the provider-approved messages a business may send outside the
customer service window, stored per channel and kept current by sync and webhooks.

A template is unique per (channel, name, language). Its `variables` are computed from its
components: the `{{1}}`, `{{2}}`... (positional) or `{{first_name}}` (named) placeholders of
the header text, the body text and the URL buttons, each with its example from the
provider's `example` field. `template_problems` holds the provider's rules for a new
template (checked before anything is submitted).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, computed_field

NAME_PATTERN = r"^[a-z0-9_]{1,512}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$"
DELETED = "DELETED"  # the provider no longer has it (kept so that history resolves)
PENDING = "PENDING"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
# Webhook events that name a state under another word.
STATUS_ALIASES = {"REINSTATED": APPROVED}

MAX_BODY = 1024
MAX_HEADER = 60
MAX_FOOTER = 60
MAX_BUTTONS = 10
MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAMED = re.compile(r"^[a-z_][a-z0-9_]*$")
_POSITIONAL = re.compile(r"^[1-9][0-9]*$")


class TemplateCategory(StrEnum):
    MARKETING = "MARKETING"
    UTILITY = "UTILITY"
    AUTHENTICATION = "AUTHENTICATION"


class ParameterFormat(StrEnum):
    POSITIONAL = "POSITIONAL"
    NAMED = "NAMED"


class TemplateVariable(BaseModel):
    """One value a sender fills: in which component (`header`, `body`, `button` with its
    `button_index`), which (`index`: 1-based position, or the name of a named parameter),
    of which `type` (`text`; a media header's `image`, `video` or `document`, filled with
    a link), and the provider's example value.

    `key` names it stably, for a campaign's variable mapping and `send_components`:
    `body.1`, `header.1`, `button.0.1` (button 0, its placeholder 1), `body.first_name`
    (named), `header.image` (a media header)."""

    model_config = ConfigDict(frozen=True)

    component: str
    index: int | str
    example: str | None = None
    button_index: int | None = None
    type: str = "text"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        if self.type != "text":
            return f"{self.component}.{self.type}"
        if self.component == "button":
            return f"button.{self.button_index}.{self.index}"
        return f"{self.component}.{self.index}"


class Template(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    channel_id: str
    waba_id: str  # the provider's business account (WhatsApp's WABA id)
    external_id: str | None = None  # the provider's template id
    name: str
    language: str
    category: str | None = None
    status: str
    parameter_format: ParameterFormat = ParameterFormat.POSITIONAL
    components: list[dict[str, Any]] = Field(default_factory=list)
    variables: list[TemplateVariable] = Field(default_factory=list)
    quality: str | None = None
    rejected_reason: str | None = None
    active: bool = True  # Parley's own switch: an inactive template is not sent
    created_at: datetime
    updated_at: datetime


class TemplatePage(BaseModel):
    items: list[Template]
    next_cursor: str | None


class TemplateFields(BaseModel):
    """What a sync (or a submission) says about one template."""

    model_config = ConfigDict(frozen=True)

    external_id: str | None
    name: str
    language: str
    category: str | None
    status: str
    parameter_format: ParameterFormat
    components: list[dict[str, Any]]
    variables: list[TemplateVariable]
    quality: str | None
    rejected_reason: str | None


class SyncOutcome(BaseModel):
    created: int = 0
    updated: int = 0
    deleted: int = 0


class TemplateRepository(Protocol):
    """Templates of the current tenant (scoped by the context; fail closed without one)."""

    async def add(self, template: Template) -> Template:
        """`Conflict` when the channel already has this name and language."""
        ...

    async def get(self, template_id: str) -> Template | None: ...

    async def find(self, channel_id: str, name: str, language: str) -> Template | None: ...

    async def search(
        self,
        *,
        channel_id: str | None,
        status: str | None,
        category: str | None,
        q: str | None,
        cursor: str | None,
        limit: int,
        active: bool | None = None,
    ) -> TemplatePage:
        """Newest first (`created_at`, then id), by cursor; `q` matches the name; `active`
        keeps only active (or only inactive) templates."""
        ...

    async def upsert_synced(
        self, channel_id: str, waba_id: str, templates: list[TemplateFields], at: datetime
    ) -> SyncOutcome:
        """Write what the provider listed (keyed by channel, name and language), and mark
        `DELETED` the channel's templates it no longer lists."""
        ...

    async def apply_update(
        self, waba_id: str, external_id: str, changes: dict[str, Any], at: datetime
    ) -> int:
        """Set `changes` (status, rejected_reason, quality, category) on the tenant's
        templates of this business account and provider id; how many matched."""
        ...

    async def delete(self, template_id: str) -> bool: ...

    async def set_active(self, template_id: str, active: bool) -> Template | None:
        """Switch the template on or off here (the provider is not told; `updated_at`,
        the provider's last change, stays); None when absent."""
        ...


def normalized_status(status: str | None) -> str:
    value = (status or "").strip().upper() or PENDING
    return STATUS_ALIASES.get(value, value)


def placeholders(text: str | None) -> list[str]:
    """The placeholders of a text, in order of first appearance, without repeats."""
    found: list[str] = []
    for match in _PLACEHOLDER.finditer(text or ""):
        if match.group(1) not in found:
            found.append(match.group(1))
    return found


def parameter_format(components: list[dict[str, Any]]) -> ParameterFormat:
    named = any(
        not _POSITIONAL.match(p) for text, _ in _texts(components) for p in placeholders(text)
    )
    return ParameterFormat.NAMED if named else ParameterFormat.POSITIONAL


def template_variables(components: list[dict[str, Any]]) -> list[TemplateVariable]:
    """The placeholders of the header, body and URL buttons with their examples, and a
    media header (the link a sender gives)."""
    found: list[TemplateVariable] = []
    for component in components:
        kind = _kind(component)
        media = str(component.get("format", "TEXT")).upper() if kind == "HEADER" else ""
        if media in MEDIA_HEADERS:
            given = component.get("example")
            handles = given.get("header_handle") if isinstance(given, dict) else None
            example = handles[0] if isinstance(handles, list) and handles else None
            found.append(TemplateVariable(
                component="header", index=1, type=media.lower(),
                example=None if example is None else str(example),
            ))  # fmt: skip
        elif kind in ("HEADER", "BODY"):
            lower = kind.lower()
            examples = _examples(component.get("example"), lower)
            for name in placeholders(component.get("text")):
                index: int | str = int(name) if _POSITIONAL.match(name) else name
                found.append(TemplateVariable(component=lower, index=index, example=examples(name)))
        elif kind == "BUTTONS":
            for number, button in enumerate(_buttons(component)):
                example = button.get("example")
                values = example if isinstance(example, list) else [example]
                for position, name in enumerate(placeholders(button.get("url")), start=1):
                    value = values[position - 1] if len(values) >= position else None
                    found.append(
                        TemplateVariable(
                            component="button",
                            index=int(name) if _POSITIONAL.match(name) else name,
                            example=None if value is None else str(value),
                            button_index=number,
                        )
                    )
    return found


def template_problems(
    name: str, language: str, category: str, components: list[dict[str, Any]]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the provider would refuse in a new template: `(location, message)` pairs.

    Rules (Meta's): name of lowercase letters, digits and underscores; a language code
    (`en`, `en_US`); category MARKETING, UTILITY or AUTHENTICATION; components of types
    HEADER, BODY, FOOTER, BUTTONS, each at most once; one BODY with text (an
    AUTHENTICATION body may carry none: the provider writes it); header and footer text
    at most 60 characters, body 1,024; placeholders either all positional, numbered
    1, 2, ... in order, or all named (lowercase letters, digits, underscores); each
    placeholder of the header, body and URL buttons has an example.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if not re.match(NAME_PATTERN, name):
        problems.append((("name",), "use lowercase letters, digits and underscores only"))
    if not re.match(LANGUAGE_PATTERN, language):
        problems.append((("language",), "not a language code such as en or en_US"))
    if category not in TemplateCategory.__members__:
        problems.append((("category",), "must be MARKETING, UTILITY or AUTHENTICATION"))
    seen: set[str] = set()
    for at, component in enumerate(components):
        where: tuple[str | int, ...] = ("components", at)
        kind = _kind(component)
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            problems.append(((*where, "type"), "must be HEADER, BODY, FOOTER or BUTTONS"))
            continue
        if kind in seen:
            problems.append(((*where, "type"), f"only one {kind} component is allowed"))
        seen.add(kind)
        problems.extend(_component_problems(where, kind, component, category))
    if "BODY" not in seen:
        problems.append((("components",), "a BODY component is required"))
    names = [p for text, _ in _texts(components) for p in placeholders(text)]
    if any(_POSITIONAL.match(p) for p in names) and any(not _POSITIONAL.match(p) for p in names):
        problems.append((("components",), "placeholders are all positional or all named"))
    return problems


def _component_problems(
    where: tuple[str | int, ...], kind: str, component: dict[str, Any], category: str
) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    text = component.get("text")
    if text is not None and not isinstance(text, str):
        return [((*where, "text"), "must be a string")]
    limits = {"HEADER": MAX_HEADER, "BODY": MAX_BODY, "FOOTER": MAX_FOOTER}
    if kind == "BODY" and not text and category != TemplateCategory.AUTHENTICATION:
        problems.append(((*where, "text"), "the body needs a text"))
    if kind == "HEADER" and str(component.get("format", "TEXT")).upper() == "TEXT" and not text:
        problems.append(((*where, "text"), "a TEXT header needs a text"))
    if text and kind in limits and len(text) > limits[kind]:
        problems.append(((*where, "text"), f"at most {limits[kind]} characters"))
    if kind == "FOOTER" and placeholders(text):
        problems.append(((*where, "text"), "a footer takes no placeholders"))
    if kind in ("HEADER", "BODY"):
        names = placeholders(text)
        problems.extend(_placeholder_problems((*where, "text"), names))
        examples = _examples(component.get("example"), kind.lower())
        if any(examples(n) is None for n in names):
            problems.append(((*where, "example"), "every placeholder needs an example value"))
    if kind == "BUTTONS":
        buttons = component.get("buttons")
        if not isinstance(buttons, list) or not buttons or len(buttons) > MAX_BUTTONS:
            problems.append(((*where, "buttons"), f"1 to {MAX_BUTTONS} buttons"))
        for number, button in enumerate(_buttons(component)):
            names = placeholders(button.get("url"))
            problems.extend(_placeholder_problems((*where, "buttons", number, "url"), names))
            example = button.get("example")
            values = example if isinstance(example, list) else [example]
            if names and len([v for v in values if v]) < len(names):
                problems.append(
                    ((*where, "buttons", number, "example"), "a URL variable needs an example")
                )
    return problems


def _placeholder_problems(
    where: tuple[str | int, ...], names: list[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    positional = [n for n in names if _POSITIONAL.match(n)]
    if any(not _POSITIONAL.match(n) and not _NAMED.match(n) for n in names):
        return [(where, "a placeholder is {{1}} or {{lowercase_name}}")]
    if positional and positional != [str(i) for i in range(1, len(positional) + 1)]:
        return [(where, "positional placeholders are numbered {{1}}, {{2}}... in order")]
    return []


def _kind(component: Any) -> str:
    return str(component.get("type", "")).upper() if isinstance(component, dict) else ""


def _buttons(component: dict[str, Any]) -> list[dict[str, Any]]:
    buttons = component.get("buttons")
    return [b for b in buttons if isinstance(b, dict)] if isinstance(buttons, list) else []


def _texts(components: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    texts: list[tuple[str | None, str]] = []
    for component in components:
        kind = _kind(component)
        if kind in ("HEADER", "BODY"):
            text = component.get("text")
            texts.append((text if isinstance(text, str) else None, kind))
        elif kind == "BUTTONS":
            texts.extend((b.get("url"), kind) for b in _buttons(component))
    return texts


def _examples(example: Any, component: str) -> Callable[[str], str | None]:
    """A lookup `(name, position) -> example or None` over Meta's `example` object:
    `{header_text: [..]}`, `{body_text: [[..]]}`, `{header_text_named_params: [{param_name,
    example}]}`, `{body_text_named_params: [...]}`."""
    example = example if isinstance(example, dict) else {}
    positional = example.get(f"{component}_text")
    if component == "body" and isinstance(positional, list) and positional:
        positional = positional[0] if isinstance(positional[0], list) else positional
    values = [str(v) for v in positional] if isinstance(positional, list) else []
    named_list = example.get(f"{component}_text_named_params")
    named = {
        str(p.get("param_name")): str(p.get("example"))
        for p in (named_list if isinstance(named_list, list) else [])
        if isinstance(p, dict) and p.get("example") not in (None, "")
    }

    def lookup(name: str) -> str | None:
        if name in named:
            return named[name]
        if _POSITIONAL.match(name):
            number = int(name)
            return values[number - 1] if len(values) >= number and values[number - 1] else None
        return None

    return lookup
