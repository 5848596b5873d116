"""Past 80% of a plan limit the tenant's owners hear by email (through the session's real
worker and SMTP test server) and a `limit_warning` is audited: once per limit and
period."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.app import AppClient
from tests.support.people import add_user, audit_entries
from tests.support.plans import acme_on_plan
from tests.support.smtp import SmtpCapture

pytestmark = pytest.mark.usefixtures("worker")


async def test_the_owner_is_warned_once_at_eighty_percent(
    worker: Path, smtp: SmtpCapture, client: AppClient
) -> None:
    acme, owner, _, beta_owner = await acme_on_plan(client, seats=5)
    for n in range(2):  # 3 of 5 seats: 60%
        await add_user(client, owner, f"u{n}@acme.example.com")
    assert await audit_entries(client, owner, action="limit_warning") == []
    await add_user(client, owner, "u2@acme.example.com")  # 4 of 5: 80%
    [mail] = await smtp.wait_for(acme.owner.email)
    assert mail.message["Subject"] == "80% of your plan's seats used"
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "4 of the 5 seats" in text
    await add_user(client, owner, "u3@acme.example.com")  # 5 of 5: no second warning
    [entry] = await audit_entries(client, owner, action="limit_warning")
    assert entry["resource_id"] == "seats"
    assert (entry["changes"]["used"], entry["changes"]["allowed"]) == (4, 5)
    # beta has no plan: nothing is counted, nobody is warned.
    for n in range(5):
        await add_user(client, beta_owner, f"u{n}@beta.example.com")
    assert await audit_entries(client, beta_owner, action="limit_warning") == []
    # Another mail to acme's owner would have come by the time beta's users were added.
    assert len(smtp.to(acme.owner.email)) == 1
