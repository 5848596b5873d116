"""Conversation transcripts end to end with the session's real worker: the queued job
`parley.crm.transcript` runs in the worker process, writes the CSV and the PDF into the
tenant's storage and marks them ready; the signed links download them."""

from __future__ import annotations

import csv
import io

import httpx
from pypdf import PdfReader

from api.config import Settings
from tests.support.app import AppClient
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.files import fetch
from tests.support.people import two_tenants
from tests.support.transcripts import AGENT, CUSTOMER, a_conversation, finished, requested


async def test_the_worker_writes_the_transcripts(
    app_client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, _ = app_client
    assert isinstance(http, AppClient)
    acme, owner, _, _ = await two_tenants(http)
    fake = FakeGraph()
    async with serve_fake_graph(fake):
        talk = await a_conversation(http, http.container, fake, acme, owner)

    as_csv = await requested(http, owner, talk.conversation_id, "csv")
    state = await finished(http, None, acme, owner, as_csv)  # the worker runs it
    assert state["status"] == "ready" and state["entries"] == 8, state
    downloaded = await fetch(http, state["url"])
    assert downloaded.status_code == 200, downloaded.text
    rows = list(csv.DictReader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert [row["kind"] for row in rows] == ["message"] * 6 + ["note", "event"]
    assert {row["sender"] for row in rows} == {CUSTOMER, AGENT}

    as_pdf = await requested(http, owner, talk.conversation_id, "pdf")
    state = await finished(http, None, acme, owner, as_pdf)
    assert state["status"] == "ready" and state["entries"] == 8, state
    pdf = await fetch(http, state["url"])
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert CUSTOMER in text and "PRIVATE NOTE" in text
