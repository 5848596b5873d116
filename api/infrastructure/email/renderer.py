"""`EmailRenderer` adapter: Jinja2 templates in `templates/`, dressed in a tenant's branding.

Each `EmailTemplate` has three files: `<name>.subject.txt` (one line), `<name>.html`
(extends `_layout.html`, autoescaped) and `<name>.txt` (extends `_layout.txt`, plain).
Every template also sees `branding` (`Branding`: `tenant_name`, `product_name`,
`primary_color`, `logo_url`, `support_email`, `footer`). The context each one needs:

==================  =============================================================
template            context
==================  =============================================================
welcome             user_name, login_url
verify_email        user_name, verify_url, expires_minutes
password_reset      user_name, reset_url, expires_minutes
invitation          inviter_name, accept_url, expires_hours; user_name (optional)
campaign_results    campaign_name, sent, delivered, read, failed, report_url
callback_requested  requester_name, phone, request_url; preferred_time, message,
                    department_name (each may be None)
meeting_reminder    meeting_title, starts_at_local, location, with_name, minutes_before,
                    recipient_name ("" greets with "Hello")
ticket_sla_breached ticket_number, subject, priority, timer, due_at, ticket_url
sign_in_code        user_name, code, expires_minutes (sent by the worker, never stored)
tenant_approved     user_name, login_url
tenant_rejected     user_name, reason (may be None)
plan_limit_warning  limit_name, used, limit, percent, period, usage_url
security_notice     user_name, change, detail, changed_at, login_url; if_not_you
                    (optional)
signup_awaiting_    user_name, company, subdomain, owner_name, owner_email, login_url
review              (to each active platform admin, as the platform's own mail)
==================  =============================================================

A missing variable is a `PermanentFailure` naming it (never its values): retrying cannot
supply it. Subjects must render to one line; a value carrying CR/LF into the subject is
refused (header injection).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    UndefinedError,
    select_autoescape,
)

from api.domain.email.messages import Branding, ContextValue, EmailTemplate, RenderedEmail
from api.domain.errors import PermanentFailure

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

REQUIRED_CONTEXT: dict[EmailTemplate, tuple[str, ...]] = {
    EmailTemplate.WELCOME: ("user_name", "login_url"),
    EmailTemplate.VERIFY_EMAIL: ("user_name", "verify_url", "expires_minutes"),
    EmailTemplate.PASSWORD_RESET: ("user_name", "reset_url", "expires_minutes"),
    EmailTemplate.INVITATION: ("inviter_name", "accept_url", "expires_hours"),
    EmailTemplate.CAMPAIGN_RESULTS: (
        "campaign_name",
        "sent",
        "delivered",
        "read",
        "failed",
        "report_url",
    ),
    EmailTemplate.CALLBACK_REQUESTED: (
        "requester_name",
        "phone",
        "preferred_time",
        "message",
        "department_name",
        "request_url",
    ),
    EmailTemplate.MEETING_REMINDER: (
        "meeting_title",
        "starts_at_local",
        "location",
        "with_name",
        "minutes_before",
        "recipient_name",
    ),
    EmailTemplate.LEAD_ASSIGNED: (
        "owner_name",
        "assigned_by",
        "lead_title",
        "stage",
        "value",
        "lead_url",
    ),
    EmailTemplate.TICKET_SLA_BREACHED: (
        "ticket_number",
        "subject",
        "priority",
        "timer",
        "due_at",
        "ticket_url",
    ),
    EmailTemplate.SIGN_IN_CODE: ("user_name", "code", "expires_minutes"),
    EmailTemplate.TENANT_APPROVED: ("user_name", "login_url"),
    EmailTemplate.TENANT_REJECTED: ("user_name", "reason"),
    # `if_not_you` (what to do if it was not them) is optional: notices queued before it
    # existed say what a tenant user does.
    EmailTemplate.SECURITY_NOTICE: ("user_name", "change", "detail", "changed_at", "login_url"),
    EmailTemplate.SIGNUP_AWAITING_REVIEW: (
        "user_name",
        "company",
        "subdomain",
        "owner_name",
        "owner_email",
        "login_url",
    ),
    EmailTemplate.PLAN_LIMIT_WARNING: (
        "limit_name",
        "used",
        "limit",
        "percent",
        "period",
        "usage_url",
    ),
}

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_DEFAULT_COLOR = Branding.model_fields["primary_color"].default


class JinjaEmailRenderer:
    """Renders subject, HTML and text from the packaged templates (environment built once)."""

    def __init__(self, templates_dir: Path | str = TEMPLATES_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(
        self, template: EmailTemplate, context: Mapping[str, ContextValue], branding: Branding
    ) -> RenderedEmail:
        missing = [name for name in REQUIRED_CONTEXT[template] if name not in context]
        if missing:
            raise PermanentFailure(
                f"Template '{template.value}' needs context variable(s): {', '.join(missing)}"
            )
        values: dict[str, Any] = {**context, "branding": _safe_branding(branding)}
        name = template.value
        subject = self._render(f"{name}.subject.txt", values).strip()
        if subject.splitlines() != [subject]:
            raise PermanentFailure(f"Template '{name}' rendered a subject that is not one line")
        return RenderedEmail(
            subject=subject,
            html=self._render(f"{name}.html", values),
            text=self._render(f"{name}.txt", values).strip() + "\n",
        )

    def _render(self, file_name: str, values: Mapping[str, Any]) -> str:
        try:
            return self._env.get_template(file_name).render(values)
        except UndefinedError as exc:
            # Jinja's message names the variable ("'x' is undefined"), never a value.
            raise PermanentFailure(f"Template '{file_name}': {exc.message}") from None
        except TemplateError as exc:
            raise PermanentFailure(
                f"Template '{file_name}' failed to render ({type(exc).__name__})"
            ) from None


def _safe_branding(branding: Branding) -> Branding:
    """Branding that is safe inside style and src attributes: a hex colour, an http(s) logo."""
    color = branding.primary_color if _COLOR.fullmatch(branding.primary_color) else None
    logo = branding.logo_url
    if logo is not None and not logo.lower().startswith(("https://", "http://")):
        logo = None
    return branding.model_copy(update={"primary_color": color or _DEFAULT_COLOR, "logo_url": logo})
