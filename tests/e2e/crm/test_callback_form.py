"""The public callback form over HTTP: the tenant by its strategy (unknown 404, suspended
403, none 400), any origin (CORS), rate limits per IP and per tenant (429 with
Retry-After), the honeypot (202, nothing stored), the body limit (413 before parsing),
phones (E.164 in the tenant's country, 422 `invalid_phone`), text checks, departments
(422 `unknown_department`, even another tenant's), and the department's email at the SMTP
server (sent by the session's worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.domain.crm.callbacks import CallbackFilter
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import TenantRepository, TenantStatus
from api.usecases.crm.callback_requests import ListCallbackRequests
from tests.support.app import AppClient, ClientFactory, assert_problem, serve
from tests.support.callbacks import (
    PUBLIC,
    STAFF,
    add_department,
    form,
    set_default_country,
    submit,
)
from tests.support.onboarding import onboard
from tests.support.people import audit_entries, signed_in, two_tenants
from tests.support.settings import make_settings
from tests.support.smtp import SmtpCapture

LIMITED = {"rate_per_ip": 3, "rate_per_tenant": 5, "max_body_bytes": 2048}


@pytest.fixture
async def limited(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[AppClient]:
    """An app with small limits: 3 per IP (10 min), 5 per tenant (1 h), 2 KiB bodies."""
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings = settings.model_copy(
        update={"callbacks": settings.callbacks.model_copy(update=LIMITED)}
    )
    async with serve(settings) as http:
        yield http


async def stored(client: AppClient, tenant_id: str) -> list[str]:
    """The ids of the tenant's stored requests (read past HTTP, whatever the form said)."""
    with tenant_context(TenantId(tenant_id)):
        page = await client.container.resolve(ListCallbackRequests).execute(
            CallbackFilter(), cursor=None, limit=100
        )
    return [r.id or "" for r in page.items]


