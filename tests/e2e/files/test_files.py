"""`POST /upload`, `GET|DELETE /files/{id}` and the local provider's signed download links:
happy paths, auth, tenant isolation, limits, sniffing, and links that were tampered with."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import punq

from api.domain.files.downloads import DownloadLinks
from api.domain.tenants.tenant import TenantStatus
from api.infrastructure.persistence.files.storage import FileDocument
from api.infrastructure.storage.local import LocalUrlSigner
from api.usecases.tenants.change_tenant_status import ChangeTenantStatus
from api.usecases.tenants.rules import OPERATOR
from tests.support.app import AppClient, ClientFactory, assert_problem
from tests.support.files import (
    EXE,
    FILE_FIELDS,
    FILES,
    PNG,
    UPLOAD,
    blobs_in,
    fetch,
    png_bytes,
    sha256,
    upload,
    uploaded,
)
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import signed_in, two_tenants


def link_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def download_path(params: dict[str, str]) -> str:
    return "/api/v1/files/download?" + urlencode(params)


async def test_upload_small_and_multi_megabyte_files_round_trip(
    client: AppClient, blob_dir: Path
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    for data, name in ((b"hello, world\n", "notes.txt"), (png_bytes(3 * 1024 * 1024), "big.png")):
        response = await upload(client, member, data, name, "application/octet-stream")
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) >= FILE_FIELDS
        assert body["filename"] == name and body["size"] == len(data)
        assert body["sha256"] == sha256(data)
        assert body["content_type"] == ("text/plain" if name == "notes.txt" else "image/png")
        downloaded = await fetch(client, body["url"])  # no token, no tenant header
        assert downloaded.status_code == 200, downloaded.text
        assert sha256(downloaded.content) == sha256(data)
        assert downloaded.headers["content-type"].startswith(body["content_type"])
        assert downloaded.headers["content-disposition"] == f'attachment; filename="{name}"'
        again = await client.get(f"{FILES}/{body['id']}", headers=member)
        assert again.status_code == 200, again.text
        assert {k: again.json()[k] for k in ("id", "sha256", "size")} == {
            k: body[k] for k in ("id", "sha256", "size")
        }
        assert (await fetch(client, again.json()["url"])).content == data
    stored = blobs_in(blob_dir)
    assert len(stored) == 2
    assert all(p.parent.name == acme.tenant.id and len(p.name) == 32 for p in stored)


async def test_files_auth_and_tenant_isolation(client: AppClient) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    file = await uploaded(client, owner, png_bytes(100))
    _, nobody = await signed_in(client, acme, owner, "no@acme.example.com", roles=[])
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await upload(client, tenant, png_bytes(10)), 401, "unauthorized")
    assert_problem(await client.get(f"{FILES}/{file['id']}", headers=tenant), 401, "unauthorized")
    assert_problem(await upload(client, nobody, png_bytes(10)), 403, "forbidden")
    assert_problem(await client.get(f"{FILES}/{file['id']}", headers=nobody), 403, "forbidden")
    assert_problem(await client.delete(f"{FILES}/{file['id']}", headers=nobody), 403, "forbidden")
    # Another tenant's file does not exist for beta.
    for method in ("GET", "DELETE"):
        answer = await client.request(method, f"{FILES}/{file['id']}", headers=beta_owner)
        assert_problem(answer, 404, "not_found")
    for missing in ("not-an-id", "0123456789abcdef01234567"):
        assert_problem(await client.get(f"{FILES}/{missing}", headers=owner), 404, "not_found")
    assert (await client.get(f"{FILES}/{file['id']}", headers=owner)).status_code == 200
    assert beta.tenant.id != acme.tenant.id


async def test_delete_removes_the_blob_and_the_metadata(client: AppClient, blob_dir: Path) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    file = await uploaded(client, member, png_bytes(1000))
    assert len(blobs_in(blob_dir)) == 1
    deleted = await client.delete(f"{FILES}/{file['id']}", headers=member)
    assert deleted.status_code == 204, deleted.text
    assert blobs_in(blob_dir) == [] and await FileDocument.count() == 0
    assert_problem(await client.get(f"{FILES}/{file['id']}", headers=member), 404, "not_found")
    assert_problem(await fetch(client, file["url"]), 404, "not_found")
    assert_problem(await client.delete(f"{FILES}/{file['id']}", headers=member), 404, "not_found")


async def test_limits_and_sniffing_store_nothing_when_refused(
    make_storage_client: ClientFactory, blob_dir: Path
) -> None:
    async with make_storage_client(max_upload_bytes=64 * 1024) as http:
        acme = await onboard(http, "acme")
        owner = await owner_headers(http, acme)
        too_big = await upload(http, owner, png_bytes(3 * 1024 * 1024))
        assert_problem(too_big, 413, "payload_too_large")
        just_over = await upload(http, owner, png_bytes(64 * 1024 - len(PNG) + 1))
        assert_problem(just_over, 413, "payload_too_large")
        # An executable renamed .png, claimed as image/png: the bytes decide.
        assert_problem(await upload(http, owner, EXE, "cat.png"), 415, "unsupported_media_type")
        assert blobs_in(blob_dir) == [] and await FileDocument.count() == 0
        # Bad input: no file part, an empty file, a JSON body.
        assert_problem(await http.post(UPLOAD, headers=owner), 422, "invalid_input")
        assert_problem(await upload(http, owner, b"", "empty.txt"), 422, "invalid_input")
        as_json = await http.post(UPLOAD, json={"file": "x"}, headers=owner)
        assert_problem(as_json, 422, "invalid_input")
        exact = await upload(http, owner, png_bytes(64 * 1024 - len(PNG)))  # exactly the limit
        assert exact.status_code == 201, exact.text


async def test_filenames_are_sanitised_and_never_used_as_keys(
    client: AppClient, blob_dir: Path
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    for name, expected in (("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini")):
        body = await uploaded(client, owner, b"root:x:0:0\n", name)
        assert body["filename"] == expected
        downloaded = await fetch(client, body["url"])
        assert downloaded.headers["content-disposition"] == f'attachment; filename="{expected}"'
    weird = await uploaded(client, owner, b"text", "r\u00e9sum\u00e9\u202e.txt")
    assert weird["filename"] == "r\u00e9sum\u00e9.txt"
    assert (await fetch(client, weird["url"])).headers["content-disposition"] == (
        "attachment; filename=\"resume.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    )
    stored = blobs_in(blob_dir)
    assert len(stored) == 3 and all(p.is_relative_to(blob_dir) for p in stored)
    assert not any("passwd" in str(p) or "boot" in str(p) for p in stored)


async def test_tampered_expired_and_foreign_links_are_refused(
    client: AppClient, container: punq.Container
) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    file = await uploaded(client, owner, b"secret plans\n", "plans.txt")
    beta_file = await uploaded(client, beta_owner, b"beta's own\n", "beta.txt")
    params = link_params(file["url"])
    assert (await client.get(download_path(params))).status_code == 200
    beta_key = link_params(beta_file["url"])["key"]
    for tampered in (
        {**params, "sig": params["sig"][:-2] + ("AA" if params["sig"][-2:] != "AA" else "BB")},
        {**params, "key": beta_key},  # another tenant's blob with acme's signature
        {**params, "tenant": beta.tenant.id or ""},
        {**params, "filename": "other.txt"},
        {**params, "type": "text/html"},
        {**params, "exp": str(int(params["exp"]) + 3600)},
        {k: v for k, v in params.items() if k != "sig"},
    ):
        assert_problem(await client.get(download_path(tampered)), 403, "forbidden")
    # A link signed correctly but expired.
    signer = container.resolve(DownloadLinks)
    assert isinstance(signer, LocalUrlSigner)
    expired = signer.query(
        tenant_id=acme.tenant.id or "",
        key=params["key"],
        expires=int(time.time()) - 1,
        filename="plans.txt",
        content_type="text/plain",
    )
    assert_problem(await client.get(download_path(expired)), 403, "forbidden")
    # With a tenant named, it must be the link's tenant.
    on_beta = await client.get(download_path(params), headers={"X-Tenant-ID": beta.tenant.id or ""})
    assert_problem(on_beta, 403, "forbidden")
    on_acme = await client.get(download_path(params), headers={"X-Tenant-ID": acme.tenant.id or ""})
    assert on_acme.status_code == 200 and on_acme.content == b"secret plans\n"
    # A suspended tenant's links stop working.
    await container.resolve(ChangeTenantStatus).execute(
        OPERATOR, acme.tenant.id or "", TenantStatus.SUSPENDED
    )
    assert_problem(await client.get(download_path(params)), 403, "tenant_suspended")
