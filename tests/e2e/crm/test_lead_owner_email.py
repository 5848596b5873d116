"""The owner of a lead hears by email (through the session's real worker and SMTP test
server) when someone else gives them the lead, on create and on an owner change; not
when they take it themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.infrastructure.persistence.email.outbound import OutboundEmailDocument
from tests.support.app import AppClient
from tests.support.leads import change, new_contact, new_lead
from tests.support.people import signed_in, two_tenants
from tests.support.smtp import SmtpCapture

pytestmark = pytest.mark.usefixtures("worker")


async def lead_emails_to(address: str) -> int:
    return await OutboundEmailDocument.find({"to": address, "template": "lead_assigned"}).count()


async def test_the_owner_is_emailed_when_given_a_lead(
    worker: Path, smtp: SmtpCapture, client: AppClient
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    sam, sam_headers = await signed_in(client, acme, owner, "sam@example.com", roles=["agent"],
                                       full_name="Sam Seller")  # fmt: skip
    kim, _ = await signed_in(client, acme, owner, "kim@example.com", roles=["agent"],
                             full_name="Kim Keen")  # fmt: skip
    contact = await new_contact(client, owner)

    lead = await new_lead(client, owner, contact_id=contact, title="Fleet <deal>",
                          value="1500", currency="JPY", owner_id=sam["id"])  # fmt: skip
    [mail] = await smtp.wait_for("sam@example.com")
    assert mail.message["Subject"] == "Lead assigned to you: Fleet <deal>"
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hi Sam Seller" in text and 'assigned the lead "Fleet <deal>"' in text
    assert "Value: 1500 JPY" in text and f"/api/v1/leads/{lead['id']}" in text
    html = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Fleet &lt;deal&gt;" in html and "<deal>" not in html

    mine = await new_lead(client, sam_headers, contact_id=contact, title="Mine",
                          owner_id=sam["id"])  # fmt: skip
    await change(client, owner, mine["id"], title="Still mine")  # not an owner change
    await change(client, owner, lead["id"], owner_id=kim["id"])
    [to_kim] = await smtp.wait_for("kim@example.com")
    assert to_kim.message["Subject"] == "Lead assigned to you: Fleet <deal>"
    await change(client, owner, lead["id"], owner_id=None)  # nobody to tell
    assert await lead_emails_to("sam@example.com") == 1  # not for taking one themselves
    assert await lead_emails_to("kim@example.com") == 1
    assert len(smtp.to("sam@example.com")) == 1