async def test_a_request_is_accepted_stored_and_shown_to_staff(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    await set_default_country(client.container, tenant_id, "DE")
    sales = await add_department(client.container, tenant_id, "Sales")
    response = await client.post(
        PUBLIC,
        json=form(phone="0151 1234 5678", preferred_time="after 5pm",
                  message="Hello,\nplease call", department_id=sales, website=""),
        headers={"X-Tenant-ID": tenant_id, "Origin": "https://www.acme-shop.example"},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    assert set(response.json()) == {"id"}
    assert response.headers["access-control-allow-origin"] == "*"
    request_id = response.json()["id"]
    shown = await client.get(f"{STAFF}/{request_id}", headers=owner)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["phone"] == "+4915112345678" and body["status"] == "new"
    assert body["department_id"] == sales and body["message"] == "Hello,\nplease call"
    assert body["preferred_time"] == "after 5pm" and body["contact_id"] is None
    [entry] = await audit_entries(client, owner, resource_type="callback_request")
    assert entry["action"] == "callback_request.created" and entry["actor_id"] is None


async def test_an_existing_contact_is_linked(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    created = await client.post(
        "/api/v1/contacts", json={"phone": "+4915112345678", "name": "Jane"}, headers=owner
    )
    assert created.status_code == 201, created.text
    request_id = await submit(client, acme.tenant.id or "")
    shown = (await client.get(f"{STAFF}/{request_id}", headers=owner)).json()
    assert shown["contact_id"] == created.json()["id"]


async def test_the_tenant_comes_from_the_request(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    missing = await client.post(PUBLIC, json=form())
    assert_problem(missing, 400, "tenant_required")
    unknown = await client.post(PUBLIC, json=form(), headers={"X-Tenant-ID": "0" * 24})
    assert_problem(unknown, 404, "tenant_not_found")
    assert unknown.headers["access-control-allow-origin"] == "*"
    malformed = await client.post(PUBLIC, json=form(), headers={"X-Tenant-ID": "acme"})
    assert malformed.status_code == 400
    await client.container.resolve(TenantRepository).set_status(
        acme.tenant.id or "", TenantStatus.SUSPENDED
    )
    suspended = await client.post(
        PUBLIC, json=form(), headers={"X-Tenant-ID": acme.tenant.id or ""}
    )
    assert suspended.status_code == 403, suspended.text


async def test_the_subdomain_names_the_tenant(make_client: ClientFactory) -> None:
    async with make_client(
        "http://acme.parley.test", multi_tenancy_strategy="subdomain",
        host_main_domain="parley.test",
    ) as http:  # fmt: skip
        acme = await onboard(http, "acme")
        response = await http.post(PUBLIC, json=form())
        assert response.status_code == 202, response.text
        assert await stored(http, acme.tenant.id or "") == [response.json()["id"]]
        other = await http.post(PUBLIC, json=form(), headers={"Host": "nobody.parley.test"})
        assert_problem(other, 404, "tenant_not_found")


async def test_any_origin_may_post_the_form(client: AppClient) -> None:
    preflight = await client.options(
        PUBLIC,
        headers={
            "Origin": "https://forms.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-tenant-id",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "X-Tenant-ID" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in preflight.headers
    staff = await client.options(
        STAFF, headers={"Origin": "https://forms.example.org",
                        "Access-Control-Request-Method": "GET"},
    )  # fmt: skip
    assert "access-control-allow-origin" not in staff.headers  # staff routes: CORS_ORIGINS


async def test_the_honeypot_answers_202_and_keeps_nothing(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    response = await client.post(
        PUBLIC, json=form(website="https://spam.example", phone="not a number"),
        headers={"X-Tenant-ID": acme.tenant.id or ""},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    fake_id = response.json()["id"]
    assert len(fake_id) == 24
    assert await stored(client, acme.tenant.id or "") == []
    assert_problem(await client.get(f"{STAFF}/{fake_id}", headers=owner), 404, "not_found")
    assert await audit_entries(client, owner, resource_type="callback_request") == []


async def test_rate_limited_per_ip_then_per_tenant(limited: AppClient) -> None:
    acme, beta = await onboard(limited, "acme"), await onboard(limited, "beta")
    acme_id, beta_id = acme.tenant.id or "", beta.tenant.id or ""
    for _ in range(3):
        await submit(limited, acme_id)
    refused = await limited.post(PUBLIC, json=form(), headers={"X-Tenant-ID": beta_id})
    body = assert_problem(refused, 429, "rate_limited")  # per IP, whatever the tenant
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert refused.headers["access-control-allow-origin"] == "*"
    assert "Retry-After" in refused.headers["access-control-expose-headers"]
    assert "callback" in body["detail"]
    async with AppClient(limited.app, peer=("198.51.100.7", 4000)) as other_ip:
        await submit(other_ip, acme_id)
        await submit(other_ip, acme_id)  # the tenant's fifth
        tenant_full = await other_ip.post(PUBLIC, json=form(), headers={"X-Tenant-ID": acme_id})
        assert_problem(tenant_full, 429, "rate_limited")
        assert 3000 < int(tenant_full.headers["retry-after"]) <= 3600
    async with AppClient(limited.app, peer=("198.51.100.8", 4000)) as third_ip:
        await submit(third_ip, beta_id)  # another tenant is not held by acme's limit
    assert len(await stored(limited, acme_id)) == 5
    assert len(await stored(limited, beta_id)) == 1


async def test_an_oversized_body_is_413_before_it_is_read(limited: AppClient) -> None:
    acme = await onboard(limited, "acme")
    headers = {"X-Tenant-ID": acme.tenant.id or "", "Content-Type": "application/json"}
    big = await limited.post(PUBLIC, content=b'{"name": "' + b"x" * 4096 + b'"}', headers=headers)
    assert_problem(big, 413, "payload_too_large")
    assert big.headers["access-control-allow-origin"] == "*"
    not_even_json = await limited.post(PUBLIC, content=b"\xff" * 3000, headers=headers)
    assert_problem(not_even_json, 413, "payload_too_large")  # refused unparsed
    assert await stored(limited, acme.tenant.id or "") == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"phone": "12345"}, "invalid_phone"),
        ({"phone": "0151 1234 5678"}, "invalid_phone"),  # national, no default country
        ({"phone": ""}, "invalid_phone"),
        ({"name": "   "}, "invalid_input"),
        ({"name": "Jane\u0000Doe"}, "invalid_input"),
        ({"name": "x" * 121}, "invalid_input"),
        ({"message": "m" * 2001}, "invalid_input"),
        ({"message": "bell\u0007"}, "invalid_input"),
        ({"preferred_time": "now\r\nBcc: x@example.com"}, "invalid_input"),
        ({"department_id": "0" * 24}, "unknown_department"),
        ({"department_id": "sales"}, "unknown_department"),
        ({"name": None}, "invalid_input"),
        ({"phone": 4915112345678}, "invalid_input"),
    ],
)
async def test_bad_input_is_422_and_stores_nothing(
    client: AppClient, fields: dict[str, object], code: str
) -> None:
    acme = await onboard(client, "acme")
    response = await client.post(
        PUBLIC, json=form(**fields), headers={"X-Tenant-ID": acme.tenant.id or ""}
    )
    body = assert_problem(response, 422, code)
    assert body["errors"]
    assert await stored(client, acme.tenant.id or "") == []


async def test_another_tenants_department_is_unknown(client: AppClient) -> None:
    acme, _, beta, _ = await two_tenants(client)
    theirs = await add_department(client.container, beta.tenant.id or "", "Sales")
    response = await client.post(
        PUBLIC, json=form(department_id=theirs), headers={"X-Tenant-ID": acme.tenant.id or ""}
    )
    assert_problem(response, 422, "unknown_department")


async def test_the_department_members_get_the_email(
    worker: Path, smtp: SmtpCapture, client: AppClient
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    ada, _ = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    sales = await add_department(client.container, tenant_id, "Sales", ada["id"])
    request_id = await submit(
        client, tenant_id, name="Jane <Doe>", message="About order 42", department_id=sales,
        preferred_time="mornings",
    )  # fmt: skip
    [mail] = await smtp.wait_for("ada@acme.example.com")
    assert mail.message["Subject"] == "Callback requested: Jane <Doe>"
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "+4915112345678" in text and "mornings" in text and "About order 42" in text
    assert "by Sales" in text and f"/callback-requests/{request_id}" in text
    html = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Jane &lt;Doe&gt;" in html and "<Doe>" not in html
    assert smtp.to(acme.owner.email) == []  # not a member of Sales


async def test_without_a_department_the_crm_writers_get_the_email(
    worker: Path, smtp: SmtpCapture, client: AppClient
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    await signed_in(client, acme, owner, "max@acme.example.com")  # member: no crm:write
    await signed_in(client, acme, owner, "ada@acme.example.com", roles=["agent"])
    await submit(client, acme.tenant.id or "")
    await smtp.wait_for("ada@acme.example.com")
    await smtp.wait_for(acme.owner.email)
    assert smtp.to("max@acme.example.com") == []
