"""The company profile in use: its logo is an image stored in the tenant's files, and the
emails sent for the tenant (an invitation, a password reset, through the session's real
worker and SMTP test server) carry its display name, brand colour and email footer."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.app import AppClient, assert_problem
from tests.support.files import png_bytes, uploaded
from tests.support.people import USERS, two_tenants
from tests.support.smtp import SmtpCapture

PROFILE = "/api/v1/tenant/profile"
BRANDED = {
    "display_name": "Acmé Jewellers", "brand_color": "#AA0011", "timezone": "Europe/Rome",
    "default_country": "IT", "locale": "it", "email_footer": "Acme Jewellers S.r.l., Roma",
}  # fmt: skip


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return text, html


async def test_the_logo_is_an_image_stored_in_the_tenants_files(client: AppClient) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    image = png_bytes(64)
    logo = await uploaded(client, owner, image, "logo.png")
    text = await client.post(
        "/api/v1/upload", files={"file": ("terms.txt", b"plain words", "text/plain")},
        headers=owner,
    )  # fmt: skip
    assert text.status_code == 201, text.text
    betas = await uploaded(client, beta_owner, png_bytes(64), "beta.png")

    for wrong, says in (
        ("0" * 24, "no such file"), ("not-an-id", "no such file"),
        (betas["id"], "no such file"), (text.json()["id"], "not an image"),
    ):  # fmt: skip
        answer = await client.put(PROFILE, json={"logo_file_id": wrong}, headers=owner)
        problem = assert_problem(answer, 422, "invalid_input")
        [error] = problem["errors"]
        assert error["loc"] == ["body", "logo_file_id"] and says in error["msg"], error
    assert (await client.get(PROFILE, headers=owner)).json()["logo_file_id"] is None

    logo_url = f"/api/v1/tenant-logos/{acme.tenant.id}"
    assert_problem(await client.get(logo_url), 404, "not_found")  # none yet
    saved = await client.put(PROFILE, json={"logo_file_id": logo["id"]}, headers=owner)
    assert saved.status_code == 200, saved.text
    assert saved.json()["logo_file_id"] == logo["id"]

    # Public (emails show it): no token, no tenant header; only the logo, only its tenant's.
    shown = await client.get(logo_url)
    assert shown.status_code == 200, shown.text
    assert shown.content == image and shown.headers["content-type"] == "image/png"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert_problem(await client.get(f"/api/v1/tenant-logos/{beta.tenant.id}"), 404, "not_found")
    assert_problem(await client.get(f"/api/v1/tenant-logos/{'0' * 24}"), 404, "tenant_not_found")


@pytest.mark.usefixtures("worker")
async def test_emails_carry_the_company_profile(
    worker: Path, smtp: SmtpCapture, client: AppClient
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    logo = await uploaded(client, owner, png_bytes(64), "logo.png")
    saved = await client.put(PROFILE, json={**BRANDED, "logo_file_id": logo["id"]}, headers=owner)
    assert saved.status_code == 200, saved.text

    # An invitation (a user created without a password).
    invited = await client.post(
        USERS, json={"email": "ivy@example.com", "full_name": "Ivy Invited"}, headers=owner
    )
    assert invited.status_code == 201, invited.text
    [invitation] = await smtp.wait_for("ivy@example.com", timeout=90)
    message = invitation.message
    sender = message["From"].addresses[0]
    assert isinstance(sender, Address)
    assert sender.display_name == "Acmé Jewellers"
    assert "Acmé Jewellers" in message["Subject"] and message["Subject"] != "Acme"
    text, html = bodies(message)
    assert "Acmé Jewellers" in text and "Acme Jewellers S.r.l., Roma" in text
    assert "Acme Jewellers S.r.l., Roma" in html and "#AA0011" in html
    assert "#2563eb" not in html  # the default colour is gone
    assert f'src="http://127.0.0.1:8000/api/v1/tenant-logos/{acme.tenant.id}"' in html

    # A password reset of the owner.
    asked = await client.post(
        "/api/v1/auth/forgot-password", json={"email": acme.owner.email},
        headers={"X-Tenant-ID": acme.tenant.id or ""},
    )  # fmt: skip
    assert asked.status_code in (202, 204), asked.text
    [reset] = await smtp.wait_for(acme.owner.email, timeout=90)
    assert reset.message["Subject"] == "Reset your Acmé Jewellers password"
    text, html = bodies(reset.message)
    assert "Acme Jewellers S.r.l., Roma" in text and "#AA0011" in html

    # Another tenant's mail keeps its own (default) look.
    other = await client.post(
        USERS, json={"email": "bo@example.com", "full_name": "Bo"}, headers=beta_owner
    )
    assert other.status_code == 201
    [plain] = await smtp.wait_for("bo@example.com", timeout=90)
    assert "Acm" not in plain.message["Subject"] and beta.tenant.name in plain.message["Subject"]
    text, html = bodies(plain.message)
    assert "Acme Jewellers" not in text + html and "#2563eb" in html
    assert "tenant-logos" not in html
