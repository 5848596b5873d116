"""`POST /users/{id}/avatar`, and `avatar_url` in user responses (read, list, /auth/me)."""

from __future__ import annotations

from pathlib import Path

from api.infrastructure.persistence.files.storage import FileDocument
from tests.support.app import AppClient, ClientFactory, assert_problem
from tests.support.files import (
    EXE,
    blobs_in,
    fetch,
    png_bytes,
    sha256,
    upload,
)
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import MEMBER_PASSWORD, USERS, audit_entries, signed_in, two_tenants

ME = "/api/v1/auth/me"


def avatar_path(user_id: str) -> str:
    return f"{USERS}/{user_id}/avatar"


async def test_set_and_replace_an_avatar(client: AppClient, blob_dir: Path) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    assert max_user["avatar_url"] is None
    first_image = png_bytes(2000)
    first = await upload(client, member, first_image, "me.png", path=avatar_path(max_user["id"]))
    assert first.status_code == 200, first.text
    assert first.json()["id"] == max_user["id"]
    first_url = first.json()["avatar_url"]
    assert first_url and sha256((await fetch(client, first_url)).content) == sha256(first_image)
    [first_blob] = blobs_in(blob_dir)

    second_image = png_bytes(3000)
    second = await upload(client, member, second_image, "new.png", path=avatar_path(max_user["id"]))
    assert second.status_code == 200, second.text
    # The old avatar's blob and metadata are gone; only the new one is stored.
    [second_blob] = blobs_in(blob_dir)
    assert second_blob != first_blob and not first_blob.exists()
    assert await FileDocument.count() == 1
    assert_problem(await fetch(client, first_url), 404, "not_found")

    # avatar_url is a fresh signed URL everywhere the user is shown.
    for path, headers in ((f"{USERS}/{max_user['id']}", member), (ME, member)):
        shown = await client.get(path, headers=headers)
        assert shown.status_code == 200, shown.text
        fetched = await fetch(client, shown.json()["avatar_url"])
        assert sha256(fetched.content) == sha256(second_image)
    listed = (await client.get(USERS, headers=owner)).json()["items"]
    urls = {u["email"]: u["avatar_url"] for u in listed}
    assert urls[acme.owner.email] is None
    assert sha256((await fetch(client, urls["max@acme.example.com"])).content) == sha256(
        second_image
    )
    actions = [
        e["action"] for e in await audit_entries(client, owner, action="user.avatar_updated")
    ]
    assert actions == ["user.avatar_updated", "user.avatar_updated"]


async def test_avatar_auth_and_isolation(client: AppClient) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    ann, _ = await signed_in(client, acme, owner, "ann@acme.example.com", full_name="Ann")
    image = png_bytes(500)
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(
        await upload(client, tenant, image, path=avatar_path(max_user["id"])), 401, "unauthorized"
    )
    # A member may set their own avatar only.
    assert_problem(
        await upload(client, member, image, path=avatar_path(ann["id"])), 403, "forbidden"
    )
    # An owner (users:write) may set anyone's in their tenant.
    by_owner = await upload(client, owner, image, path=avatar_path(ann["id"]))
    assert by_owner.status_code == 200 and by_owner.json()["avatar_url"]
    # Another tenant's user does not exist for beta.
    assert_problem(
        await upload(client, beta_owner, image, path=avatar_path(ann["id"])), 404, "not_found"
    )
    assert_problem(
        await upload(client, owner, image, path=avatar_path("0123456789abcdef01234567")),
        404,
        "not_found",
    )
    # An avatar is replaced through its route, not deleted through the files route.
    [avatar] = await FileDocument.find({"purpose": "avatar"}).to_list()
    deleted = await client.delete(f"/api/v1/files/{avatar.id}", headers=owner)
    assert_problem(deleted, 409, "conflict")
    assert (await client.get(f"{USERS}/{ann['id']}", headers=owner)).json()["avatar_url"]


async def test_avatar_types_and_size(make_storage_client: ClientFactory, blob_dir: Path) -> None:
    async with make_storage_client(max_avatar_bytes=4096) as http:
        acme = await onboard(http, "acme")
        owner = await owner_headers(http, acme)
        me = (await http.get(ME, headers=owner)).json()
        path = avatar_path(me["id"])
        # Images only, by their bytes: text (allowed for uploads) and an .exe named .png are not.
        assert_problem(
            await upload(http, owner, b"hello", "me.png", path=path), 415, "unsupported_media_type"
        )
        assert_problem(
            await upload(http, owner, EXE, "me.png", path=path), 415, "unsupported_media_type"
        )
        assert_problem(
            await upload(http, owner, png_bytes(5000), path=path), 413, "payload_too_large"
        )
        assert_problem(await http.post(path, headers=owner), 422, "invalid_input")
        assert blobs_in(blob_dir) == [] and await FileDocument.count() == 0
        gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 20
        ok = await upload(http, owner, gif, "me.gif", "image/gif", path=path)
        assert ok.status_code == 200, ok.text
        shown = await fetch(http, ok.json()["avatar_url"])
        assert shown.headers["content-type"] == "image/gif"


async def test_a_deleted_users_avatar_leaves_the_storage(client: AppClient, blob_dir: Path) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    for email, by_themselves in (("max@acme.example.com", True), ("ann@acme.example.com", False)):
        user, headers = await signed_in(client, acme, owner, email)
        image = await upload(
            client, headers, png_bytes(1500), "me.png", path=avatar_path(user["id"])
        )
        assert image.status_code == 200, image.text
        assert len(blobs_in(blob_dir)) == 1 and await FileDocument.count() == 1
        if by_themselves:
            deleted = await client.post(
                "/api/v1/auth/delete-account", json={"password": MEMBER_PASSWORD}, headers=headers
            )
        else:
            deleted = await client.delete(f"{USERS}/{user['id']}", headers=owner)
        assert deleted.status_code == 204, deleted.text
        assert blobs_in(blob_dir) == [] and await FileDocument.count() == 0
