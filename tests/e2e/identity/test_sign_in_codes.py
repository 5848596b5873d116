"""Sign-in by one-time code through the session's real worker: by email (the SMTP test
server reads the code) and by WhatsApp (the fake Graph reads the template parameter);
the same answer for unknown accounts, wrong, exhausted, expired, used and replaced codes,
and a code of one tenant refused in another."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.common.clock import utcnow
from api.config import AuthSettings
from api.infrastructure.persistence.base.mongo import MongoClient
from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem, serve, use_clock
from tests.support.channels import connect
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import add_user
from tests.support.settings import make_settings
from tests.support.smtp import Received, SmtpCapture

pytestmark = pytest.mark.usefixtures("worker")

OTP = "/api/v1/auth/otp"
ACCEPTED = {"detail": "If an account matches, a sign-in code is on its way."}
PHONE = "+14155550123"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        yield fake


def tenant(tenant_id: str | None) -> dict[str, str]:
    return {"X-Tenant-ID": tenant_id or ""}


async def ask(client: AppClient, tenant_id: str | None, **body: str) -> None:
    response = await client.post(f"{OTP}/request", json=body, headers=tenant(tenant_id))
    assert response.status_code == 202, response.text
    assert response.json() == ACCEPTED


async def verify(client: AppClient, tenant_id: str | None, code: str, **who: str) -> Any:
    return await client.post(f"{OTP}/verify", json={**who, "code": code}, headers=tenant(tenant_id))


async def mails(smtp: SmtpCapture, address: str, count: int) -> list[Received]:
    """The first `count` messages to `address`, waiting for them."""
    for _ in range(400):
        if len(smtp.to(address)) >= count:
            return smtp.to(address)
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} mails to {address}")


def code_of(mail: Received) -> str:
    match = re.match(r"^(\d{6}) is your ", str(mail.message["Subject"]))
    assert match, mail.message["Subject"]
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert match.group(1) in text
    return match.group(1)


async def requested(mongo: MongoClient, db: str, tenant_id: str | None, count: int) -> list[Any]:
    """The tenant's first `count` `auth.sign_in_code_requested` entries, waiting for them."""
    query = {"tenant_id": tenant_id, "action": "auth.sign_in_code_requested"}
    for _ in range(400):
        found = [raw async for raw in mongo[db]["audit_logs"].find(query).sort("created_at", 1)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} code requests audited")


async def guessed_wrong_five_times(
    client: AppClient, smtp: SmtpCapture, tenant_id: str | None, email: str
) -> str:
    """Ask for a code, try a wrong one five times (each 401); the right code."""
    await ask(client, tenant_id, email=email)
    code = code_of((await mails(smtp, email, 1))[0])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert_problem(await verify(client, tenant_id, wrong, email=email), 401, "unauthorized")
    return code


