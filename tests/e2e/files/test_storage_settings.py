"""`GET|PUT /storage`, `GET /storage/available`: settings proven before they are saved,
secrets encrypted and never shown, files readable after a switch, provider outages."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import devservers
import httpx
import punq
from bson import ObjectId

from api.common.clock import utcnow
from api.config import DEFAULT_ALLOWED_CONTENT_TYPES
from api.domain.files.storage import (
    FileRepository,
    StorageConfig,
    StorageConfigRepository,
    StorageProvider,
    StoredFile,
)
from api.infrastructure.persistence.files.storage import FileDocument, StorageConfigDocument
from tests.support.app import AppClient, assert_problem
from tests.support.database import as_tenant
from tests.support.files import (
    FILES,
    STORAGE,
    fetch,
    png_bytes,
    sha256,
    upload,
    uploaded,
)
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import AUDIT, audit_entries, signed_in, two_tenants
from tests.support.storage_servers import (
    S3_ACCESS_KEY_ID,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    s3_client,
)

AVAILABLE = f"{STORAGE}/available"
SETTINGS_FIELDS = {
    "provider", "container", "bucket", "region", "endpoint_url", "has_secret", "is_default",
    "updated_at", "max_upload_bytes", "allowed_content_types",
}  # fmt: skip


async def test_a_new_tenant_shows_the_deployment_default(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    shown = await client.get(STORAGE, headers=owner)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert set(body) == SETTINGS_FIELDS
    assert body["provider"] == "local" and body["is_default"] is True
    assert body["has_secret"] is False and body["updated_at"] is None
    assert body["max_upload_bytes"] == 100 * 1024 * 1024
    assert body["allowed_content_types"] == sorted(DEFAULT_ALLOWED_CONTENT_TYPES)
    available = await client.get(AVAILABLE, headers=owner)
    assert available.status_code == 200, available.text
    assert available.json() == {
        "items": [
            {"provider": "local", "configured": True},
            {"provider": "azure_blob", "configured": False},
            {"provider": "s3", "configured": False},
        ]
    }


async def test_storage_routes_need_storage_manage(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    local = {"provider": "local"}
    for headers, status, code in ((tenant, 401, "unauthorized"), (member, 403, "forbidden")):
        assert_problem(await client.get(STORAGE, headers=headers), status, code)
        assert_problem(await client.get(AVAILABLE, headers=headers), status, code)
        assert_problem(await client.put(STORAGE, json=local, headers=headers), status, code)
    assert await StorageConfigDocument.count() == 0


async def test_choosing_local_saves_a_version_and_is_audited(client: AppClient) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    saved = await client.put(STORAGE, json={"provider": "local"}, headers=owner)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["provider"] == "local" and body["is_default"] is False
    assert body["updated_at"] and body["has_secret"] is False
    assert (await client.get(STORAGE, headers=owner)).json() == body
    # Beta still has the default.
    assert (await client.get(STORAGE, headers=beta_owner)).json()["is_default"] is True
    [entry] = await audit_entries(client, owner, action="storage.updated")
    assert entry["resource_type"] == "storage" and entry["tenant_id"] == acme.tenant.id


async def test_bad_settings_are_422_and_nothing_is_saved(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    s3: dict[str, Any] = {
        "provider": "s3", "bucket": "files", "region": "us-east-1",
        "access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t-value",
    }  # fmt: skip
    bad_bodies: list[Any] = [
        {},
        {"provider": "ftp"},
        {"provider": "local", "bucket": "stray"},  # extra fields are refused
        {"provider": "azure_blob", "container": "files"},  # no connection string
        {"provider": "azure_blob", "connection_string": "x", "container": "Bad_Name"},
        {k: v for k, v in s3.items() if k != "secret_access_key"},
        {**s3, "bucket": "x"},
        {**s3, "endpoint_url": "ftp://example.com"},
        {**s3, "endpoint_url": "http://user:pw@example.com"},
        {**s3, "unknown": 1},
        ["local"],
    ]
    for body in bad_bodies:
        answer = await client.put(STORAGE, json=body, headers=owner)
        problem = assert_problem(answer, 422, "invalid_input")
        assert "s3cr3t-value" not in answer.text, body
        assert problem["errors"], body
    assert await StorageConfigDocument.count() == 0
    assert (await client.get(STORAGE, headers=owner)).json()["is_default"] is True


async def test_a_provider_outage_is_503_and_leaves_nothing(
    client: AppClient, container: punq.Container
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    local_file = await uploaded(client, owner, b"written before the switch\n", "before.txt")
    # S3 settings whose endpoint is a port nothing listens on, saved through the repository
    # (the route would refuse them: they fail the round trip).
    dead = f"http://127.0.0.1:{devservers.free_port()}"
    with as_tenant(acme.tenant):
        config = await container.resolve(StorageConfigRepository).add(
            StorageConfig(
                provider=StorageProvider.S3, bucket="files", region="us-east-1",
                access_key_id="AKIADEAD", secret_access_key="dead-secret-key",
                endpoint_url=dead, created_at=utcnow(),
            )
        )  # fmt: skip
    shown = (await client.get(STORAGE, headers=owner)).json()
    assert shown["provider"] == "s3" and shown["endpoint_url"] == dead
    assert shown["has_secret"] is True and "dead-secret-key" not in str(shown)
    raw = await StorageConfigDocument.get_pymongo_collection().find_one(
        {"_id": ObjectId(config.id)}
    )
    assert raw is not None and raw["secret_access_key"] != "dead-secret-key"
    assert "dead-secret-key" not in str(raw)

    refused = await upload(client, owner, png_bytes(1000))
    assert_problem(refused, 503, "service_unavailable")
    assert refused.headers["retry-after"]
    assert await FileDocument.count() == 1  # only the file from before
    # Files written before the switch are still served by their own provider.
    before = await client.get(f"{FILES}/{local_file['id']}", headers=owner)
    assert (await fetch(client, before.json()["url"])).content == b"written before the switch\n"
    # A file of the dead provider: signing is local work, deleting needs the provider.
    with as_tenant(acme.tenant):
        stranded = await container.resolve(FileRepository).add(
            StoredFile(
                filename="s.png", content_type="image/png", size=1, sha256="0" * 64,
                key=f"tenants/{acme.tenant.id}/{'a' * 32}", config_id=config.id or "",
                created_at=utcnow(),
            )
        )  # fmt: skip
    assert (await client.get(f"{FILES}/{stranded.id}", headers=owner)).status_code == 200
    deleting = await client.delete(f"{FILES}/{stranded.id}", headers=owner)
    assert_problem(deleting, 503, "service_unavailable")
    assert await FileDocument.count() == 2  # the metadata stays until the blob is gone


def s3_settings(endpoint_url: str, bucket: str) -> dict[str, Any]:
    return {
        "provider": "s3", "bucket": bucket, "region": S3_REGION, "endpoint_url": endpoint_url,
        "access_key_id": S3_ACCESS_KEY_ID, "secret_access_key": S3_SECRET_ACCESS_KEY,
    }  # fmt: skip


async def test_switch_to_s3_and_back_keeps_files_readable(
    client: AppClient, s3_server: str, s3_bucket: str
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    answers: list[httpx.Response] = []
    chosen = await client.put(STORAGE, json=s3_settings(s3_server, s3_bucket), headers=owner)
    answers.append(chosen)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["provider"] == "s3" and chosen.json()["bucket"] == s3_bucket
    assert chosen.json()["has_secret"] is True and chosen.json()["endpoint_url"] == s3_server
    big = png_bytes(9 * 1024 * 1024)  # more than one 8 MiB part: a multipart upload
    stored = await upload(client, owner, big, "big.png")
    answers.append(stored)
    assert stored.status_code == 201, stored.text
    on_s3 = stored.json()
    assert on_s3["url"].startswith(s3_server)
    downloaded = await fetch(client, on_s3["url"])
    assert downloaded.status_code == 200 and sha256(downloaded.content) == on_s3["sha256"]
    [key] = [o["Key"] for o in s3_client(s3_server).list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert key.startswith(f"tenants/{acme.tenant.id}/") and "big" not in key

    back = await client.put(STORAGE, json={"provider": "local"}, headers=owner)
    answers.append(back)
    assert back.status_code == 200 and back.json()["provider"] == "local"
    still = await client.get(f"{FILES}/{on_s3['id']}", headers=owner)
    answers.append(still)
    assert still.status_code == 200 and still.json()["url"].startswith(s3_server)
    assert sha256((await fetch(client, still.json()["url"])).content) == sha256(big)
    local = await uploaded(client, owner, b"now on disk\n", "local.txt")
    assert "/api/v1/files/download?" in local["url"]
    assert (await client.delete(f"{FILES}/{on_s3['id']}", headers=owner)).status_code == 204
    assert "Contents" not in s3_client(s3_server).list_objects_v2(Bucket=s3_bucket)

    answers += [await client.get(STORAGE, headers=owner)]
    answers += [await client.get(path, headers=owner) for path in (AUDIT, AVAILABLE)]
    for answer in answers:
        assert S3_SECRET_ACCESS_KEY not in answer.text
    for raw in await StorageConfigDocument.get_pymongo_collection().find({}).to_list():
        assert S3_SECRET_ACCESS_KEY not in str(raw)


async def test_settings_failing_the_round_trip_are_422_and_not_saved(
    client: AppClient, s3_server: str, s3_bucket: str, azurite: str, azure_container: str
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    wrong_key = re.sub(r"AccountKey=[^;]+", "AccountKey=" + "A" * 86 + "==", azurite)
    dead = f"http://127.0.0.1:{devservers.free_port()}"
    for body, reason in (
        ({"provider": "azure_blob", "connection_string": wrong_key,
          "container": azure_container}, "Azure Blob refused"),
        (s3_settings(s3_server, "no-such-bucket-here"), "S3 refused"),
        (s3_settings(dead, s3_bucket), "could not be reached"),
    ):  # fmt: skip
        answer = await client.put(STORAGE, json=body, headers=owner)
        problem = assert_problem(answer, 422, "invalid_input")
        assert reason in problem["detail"], problem
        assert "A" * 86 not in answer.text and S3_SECRET_ACCESS_KEY not in answer.text
    assert await StorageConfigDocument.count() == 0
    assert (await client.get(STORAGE, headers=owner)).json()["is_default"] is True


async def test_azure_blob_round_trip(client: AppClient, azurite: str, azure_container: str) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    body = {"provider": "azure_blob", "connection_string": azurite, "container": azure_container}
    chosen = await client.put(STORAGE, json=body, headers=owner)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["container"] == azure_container and chosen.json()["has_secret"]
    assert "AccountKey" not in chosen.text
    data = png_bytes(5 * 1024 * 1024)
    stored = await uploaded(client, owner, data, "photo.png")
    fetched = await fetch(client, stored["url"])
    assert fetched.status_code == 200 and sha256(fetched.content) == sha256(data)
    assert fetched.headers["content-type"] == "image/png"
    assert (await client.delete(f"{FILES}/{stored['id']}", headers=owner)).status_code == 204
    assert (await fetch(client, stored["url"])).status_code == 404


async def test_storage_outside_the_allowed_endpoints_is_refused_before_any_call(
    client: AppClient,
) -> None:
    """A tenant admin cannot make Parley probe its network (SSRF): the test settings allow
    http://127.0.0.1 only, and a listener on 127.0.0.2 sees no connection at all."""
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    connections: list[object] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    listener = await asyncio.start_server(record, "127.0.0.2", 0)
    port = listener.sockets[0].getsockname()[1]
    inside = f"http://127.0.0.2:{port}"
    try:
        bodies: list[tuple[dict[str, Any], str]] = [
            ({**s3_settings(inside, "files")}, "endpoint_url"),
            ({**s3_settings("http://169.254.169.254", "files")}, "endpoint_url"),
            (
                {"provider": "azure_blob", "container": "files",
                 "connection_string": f"AccountName=a;AccountKey=a2V5;BlobEndpoint={inside}/a"},
                "connection_string",
            ),
            (
                {"provider": "azure_blob", "container": "files",
                 "connection_string": "AccountName=a;AccountKey=a2V5;EndpointSuffix=evil.example"},
                "connection_string",
            ),
        ]  # fmt: skip
        for body, field in bodies:
            answer = await client.put(STORAGE, json=body, headers=owner)
            problem = assert_problem(answer, 422, "invalid_input")
            assert [e["loc"][-1] for e in problem["errors"]] == [field], problem
            assert "STORAGE_ALLOWED_ENDPOINTS" in answer.text
    finally:
        listener.close()
        await listener.wait_closed()
    assert connections == []
    assert await StorageConfigDocument.count() == 0
