"""Upload and avatar bodies are bounded before anything reads them: refused unread when
anonymous, unauthorised or announced too large, cut off at the route's own limit when
streamed, and nothing of a refused body is stored. Bodies here are generated chunk by
chunk as the server asks for them, so `taken` is exactly what the app read."""

from __future__ import annotations

from pathlib import Path

from api.config import Settings
from api.infrastructure.persistence.files.storage import FileDocument
from tests.support.app import AppClient, ClientFactory, assert_problem, serve_over_tcp
from tests.support.bodies import (
    CLOSING,
    MULTIPART,
    StreamedBody,
    length,
    part_head,
    streamed_file,
)
from tests.support.files import PNG, UPLOAD, blobs_in
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import USERS, signed_in

LIMIT = 256 * 1024  # MAX_UPLOAD_BYTES in these tests
AVATAR_LIMIT = 64 * 1024  # MAX_AVATAR_BYTES
FRAMING = 64 * 1024  # what a multipart body may carry beyond the file
CHUNK = 64 * 1024  # StreamedBody's chunk: the server may take one past the limit
HUGE = 64 * 1024 * 1024


def avatar_path(user_id: str) -> str:
    return f"{USERS}/{user_id}/avatar"


async def nothing_stored(blob_dir: Path) -> bool:
    return blobs_in(blob_dir) == [] and await FileDocument.count() == 0


async def test_anonymous_and_unauthorised_uploads_are_refused_unread(
    client: AppClient, blob_dir: Path
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    user, nobody = await signed_in(client, acme, owner, "no@acme.example.com", roles=[])
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    refusals = (
        (UPLOAD, tenant, 401, "unauthorized"),
        (UPLOAD, nobody, 403, "forbidden"),  # no files:write
        (avatar_path(user["id"]), tenant, 401, "unauthorized"),
    )
    for path, headers, status, code in refusals:
        body = streamed_file(HUGE)
        response = await client.post(path, content=body, headers={**headers, **MULTIPART})
        assert_problem(response, status, code)
        assert body.taken == 0, (path, status)
    assert await nothing_stored(blob_dir)


async def test_an_announced_length_over_the_limit_is_refused_unread(
    make_storage_client: ClientFactory, blob_dir: Path
) -> None:
    async with make_storage_client(max_upload_bytes=LIMIT, max_avatar_bytes=AVATAR_LIMIT) as http:
        acme = await onboard(http, "acme")
        owner = await owner_headers(http, acme)
        me = (await http.get("/api/v1/auth/me", headers=owner)).json()
        for path, limit in ((UPLOAD, LIMIT), (avatar_path(me["id"]), AVATAR_LIMIT)):
            body = streamed_file(limit + FRAMING)
            headers = {**owner, **MULTIPART, **length(body)}
            response = await http.post(path, content=body, headers=headers)
            problem = assert_problem(response, 413, "payload_too_large")
            assert f"{limit} bytes" in problem["detail"]
            assert body.taken == 0, path
        assert await nothing_stored(blob_dir)


async def test_a_streamed_upload_is_cut_off_at_the_routes_own_limit(
    make_storage_client: ClientFactory, blob_dir: Path
) -> None:
    async with make_storage_client(max_upload_bytes=LIMIT, max_avatar_bytes=AVATAR_LIMIT) as http:
        acme = await onboard(http, "acme")
        owner = await owner_headers(http, acme)
        me = (await http.get("/api/v1/auth/me", headers=owner)).json()
        for path, limit in ((UPLOAD, LIMIT), (avatar_path(me["id"]), AVATAR_LIMIT)):
            # A file too large, chunked (no Content-Length): read up to the limit only.
            body = streamed_file(HUGE)
            response = await http.post(path, content=body, headers={**owner, **MULTIPART})
            assert_problem(response, 413, "payload_too_large")
            assert body.taken <= limit + FRAMING + CHUNK, (path, body.taken)
            # A small file followed by a huge field: the body limit stops it, and the file
            # already streamed to the provider is not kept.
            padded = StreamedBody(
                part_head() + PNG + b"tiny",
                part_head("note", None, first=False),
                HUGE,
                CLOSING,
            )
            response = await http.post(path, content=padded, headers={**owner, **MULTIPART})
            problem = assert_problem(response, 413, "payload_too_large")
            assert f"{limit} bytes" in problem["detail"]
            assert padded.taken <= limit + FRAMING + CHUNK, (path, padded.taken)
        assert await nothing_stored(blob_dir)


async def test_streamed_uploads_over_tcp(storage_settings: Settings, blob_dir: Path) -> None:
    """Through uvicorn: refusals reach the client (the server reads and discards what the
    client still sends, and keeps the connection), nothing is stored, and a streamed
    upload within the limit is stored whole."""
    settings = storage_settings.model_copy(deep=True)
    settings.storage.max_upload_bytes = LIMIT
    async with serve_over_tcp(settings) as (local, remote):
        acme = await onboard(local, "acme")
        owner = await owner_headers(local, acme)
        tenant = {"X-Tenant-ID": acme.tenant.id or ""}
        big = 16 * 1024 * 1024
        padded = StreamedBody(
            part_head() + PNG + b"tiny", part_head("note", None, first=False), big, CLOSING
        )
        announced = streamed_file(big)
        refusals = (
            (streamed_file(big), {**owner, **MULTIPART}, 413, "payload_too_large"),
            (padded, {**owner, **MULTIPART}, 413, "payload_too_large"),
            (announced, {**owner, **MULTIPART, **length(announced)}, 413, "payload_too_large"),
            (streamed_file(big), {**tenant, **MULTIPART}, 401, "unauthorized"),
        )
        for body, headers, status, code in refusals:
            response = await remote.post(UPLOAD, content=body, headers=headers)
            assert_problem(response, status, code)
        assert await nothing_stored(blob_dir)
        fits = streamed_file(LIMIT - len(PNG))
        response = await remote.post(UPLOAD, content=fits, headers={**owner, **MULTIPART})
        assert response.status_code == 201, response.text
        assert response.json()["size"] == LIMIT
        assert response.json()["sha256"] == fits.content_sha256
        assert len(blobs_in(blob_dir)) == 1


async def test_multipart_shapes(client: AppClient, blob_dir: Path) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    # Other fields before the file are skipped; the file is found.
    mixed = StreamedBody(
        part_head("note", None) + b"hello" + part_head(first=False), PNG, 1000, CLOSING
    )
    response = await client.post(UPLOAD, content=mixed, headers={**owner, **MULTIPART})
    assert response.status_code == 201, response.text
    assert response.json()["sha256"] == mixed.content_sha256
    assert response.json()["filename"] == "big.png"
    # No file part, a part cut short, garbage, and no multipart at all: 422.
    no_file = part_head("note", None) + b"hello" + CLOSING
    cut_short = part_head() + PNG + b"and then nothing"
    garbage = b"this is not multipart at all"
    for content in (no_file, cut_short, garbage):
        response = await client.post(UPLOAD, content=content, headers={**owner, **MULTIPART})
        assert_problem(response, 422, "invalid_input")
    plain = {**owner, "Content-Type": "application/octet-stream"}
    assert_problem(await client.post(UPLOAD, content=PNG, headers=plain), 422, "invalid_input")
    no_boundary = {**owner, "Content-Type": "multipart/form-data"}
    assert_problem(
        await client.post(UPLOAD, content=PNG, headers=no_boundary), 422, "invalid_input"
    )
    assert len(blobs_in(blob_dir)) == 1