async def test_a_code_by_email_signs_in_once(
    client: AppClient, smtp: SmtpCapture, worker: Path, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id, acme.owner.email
    await ask(client, tid, email=" Owner@Acme.example.com ")
    [mail] = await mails(smtp, email, 1)
    code = code_of(mail)

    signed_in = await verify(client, tid, code, email=email)
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    me = await client.get(
        "/api/v1/auth/me",
        headers={**tenant(tid), "Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert me.status_code == 200 and me.json()["email"] == email
    again = await verify(client, tid, code, email=email)
    assert_problem(again, 401, "unauthorized")  # single use

    [entry] = await requested(mongo_client, db_name, tid, 1)
    assert entry["changes"]["sent"] is True and code not in str(entry)
    [stored] = [raw async for raw in mongo_client[db_name]["sign_in_codes"].find({})]
    assert code not in str(stored) and stored["used_at"] is not None
    assert not [raw async for raw in mongo_client[db_name]["outbound_emails"].find({})]
    assert code not in await asyncio.to_thread(worker.read_text)
    audits = [raw async for raw in mongo_client[db_name]["audit_logs"].find({"tenant_id": tid})]
    assert code not in str(audits)
    succeeded = [a for a in audits if a["action"] == "auth.login_succeeded"]
    assert succeeded[-1]["changes"] == {"method": "code"}


async def test_an_unknown_account_gets_the_same_answer_and_nothing(
    client: AppClient, smtp: SmtpCapture, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id
    await ask(client, tid, email="nobody@acme.example.com")
    await ask(client, tid, phone=PHONE)  # nobody has this number
    entries = await requested(mongo_client, db_name, tid, 2)
    assert [e["changes"]["sent"] for e in entries] == [False, False]
    assert smtp.to("nobody@acme.example.com") == []
    assert not [raw async for raw in mongo_client[db_name]["sign_in_codes"].find({})]
    refused = await verify(client, tid, "123456", email="nobody@acme.example.com")
    assert refused.json()["detail"] == "Invalid or expired code."
    assert_problem(refused, 401, "unauthorized")
    for _ in range(4):  # 5 per address and window in all: unknown addresses too
        await ask(client, tid, email="nobody@acme.example.com")
    limited = await client.post(
        f"{OTP}/request", json={"email": "nobody@acme.example.com"}, headers=tenant(tid)
    )
    assert_problem(limited, 429, "rate_limited")


async def test_bad_input_and_no_tenant(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id
    for body in ({}, {"email": "a@b.co", "phone": PHONE}, {"email": "not-an-address"},
                 {"phone": "12"}, {"email": "a@b.co", "extra": 1}):  # fmt: skip
        response = await client.post(f"{OTP}/request", json=body, headers=tenant(tid))
        assert_problem(response, 422, "invalid_input")
    short = await verify(client, tid, "12345", email="a@b.co")
    assert_problem(short, 422, "invalid_input")
    platform = await client.post(f"{OTP}/request", json={"email": "a@b.co"})
    assert_problem(platform, 400, "tenant_required")


async def test_wrong_codes_kill_the_code_and_a_new_one_replaces_it(
    mongo_url: str, redis_url: str, db_name: str, smtp: SmtpCapture
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    # The account's lockout (5 failures by default) is set apart from the code's limit.
    auth = AuthSettings(
        _env_file=None, argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1,
        lockout_threshold=50,
    )  # fmt: skip
    async with serve(settings.model_copy(update={"auth": auth})) as client:
        acme = await onboard(client, "acme")
        tid, email = acme.tenant.id, acme.owner.email
        code = await guessed_wrong_five_times(client, smtp, tid, email)
        dead = await verify(client, tid, code, email=email)  # the right code, too late
        assert_problem(dead, 401, "unauthorized")

        await ask(client, tid, email=email)
        second = code_of((await mails(smtp, email, 2))[1])
        await ask(client, tid, email=email)
        third = code_of((await mails(smtp, email, 3))[2])
        if second != third:  # one in a million they are the same digits
            replaced = await verify(client, tid, second, email=email)
            assert_problem(replaced, 401, "unauthorized")
        assert (await verify(client, tid, third, email=email)).status_code == 200


async def test_wrong_codes_count_towards_the_account_lockout(
    client: AppClient, smtp: SmtpCapture
) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id, acme.owner.email
    code = await guessed_wrong_five_times(client, smtp, tid, email)
    assert_problem(await verify(client, tid, code, email=email), 429, "rate_limited")


async def test_a_code_expires(client: AppClient, smtp: SmtpCapture) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id, acme.owner.email
    await ask(client, tid, email=email)
    code = code_of((await mails(smtp, email, 1))[0])
    clock = FakeUtcClock(utcnow() + timedelta(seconds=301))  # OTP_TTL_SECONDS is 300
    use_clock(client.container, clock)
    assert_problem(await verify(client, tid, code, email=email), 401, "unauthorized")
    clock.at = utcnow() + timedelta(seconds=240)  # still within its five minutes
    assert (await verify(client, tid, code, email=email)).status_code == 200


async def test_a_code_of_one_tenant_does_not_sign_in_on_another(
    client: AppClient, smtp: SmtpCapture
) -> None:
    shared = "boss@example.com"
    acme = await onboard(client, "acme", email=shared)
    globex = await onboard(client, "globex", email=shared)
    await ask(client, acme.tenant.id, email=shared)
    code = code_of((await mails(smtp, shared, 1))[0])
    elsewhere = await verify(client, globex.tenant.id, code, email=shared)
    assert_problem(elsewhere, 401, "unauthorized")
    assert (await verify(client, acme.tenant.id, code, email=shared)).status_code == 200


async def test_a_code_by_whatsapp_template(
    client: AppClient, graph: FakeGraph, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id
    owner = await owner_headers(client, acme)
    mia = await add_user(client, owner, "mia@acme.example.com")
    changed = await client.put(
        f"/api/v1/users/{mia['id']}", json={"phone": "+1 (415) 555-0123"}, headers=owner
    )
    assert changed.status_code == 200 and changed.json()["phone"] == PHONE, changed.text
    own = await client.put(f"/api/v1/users/{acme.owner.id}", json={"phone": PHONE}, headers=owner)
    assert_problem(own, 403, "forbidden")  # nobody redirects their own codes

    await ask(client, tid, phone=PHONE)  # no WhatsApp channel yet: nothing goes out
    [skipped] = await requested(mongo_client, db_name, tid, 1)
    assert skipped["changes"]["sent"] is False

    await connect(client, owner, graph.base_url)
    await ask(client, tid, phone=PHONE)
    await requested(mongo_client, db_name, tid, 2)
    [sent] = [seen.body for seen in graph.requests if seen.endpoint == "send"]
    assert sent["to"] in (PHONE, PHONE.lstrip("+")) and sent["type"] == "template"
    template = sent["template"]
    assert template["name"] == "sign_in_code" and template["language"]["code"] == "en_US"
    body, button = template["components"]
    code = body["parameters"][0]["text"]
    assert re.fullmatch(r"\d{6}", code) and button["parameters"][0]["text"] == code
    assert button["sub_type"] == "url"

    assert_problem(await verify(client, tid, code, email="x@acme.example.com"), 401, "unauthorized")
    signed_in = await verify(client, tid, code, phone="+14155550123")
    assert signed_in.status_code == 200, signed_in.text


async def test_a_code_presented_at_once_many_times_signs_in_once(
    client: AppClient, smtp: SmtpCapture
) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id, acme.owner.email
    await ask(client, tid, email=email)
    code = code_of((await mails(smtp, email, 1))[0])
    answers = await asyncio.gather(*(verify(client, tid, code, email=email) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]
