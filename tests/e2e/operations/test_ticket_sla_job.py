"""The tickets' SLA job through the real worker, sent as beat sends it: a ticket whose first
response is overdue is marked breached and its assignee gets the escalation email over
SMTP, once, however many times the job runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
from celery import Celery

from api.common.clock import utcnow
from api.config import Settings
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.crm.ticket_sla import TICKET_SLA_JOB
from tests.support.app import AppClient
from tests.support.onboarding import onboard, owner_headers
from tests.support.smtp import SmtpCapture
from tests.support.tickets import TICKETS, department, open_ticket


async def test_the_worker_records_and_escalates_a_breach_once(
    app_client: tuple[httpx.AsyncClient, Settings],
    worker: Path,
    celery_client: Celery,
    smtp: SmtpCapture,
    mongo_client: MongoClient,
    db_name: str,
) -> None:
    http, _ = app_client
    assert isinstance(http, AppClient)
    acme = await onboard(http, "acme")
    owner = await owner_headers(http, acme)
    contact = await http.post("/api/v1/contacts", json={"name": "Ann", "phone": "+14155550100"},
                              headers=owner)  # fmt: skip
    assert contact.status_code == 201, contact.text
    support = await department(http.container, acme, first_response=60, resolution=None)
    me = (await http.get("/api/v1/auth/me", headers=owner)).json()
    ticket = await open_ticket(http, owner, contact.json()["id"], department_id=support,
                               assignee_id=me["id"])  # fmt: skip
    # As if opened two hours ago: its first response was due an hour ago.
    overdue = utcnow() - timedelta(hours=1)
    await mongo_client[db_name]["crm_tickets"].update_one(
        {"number": ticket["number"], "tenant_id": acme.tenant.id},
        {"$set": {"sla.first_response_due": overdue, "sla_watch_at": overdue}},
    )
    runs = [celery_client.send_task(TICKET_SLA_JOB) for _ in range(2)]
    assert sorted([await asyncio.to_thread(r.get, timeout=60) for r in runs]) == [0, 1]
    after = (await http.get(f"{TICKETS}/{ticket['id']}", headers=owner)).json()
    assert after["sla"]["breached"] is True
    mails = await smtp.wait_for(me["email"], timeout=60)
    assert "SLA breached" in str(mails[0].message["Subject"])
    again = celery_client.send_task(TICKET_SLA_JOB)
    assert await asyncio.to_thread(again.get, timeout=60) == 0
    # The job records a mail before queuing it: one record, whatever ran since.
    records = await mongo_client[db_name]["outbound_emails"].count_documents(
        {"template": "ticket_sla_breached"}
    )
    assert records == 1
