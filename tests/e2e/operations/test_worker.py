"""Jobs end to end: HTTP request -> queue -> real worker process -> SMTP / results."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from bson import ObjectId
from celery import Celery
from fastapi import APIRouter, Body
from redis.asyncio import Redis

from api.domain.email.messages import EmailTemplate
from api.domain.jobs import JobQueue
from api.infrastructure.persistence.base.mongo import MongoClient
from api.interfaces.http.deps import Inject
from api.main import create_app
from api.usecases.kernel.mailer import QueueEmail
from tests.support.app import serve
from tests.support.database import create_tenant
from tests.support.settings import make_settings
from tests.support.smtp import SmtpCapture
from tests.support.workers import MAX_RETRIES, job_runs_logged, runs_ended

probe = APIRouter(prefix="/probe")


@probe.post("/ping")
async def enqueue_ping(
    jobs: Annotated[JobQueue, Inject(JobQueue)], echo: Annotated[str, Body(embed=True)]
) -> dict[str, str]:
    return {"job_id": await jobs.enqueue("parley.ping", echo=echo)}


@probe.post("/email")
async def enqueue_email(
    queue: Annotated[QueueEmail, Inject(QueueEmail)], to: Annotated[str, Body(embed=True)]
) -> dict[str, str]:
    context = {"user_name": "Ana <b>", "login_url": "https://app.example.com/login"}
    email = await queue.execute(to, EmailTemplate.WELCOME, context)
    return {"email_id": email.id or ""}


@pytest.fixture
async def http(
    worker: Path, mongo_url: str, redis_url: str, db_name: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    app = create_app(settings)
    app.include_router(probe)
    async with serve(settings, app=app) as client:
        yield client


async def result_of(celery: Celery, job_id: str, timeout: float = 30) -> Any:
    return await asyncio.to_thread(celery.AsyncResult(job_id).get, timeout=timeout)


async def email_record(mongo: MongoClient, db_name: str, email_id: str) -> dict[str, Any]:
    record = await mongo[db_name]["outbound_emails"].find_one({"_id": ObjectId(email_id)})
    assert record is not None
    return record


async def wait_for_status(
    mongo: MongoClient, db_name: str, email_id: str, status: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = await email_record(mongo, db_name, email_id)
        if record["status"] == status:
            return record
        assert time.monotonic() < deadline, f"email stayed {record['status']}"
        await asyncio.sleep(0.1)


async def test_a_task_sees_the_tenant_and_request_of_the_request_that_queued_it(
    http: httpx.AsyncClient, celery_client: Celery
) -> None:
    acme = await create_tenant("acme")
    response = await http.post(
        "/probe/ping",
        json={"echo": "hello"},
        headers={"X-Tenant-ID": acme.id or "", "X-Request-ID": "req-tenant-1"},
    )
    assert response.status_code == 200, response.text
    result = await result_of(celery_client, response.json()["job_id"])
    assert result == {"echo": "hello", "tenant_id": acme.id, "request_id": "req-tenant-1"}

    # Queued from the platform plane, the next job runs without a tenant: nothing leaked.
    response = await http.post("/probe/ping", json={"echo": "platform"})
    result = await result_of(celery_client, response.json()["job_id"])
    assert result["tenant_id"] is None
    assert result["request_id"] == response.headers["x-request-id"]


async def test_email_is_rendered_for_the_tenant_and_delivered_once(
    http: httpx.AsyncClient,
    smtp: SmtpCapture,
    mongo_client: MongoClient,
    redis_client: Redis,
    db_name: str,
) -> None:
    acme = await create_tenant("acme", "Acme Corp")
    response = await http.post(
        "/probe/email", json={"to": "Ana@Example.com"}, headers={"X-Tenant-ID": acme.id or ""}
    )
    assert response.status_code == 200, response.text
    email_id = response.json()["email_id"]
    [received] = await smtp.wait_for("ana@example.com")
    message = received.message
    assert "Acme Corp" in message["Subject"] or "Acme Corp" in message.as_string()
    assert received.mail_from == "parley@example.com"
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    assert "Ana &lt;b&gt;" in html.get_content()  # user values are escaped in HTML
    assert "https://app.example.com/login" in text.get_content()
    record = await wait_for_status(mongo_client, db_name, email_id, "sent")
    assert record["attempts"] == 1 and record["tenant_id"] == acme.id
    await runs_ended(redis_client, "parley.email.send", 1)  # the job that sent has ended
    assert len(smtp.to("ana@example.com")) == 1


async def test_temporary_smtp_failures_are_retried_and_mail_arrives_exactly_once(
    http: httpx.AsyncClient,
    smtp: SmtpCapture,
    mongo_client: MongoClient,
    redis_client: Redis,
    db_name: str,
) -> None:
    acme = await create_tenant("acme")
    smtp.fail_next = MAX_RETRIES  # every attempt but the last is refused with 451
    response = await http.post(
        "/probe/email", json={"to": "retry@example.com"}, headers={"X-Tenant-ID": acme.id or ""}
    )
    email_id = response.json()["email_id"]
    record = await wait_for_status(mongo_client, db_name, email_id, "sent")
    assert record["attempts"] == MAX_RETRIES + 1
    assert smtp.attempts == MAX_RETRIES + 1
    await runs_ended(redis_client, "parley.email.send", MAX_RETRIES + 1)  # each attempt ended
    assert len(smtp.to("retry@example.com")) == 1


async def test_permanent_refusal_fails_at_once_and_is_recorded(
    http: httpx.AsyncClient, smtp: SmtpCapture, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await create_tenant("acme")
    smtp.reject.add("nobody@example.com")
    response = await http.post(
        "/probe/email",
        json={"to": "nobody@example.com"},
        headers={"X-Tenant-ID": acme.id or "", "X-Request-ID": "req-permanent"},
    )
    email_id = response.json()["email_id"]
    record = await wait_for_status(mongo_client, db_name, email_id, "failed")
    assert record["attempts"] == 1
    failed = await wait_for_failed_job(mongo_client, db_name, email_id)
    assert failed["task"] == "parley.email.send"
    assert failed["tenant_id"] == acme.id
    assert failed["request_id"] == "req-permanent"
    assert failed["error_type"] == "PermanentFailure"
    assert failed["attempts"] == 1
    assert failed["arguments"] == {"email_id": email_id}


async def test_exhausted_retries_are_recorded(
    http: httpx.AsyncClient, smtp: SmtpCapture, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await create_tenant("acme")
    smtp.always_fail = True
    response = await http.post(
        "/probe/email", json={"to": "later@example.com"}, headers={"X-Tenant-ID": acme.id or ""}
    )
    email_id = response.json()["email_id"]
    record = await wait_for_status(mongo_client, db_name, email_id, "failed")
    assert record["attempts"] == MAX_RETRIES + 1
    failed = await wait_for_failed_job(mongo_client, db_name, email_id)
    assert failed["error_type"] == "TemporaryFailure"
    assert failed["attempts"] == MAX_RETRIES + 1
    assert smtp.to("later@example.com") == []


async def wait_for_failed_job(
    mongo: MongoClient, db_name: str, email_id: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = await mongo[db_name]["failed_jobs"].find_one({"arguments.email_id": email_id})
        if found is not None:
            return found
        assert time.monotonic() < deadline, "no failed job recorded"
        await asyncio.sleep(0.1)


async def test_a_redelivered_job_does_not_send_twice(
    http: httpx.AsyncClient,
    worker: Path,
    smtp: SmtpCapture,
    celery_client: Celery,
    mongo_client: MongoClient,
    db_name: str,
) -> None:
    acme = await create_tenant("acme")
    smtp.fail_next = 0
    response = await http.post(
        "/probe/email", json={"to": "once@example.com"}, headers={"X-Tenant-ID": acme.id or ""}
    )
    email_id = response.json()["email_id"]
    await wait_for_status(mongo_client, db_name, email_id, "sent")
    # The broker hands the same job (same id) out again, as after a lost ack.
    [first] = (
        await mongo_client[db_name]["outbound_emails"].find({"_id": ObjectId(email_id)}).to_list()
    )
    headers = {"parley_tenant_id": acme.id}
    once, twice = f"dup-{uuid.uuid4().hex}", f"dup-{uuid.uuid4().hex}"
    for task_id in (twice, twice, once):
        await asyncio.to_thread(
            celery_client.send_task,
            "parley.email.send",
            kwargs={"email_id": email_id},
            headers=headers,
            task_id=task_id,
        )
    await job_runs_logged(worker, twice, 2)  # every run that could have sent again ended
    await job_runs_logged(worker, once, 1)
    assert len(smtp.to("once@example.com")) == 1
    record = await email_record(mongo_client, db_name, email_id)
    assert record["attempts"] == first["attempts"] == 1


async def test_bad_job_arguments_are_refused_before_queueing() -> None:
    from api.infrastructure.jobs.queue import CeleryJobQueue

    queue = CeleryJobQueue(Celery("unused", broker="memory://"))
    with pytest.raises(TypeError, match="plain scalar"):
        await queue.enqueue("parley.ping", echo={"a": "document"})  # type: ignore[arg-type]
