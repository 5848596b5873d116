"""Conversation transcripts over HTTP: the CSV holds every message (sender, both times,
text or a description of the content, media as a link that downloads the file), the
private note marked and the status change, with the formula guard; the PDF (read back
with pypdf) holds the same, a non-Latin name included; a second request reuses the queued
one (the other format is 409); `inbox:read` + `transcripts:export`; tenant isolation; bad
input; expiry and the sweep that deletes the file."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import punq
from bson import ObjectId
from pypdf import PdfReader

from api.common.clock import utcnow
from api.domain.crm.transcripts import Transcript, TranscriptFormat, TranscriptRepository
from api.infrastructure.persistence.crm.transcripts import TranscriptDocument
from api.infrastructure.persistence.files.storage import FileDocument
from api.usecases.crm.transcripts import SweepExpiredTranscripts
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient, assert_problem
from tests.support.database import as_tenant
from tests.support.fake_graph import FakeGraph
from tests.support.files import fetch
from tests.support.inbox import T0
from tests.support.people import audit_entries, create_role, signed_in, two_tenants
from tests.support.transcripts import (
    AGENT,
    CUSTOMER,
    EVIL,
    PNG,
    Talk,
    a_conversation,
    finished,
    local,
    requested,
    transcripts_url,
)

PROFILE = "/api/v1/tenant/profile"
FIELDS = {
    "id", "conversation_id", "format", "status", "entries", "truncated", "url",
    "url_expires_at", "expires_at", "error", "created_at", "finished_at",
}  # fmt: skip
COLUMNS = [
    "time_utc", "time_local", "kind", "direction", "sender_type", "sender", "type", "text",
    "attachment", "status", "message_id",
]  # fmt: skip


async def two_conversations(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> tuple[CreatedTenant, dict[str, str], CreatedTenant, dict[str, str], Talk, Talk]:
    """Acme and beta, their owners, and a conversation of each."""
    acme, owner, beta, beta_owner = await two_tenants(client)
    talk = await a_conversation(client, container, graph, acme, owner)
    theirs = await a_conversation(client, container, graph, beta, beta_owner,
                                  number="222000222000", email="ada@beta.example.com")  # fmt: skip
    return acme, owner, beta, beta_owner, talk, theirs


async def test_the_csv_transcript_holds_every_entry(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    saved = await client.put(PROFILE, json={"timezone": "Europe/Berlin"}, headers=owner)
    assert saved.status_code == 200, saved.text
    talk = await a_conversation(client, container, graph, acme, owner)

    transcript = await requested(client, owner, talk.conversation_id, "csv")
    assert set(transcript) == FIELDS
    assert transcript["status"] == "queued" and transcript["format"] == "csv"
    assert transcript["url"] is None and transcript["entries"] == 0
    done = await finished(client, container, acme, owner, transcript)
    assert done["status"] == "ready" and done["error"] is None, done
    assert done["url"] and done["url_expires_at"] and not done["truncated"]
    finished_at = done["finished_at"]
    assert done["expires_at"] > finished_at

    downloaded = await fetch(client, done["url"])  # no token, no tenant header
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"].startswith("text/csv")
    text = downloaded.content.decode("utf-8")
    assert text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert list(rows[0]) == COLUMNS
    assert done["entries"] == len(rows) == 8  # 5 inbound, the reply, the note, the event
    hello, evil, image, location, reaction, answer, note, event = rows

    assert hello["time_utc"] == T0.isoformat() and hello["time_local"] == local(T0, 2)
    assert (hello["kind"], hello["direction"], hello["sender_type"], hello["sender"]) == (
        "message", "inbound", "contact", CUSTOMER
    )  # fmt: skip
    assert hello["text"] == "Hello, my order is late (reaction: 👍)"
    assert hello["status"] == "received" and hello["message_id"]
    assert evil["text"] == "'" + EVIL  # the formula guard
    assert image["type"] == "image" and image["text"].startswith("[image: image-")
    media = await fetch(client, image["attachment"])  # the stored copy, by signed link
    assert media.status_code == 200 and media.content == PNG
    assert location["text"].startswith("[location ")
    assert reaction["type"] == "reaction" and reaction["text"] == "[reaction 👍]"
    assert (answer["direction"], answer["sender_type"], answer["sender"]) == (
        "outbound", "agent", AGENT
    )  # fmt: skip
    assert answer["text"] == "Sorry! It ships today." and answer["status"] == "delivered"
    assert (note["kind"], note["sender"], note["text"], note["status"]) == (
        "note", AGENT, "VIP, be kind", ""
    )  # fmt: skip
    assert (event["kind"], event["type"], event["sender"]) == ("event", "resolved", AGENT)
    assert "status: open -> resolved" in event["text"]

    [entry] = await audit_entries(client, owner, action="conversation.transcript_requested")
    assert entry["resource_id"] == transcript["id"]
    assert entry["changes"] == {"conversation_id": talk.conversation_id, "format": "csv"}


async def test_the_pdf_transcript_reads_back_with_a_non_latin_name(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    talk = await a_conversation(client, container, graph, acme, owner)
    transcript = await requested(client, owner, talk.conversation_id, "pdf")
    done = await finished(client, container, acme, owner, transcript)
    assert done["status"] == "ready" and done["entries"] == 8, done
    downloaded = await fetch(client, done["url"])
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"].startswith("application/pdf")
    reader = PdfReader(io.BytesIO(downloaded.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for expected in (
        "Conversation transcript", CUSTOMER, AGENT, "Hello, my order is late", EVIL,
        "Sorry! It ships today.", "PRIVATE NOTE", "VIP, be kind", "STATUS CHANGE",
        "Times: UTC and UTC", "<U+1F44D>", "[location", "[image: image-",
    ):  # fmt: skip
        assert expected in flat, (expected, flat)


async def test_one_transcript_at_a_time_per_conversation(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    talk = await a_conversation(client, container, graph, acme, owner)
    # One queued already (stored without its job, so no worker can finish it meanwhile).
    with as_tenant(acme.tenant):
        repository: TranscriptRepository = container.resolve(TranscriptRepository)
        queued = await repository.add(
            Transcript(conversation_id=talk.conversation_id, format=TranscriptFormat.CSV,
                       created_at=utcnow())
        )  # fmt: skip
    again = await requested(client, owner, talk.conversation_id, "csv")
    assert again["id"] == queued.id and again["status"] == "queued"
    other = await client.post(transcripts_url(talk.conversation_id), json={"format": "pdf"},
                              headers=owner)  # fmt: skip
    assert_problem(other, 409, "transcript_in_progress")
    with as_tenant(acme.tenant):
        assert queued.id is not None
        await repository.fail(queued.id, error="gave up", at=utcnow())
    fresh = await requested(client, owner, talk.conversation_id, "pdf")
    assert fresh["id"] != queued.id
    # A queued one whose job never ran (lost) does not block the conversation for ever.
    with as_tenant(acme.tenant):
        await repository.fail(fresh["id"], error="gave up", at=utcnow())
        lost = await repository.add(
            Transcript(conversation_id=talk.conversation_id, format=TranscriptFormat.PDF,
                       created_at=utcnow() - timedelta(hours=2))
        )  # fmt: skip
    after = await requested(client, owner, talk.conversation_id, "csv")
    assert after["id"] != lost.id
    gone = (await client.get(transcripts_url(talk.conversation_id, lost.id), headers=owner)).json()
    assert gone["status"] == "failed" and "lost" in gone["error"]


async def test_a_tenant_has_a_bounded_number_of_transcripts_in_progress(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, beta_owner, talk, theirs = await two_conversations(client, container, graph)
    with as_tenant(acme.tenant):  # TRANSCRIPT_MAX_ACTIVE (10) queued, without their jobs
        repository: TranscriptRepository = container.resolve(TranscriptRepository)
        held = [
            await repository.add(Transcript(conversation_id=str(ObjectId()),
                                            format=TranscriptFormat.CSV, created_at=utcnow()))
            for _ in range(10)
        ]  # fmt: skip
    response = await client.post(transcripts_url(talk.conversation_id), json={"format": "csv"},
                                 headers=owner)  # fmt: skip
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) > 0
    # Another tenant is not held back; one finished here frees a place.
    await requested(client, beta_owner, theirs.conversation_id, "csv")
    with as_tenant(acme.tenant):
        await repository.fail(held[0].id or "", error="gave up", at=utcnow())
    await requested(client, owner, talk.conversation_id, "csv")


async def test_transcripts_need_inbox_read_and_transcripts_export(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    talk = await a_conversation(client, container, graph, acme, owner)
    transcript = await requested(client, owner, talk.conversation_id, "csv")
    post_url = transcripts_url(talk.conversation_id)
    get_url = transcripts_url(talk.conversation_id, transcript["id"])

    no_token = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.post(post_url, json={"format": "csv"}, headers=no_token), 401,
                   "unauthorized")  # fmt: skip
    assert_problem(await client.get(get_url, headers=no_token), 401, "unauthorized")
    _, agent = await signed_in(client, acme, owner, "agent@acme.example.com", roles=["agent"])
    await create_role(client, owner, "exporter", ["transcripts:export"])
    _, exporter = await signed_in(client, acme, owner, "exp@acme.example.com",
                                  roles=["exporter"])  # fmt: skip
    for headers in (agent, exporter):  # inbox:read alone, transcripts:export alone
        assert_problem(await client.post(post_url, json={"format": "csv"}, headers=headers),
                       403, "forbidden")  # fmt: skip
        assert_problem(await client.get(get_url, headers=headers), 403, "forbidden")
    await create_role(client, owner, "both", ["inbox:read", "transcripts:export"])
    _, both = await signed_in(client, acme, owner, "both@acme.example.com", roles=["both"])
    assert (await client.get(get_url, headers=both)).status_code == 200
    roles = (await client.get("/api/v1/roles", params={"page_size": 100},
                              headers=owner)).json()["items"]  # fmt: skip
    by_name = {r["name"]: set(r["permissions"]) for r in roles}
    assert "transcripts:export" in by_name["owner"] and "transcripts:export" in by_name["admin"]
    assert "transcripts:export" not in by_name["agent"]


async def test_another_tenants_conversation_and_transcript_are_404(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    _, owner, _, beta_owner, talk, theirs = await two_conversations(client, container, graph)
    transcript = await requested(client, owner, talk.conversation_id, "csv")

    response = await client.post(transcripts_url(talk.conversation_id), json={"format": "csv"},
                                 headers=beta_owner)  # fmt: skip
    assert_problem(response, 404, "not_found")
    url = transcripts_url(talk.conversation_id, transcript["id"])
    assert_problem(await client.get(url, headers=beta_owner), 404, "not_found")
    # Their own conversation's path with our transcript's id: still 404.
    crossed = transcripts_url(theirs.conversation_id, transcript["id"])
    assert_problem(await client.get(crossed, headers=beta_owner), 404, "not_found")
    # Another conversation of our own, or ids that are no ids.
    for bad in (transcripts_url(str(ObjectId()), transcript["id"]),
                transcripts_url(talk.conversation_id, str(ObjectId())),
                transcripts_url(talk.conversation_id, "not-an-id")):  # fmt: skip
        assert_problem(await client.get(bad, headers=owner), 404, "not_found")
    for conversation_id in (str(ObjectId()), "not-an-id"):
        response = await client.post(transcripts_url(conversation_id), json={"format": "csv"},
                                     headers=owner)  # fmt: skip
        assert_problem(response, 404, "not_found")
    assert (await client.get(url, headers=owner)).status_code == 200


async def test_bad_input_is_422(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    talk = await a_conversation(client, container, graph, acme, owner)
    url = transcripts_url(talk.conversation_id)
    for body in ({"format": "docx"}, {"format": "PDF"}, {}, {"format": "csv", "extra": 1},
                 {"format": None}):  # fmt: skip
        assert_problem(await client.post(url, json=body, headers=owner), 422, "invalid_input")
    assert_problem(await client.post(url, headers=owner), 422, "invalid_input")


async def test_an_expired_transcript_offers_no_link_and_the_sweep_deletes_its_file(
    client: AppClient, container: punq.Container, graph: FakeGraph
) -> None:
    acme, owner, beta, beta_owner, talk, theirs = await two_conversations(client, container, graph)
    ours = await requested(client, owner, talk.conversation_id, "csv")
    done = await finished(client, container, acme, owner, ours)
    other = await requested(client, beta_owner, theirs.conversation_id, "pdf")
    kept = await finished(client, container, beta, beta_owner, other)
    assert done["status"] == kept["status"] == "ready"
    old_link = done["url"]
    assert (await fetch(client, old_link)).status_code == 200
    collection = TranscriptDocument.get_pymongo_collection()
    past = utcnow() - timedelta(seconds=1)
    await collection.update_one(
        {"_id": ObjectId(done["id"])}, {"$set": {"expires_at": past, "purge_at": past}}
    )
    url = transcripts_url(talk.conversation_id, done["id"])
    expired = (await client.get(url, headers=owner)).json()
    assert expired["status"] == "ready" and expired["url"] is None
    assert expired["url_expires_at"] is None

    files_before = await FileDocument.find({"tenant_id": acme.tenant.id}).count()
    assert await container.resolve(SweepExpiredTranscripts).execute() >= 1
    assert (await fetch(client, old_link)).status_code == 404
    raw = await collection.find_one({"_id": ObjectId(done["id"])})
    assert raw is not None and raw.get("file_id") is None and raw.get("purge_at") is None
    assert raw["status"] == "ready"
    # Only the transcript's file went; the conversation's media stays.
    assert await FileDocument.find({"tenant_id": acme.tenant.id}).count() == files_before - 1
    # Another tenant's transcript, not expired, keeps its file and link.
    still = (await client.get(transcripts_url(theirs.conversation_id, kept["id"]),
                              headers=beta_owner)).json()  # fmt: skip
    assert (await fetch(client, still["url"])).status_code == 200
    assert await container.resolve(SweepExpiredTranscripts).execute() == 0
