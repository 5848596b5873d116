"""The Jinja email renderer on its packaged templates (no server needed)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from api.domain.email.messages import Branding, ContextValue, EmailTemplate
from api.domain.errors import PermanentFailure
from api.infrastructure.email.renderer import REQUIRED_CONTEXT, JinjaEmailRenderer

LINK = "https://app.example.com/act?token=abc123&next=%2Fhome"

CONTEXTS: dict[EmailTemplate, dict[str, ContextValue]] = {
    EmailTemplate.WELCOME: {"user_name": "Ada", "login_url": LINK},
    EmailTemplate.VERIFY_EMAIL: {"user_name": "Ada", "verify_url": LINK, "expires_minutes": 30},
    EmailTemplate.PASSWORD_RESET: {"user_name": "Ada", "reset_url": LINK, "expires_minutes": 15},
    EmailTemplate.INVITATION: {
        "inviter_name": "Grace",
        "user_name": "Ada",
        "accept_url": LINK,
        "expires_hours": 72,
    },
    EmailTemplate.CAMPAIGN_RESULTS: {
        "campaign_name": "Spring sale",
        "sent": 1200,
        "delivered": 1150,
        "read": 640,
        "failed": 50,
        "report_url": LINK,
    },
    EmailTemplate.CALLBACK_REQUESTED: {
        "requester_name": "Jane Doe",
        "phone": "+4915112345678",
        "preferred_time": "weekdays after 5pm",
        "message": "About my order",
        "department_name": "Sales",
        "request_url": LINK,
    },
    EmailTemplate.MEETING_REMINDER: {
        "meeting_title": "Quarterly review",
        "starts_at_local": "Monday 04 May 2026, 12:00 (Europe/Berlin)",
        "location": "Room 4",
        "with_name": "Ann Customer",
        "minutes_before": 60,
        "recipient_name": "Ada",
    },
    EmailTemplate.LEAD_ASSIGNED: {
        "owner_name": "Sam",
        "assigned_by": "Grace",
        "lead_title": "Fleet deal",
        "stage": "new",
        "value": "1234.50 EUR",
        "lead_url": LINK,
    },
    EmailTemplate.TICKET_SLA_BREACHED: {
        "ticket_number": 42,
        "subject": "Printer on fire",
        "priority": "urgent",
        "timer": "first response",
        "due_at": "2026-05-04T10:00:00+00:00",
        "ticket_url": LINK,
    },
    EmailTemplate.SIGN_IN_CODE: {"user_name": "Ada", "code": "042917", "expires_minutes": 5},
    EmailTemplate.TENANT_APPROVED: {"user_name": "Ada", "login_url": LINK},
    EmailTemplate.TENANT_REJECTED: {"user_name": "Ada", "reason": "Not a business"},
    EmailTemplate.SECURITY_NOTICE: {
        "user_name": "Ada",
        "change": "Your password was changed.",
        "detail": "",
        "changed_at": "2026-12-07 21:00 UTC",
        "if_not_you": "tell your administrator.",
        "login_url": LINK,
    },
    EmailTemplate.SIGNUP_AWAITING_REVIEW: {
        "user_name": "Ada",
        "company": "Acme <Widgets>",
        "subdomain": "acme",
        "owner_name": "Bea Boss",
        "owner_email": "bea@acme.example.com",
        "login_url": LINK,
    },
    EmailTemplate.PLAN_LIMIT_WARNING: {
        "limit_name": "seats",
        "used": 8,
        "limit": 10,
        "percent": 80,
        "period": "now",
        "usage_url": LINK,
    },
}
LINK_FIELD = {
    EmailTemplate.WELCOME: "login_url",
    EmailTemplate.VERIFY_EMAIL: "verify_url",
    EmailTemplate.PASSWORD_RESET: "reset_url",
    EmailTemplate.INVITATION: "accept_url",
    EmailTemplate.CAMPAIGN_RESULTS: "report_url",
    EmailTemplate.CALLBACK_REQUESTED: "request_url",
    EmailTemplate.LEAD_ASSIGNED: "lead_url",
    EmailTemplate.TICKET_SLA_BREACHED: "ticket_url",
    EmailTemplate.TENANT_APPROVED: "login_url",
    EmailTemplate.PLAN_LIMIT_WARNING: "usage_url",
    EmailTemplate.SIGNUP_AWAITING_REVIEW: "login_url",
}
BRANDING = Branding(
    tenant_name="Acme Widgets",
    primary_color="#ff5500",
    logo_url="https://cdn.example.com/acme.png",
    support_email="help@example.com",
    footer="Acme Widgets Ltd, 1 Main Street",
)


@pytest.fixture(scope="module")
def renderer() -> JinjaEmailRenderer:
    return JinjaEmailRenderer()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def test_every_template_has_a_context_in_this_test() -> None:
    assert set(CONTEXTS) == set(EmailTemplate) == set(REQUIRED_CONTEXT)


@pytest.mark.parametrize("template", list(EmailTemplate))
def test_every_template_renders_subject_html_and_text(
    renderer: JinjaEmailRenderer, template: EmailTemplate
) -> None:
    email = renderer.render(template, CONTEXTS[template], BRANDING)

    assert email.subject
    assert email.subject.splitlines() == [email.subject]
    assert email.subject == email.subject.strip()
    # The link is in the text part as is, and in the HTML as a real href (parsed back).
    if template in LINK_FIELD:  # a meeting reminder goes to customers too: no link
        assert LINK in email.text
        links = _Links()
        links.feed(email.html)
        assert LINK in links.hrefs
    # Every context value shows up somewhere in the text.
    for value in CONTEXTS[template].values():
        assert str(value) in email.text
    # Branding: the tenant's colour, name, logo and footer dress the HTML.
    assert "#ff5500" in email.html
    assert "Acme Widgets" in email.html and "Acme Widgets" in email.text
    assert 'src="https://cdn.example.com/acme.png"' in email.html
    assert "Acme Widgets Ltd, 1 Main Street" in email.text
    assert "mailto:help@example.com" in email.html
    assert email.html.lstrip().startswith("<!DOCTYPE html>")


def test_subjects_name_what_the_mail_is_about(renderer: JinjaEmailRenderer) -> None:
    subjects = {t: renderer.render(t, CONTEXTS[t], BRANDING).subject for t in EmailTemplate}
    assert subjects[EmailTemplate.WELCOME] == "Welcome to Acme Widgets"
    assert subjects[EmailTemplate.INVITATION] == "Grace invited you to Acme Widgets"
    assert subjects[EmailTemplate.CAMPAIGN_RESULTS] == "Campaign results: Spring sale"
    assert subjects[EmailTemplate.CALLBACK_REQUESTED] == "Callback requested: Jane Doe"
    assert subjects[EmailTemplate.LEAD_ASSIGNED] == "Lead assigned to you: Fleet deal"
    assert subjects[EmailTemplate.PLAN_LIMIT_WARNING] == "80% of your plan's seats used"
    assert len(set(subjects.values())) == len(subjects)


def test_user_values_are_escaped_in_html_but_kept_in_text(renderer: JinjaEmailRenderer) -> None:
    context = {**CONTEXTS[EmailTemplate.WELCOME], "user_name": "<script>alert('x')</script>"}
    email = renderer.render(EmailTemplate.WELCOME, context, BRANDING)

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in email.html
    assert "<script>alert('x')</script>" in email.text


def test_branding_is_escaped_and_unsafe_values_are_replaced(renderer: JinjaEmailRenderer) -> None:
    branding = Branding(
        tenant_name='Evil "Corp" <b>',
        primary_color="red;background:url(https://evil.example.com)",
        logo_url="javascript:alert(1)",
    )
    email = renderer.render(EmailTemplate.WELCOME, CONTEXTS[EmailTemplate.WELCOME], branding)

    assert "Evil &#34;Corp&#34; &lt;b&gt;" in email.html
    assert "evil.example.com" not in email.html
    assert "javascript:" not in email.html
    assert "#2563eb" in email.html  # the default colour stands in
    assert "<img" not in email.html  # no logo: the tenant name is shown instead


def test_without_a_logo_the_tenant_name_is_the_header(renderer: JinjaEmailRenderer) -> None:
    email = renderer.render(
        EmailTemplate.WELCOME, CONTEXTS[EmailTemplate.WELCOME], Branding(tenant_name="Plain Co")
    )
    assert "<img" not in email.html
    assert "Plain Co" in email.html
    assert "#2563eb" in email.html


@pytest.mark.parametrize("template", list(EmailTemplate))
def test_a_missing_variable_is_a_permanent_failure_naming_it(
    renderer: JinjaEmailRenderer, template: EmailTemplate
) -> None:
    context = dict(CONTEXTS[template])
    removed = REQUIRED_CONTEXT[template][-1]
    del context[removed]

    with pytest.raises(PermanentFailure) as caught:
        renderer.render(template, context, BRANDING)

    assert removed in str(caught.value)
    assert LINK not in str(caught.value)  # names, never values


def test_an_undeclared_variable_used_by_a_template_is_also_refused(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "welcome.subject.txt").write_text("Hi {{ user_name }}")
    (folder / "welcome.html").write_text("<p>{{ user_name }} {{ nickname }}</p>")
    (folder / "welcome.txt").write_text("{{ user_name }}")
    renderer = JinjaEmailRenderer(folder)

    with pytest.raises(PermanentFailure, match="nickname"):
        renderer.render(EmailTemplate.WELCOME, CONTEXTS[EmailTemplate.WELCOME], BRANDING)


def test_invitation_greets_without_a_user_name(renderer: JinjaEmailRenderer) -> None:
    context = {k: v for k, v in CONTEXTS[EmailTemplate.INVITATION].items() if k != "user_name"}
    email = renderer.render(EmailTemplate.INVITATION, context, BRANDING)
    assert "Hello," in email.text
    assert "Ada" not in email.text


def test_a_security_notice_says_what_to_do_if_it_was_not_them(
    renderer: JinjaEmailRenderer,
) -> None:
    context = dict(CONTEXTS[EmailTemplate.SECURITY_NOTICE])
    told = renderer.render(EmailTemplate.SECURITY_NOTICE, context, BRANDING)
    assert "If it was not, tell your administrator." in told.text
    assert "If it was not, tell your administrator." in told.html
    # A notice queued before the advice was part of its context: a tenant user's.
    del context["if_not_you"]
    before = renderer.render(EmailTemplate.SECURITY_NOTICE, context, BRANDING)
    assert 'If it was not, reset your password now ("Forgot password"' in before.text
    assert 'If it was not, reset your password now ("Forgot password"' in before.html


@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\u2028"])
def test_a_line_break_in_a_subject_value_is_refused(
    renderer: JinjaEmailRenderer, breaker: str
) -> None:
    context = {**CONTEXTS[EmailTemplate.CAMPAIGN_RESULTS]}
    context["campaign_name"] = f"Spring{breaker}Bcc: victim@example.com"

    with pytest.raises(PermanentFailure, match="subject"):
        renderer.render(EmailTemplate.CAMPAIGN_RESULTS, context, BRANDING)


def test_a_line_break_in_a_body_only_value_is_fine(renderer: JinjaEmailRenderer) -> None:
    context = {**CONTEXTS[EmailTemplate.WELCOME], "user_name": "Ada\nLovelace"}
    email = renderer.render(EmailTemplate.WELCOME, context, BRANDING)
    assert email.subject == "Welcome to Acme Widgets"
