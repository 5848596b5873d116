"""The local provider's signed download links: bound to tenant and key, tamper-proof, expiring.

The route that serves them (`GET /api/v1/files/download`) is tested end to end; here
the signer and the URL `LocalBlobStorage.signed_url` builds.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from api.domain.errors import Forbidden
from api.infrastructure.storage.local import LocalBlobStorage, LocalUrlSigner, local_download_url
from tests.fakes.clock import FakeClock

TENANT = "tenant-alpha"
OTHER = "tenant-beta"
BASE_URL = "https://parley.example.com"


async def _local_link(clock: FakeClock, tmp_path: Path) -> dict[str, str]:
    storage = LocalBlobStorage(
        tmp_path,
        tenant_id=TENANT,
        signer=LocalUrlSigner("s3cret", clock=clock),
        download_url=local_download_url(BASE_URL + "/", "/api/v1"),
    )
    signed = await storage.signed_url(
        f"tenants/{TENANT}/abc", expires_in=300, filename="Ré sumé.pdf", content_type="text/csv"
    )
    url = urlsplit(signed.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{BASE_URL}/api/v1/files/download"
    assert signed.expires_at.timestamp() == clock.now + 300
    return {name: values[0] for name, values in parse_qs(url.query, strict_parsing=True).items()}


async def test_local_link_verifies_and_says_what_to_serve(tmp_path: Path) -> None:
    clock = FakeClock()
    query = await _local_link(clock, tmp_path)
    assert set(query) == {"tenant", "key", "exp", "filename", "type", "sig"}
    download = LocalUrlSigner("s3cret", clock=clock).verify_query(query)
    assert (download.tenant_id, download.key) == (TENANT, f"tenants/{TENANT}/abc")
    assert (download.filename, download.content_type) == ("Ré sumé.pdf", "text/csv")
    assert download.expires == int(clock.now) + 300


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant", OTHER),
        ("key", f"tenants/{TENANT}/other"),
        ("key", f"tenants/{OTHER}/abc"),
        ("exp", "1900000000"),
        ("filename", "evil.html"),
        ("type", "text/html"),
        ("sig", "A" * 43),
        ("sig", "ünïcode"),
        ("exp", "soon"),
    ],
)
async def test_local_link_refuses_tampering(tmp_path: Path, field: str, value: str) -> None:
    clock = FakeClock()
    query = await _local_link(clock, tmp_path)
    with pytest.raises(Forbidden, match="not valid"):
        LocalUrlSigner("s3cret", clock=clock).verify_query({**query, field: value})


async def test_local_link_refuses_missing_parts_and_other_secrets(tmp_path: Path) -> None:
    clock = FakeClock()
    query = await _local_link(clock, tmp_path)
    signer = LocalUrlSigner("s3cret", clock=clock)
    for field in query:
        with pytest.raises(Forbidden):
            signer.verify_query({k: v for k, v in query.items() if k != field})
    with pytest.raises(Forbidden, match="not valid"):
        LocalUrlSigner("another-secret", clock=clock).verify_query(query)


async def test_local_link_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    query = await _local_link(clock, tmp_path)
    signer = LocalUrlSigner("s3cret", clock=clock)
    clock.now += 299
    signer.verify_query(query)
    clock.now += 1
    with pytest.raises(Forbidden, match="expired"):
        signer.verify_query(query)


@pytest.mark.parametrize(
    ("base", "prefix", "url"),
    [
        ("https://p.example.com", "/api/v1", "https://p.example.com/api/v1/files/download"),
        ("https://p.example.com/", "/parley/v2/", "https://p.example.com/parley/v2/files/download"),
        ("https://example.com/parley", "", "https://example.com/parley/files/download"),
    ],
)
def test_the_download_route_is_under_the_public_url_and_api_prefix(
    base: str, prefix: str, url: str
) -> None:
    assert local_download_url(base, prefix) == url


def test_local_link_is_bound_to_its_tenant() -> None:
    signer = LocalUrlSigner("s3cret")
    key = f"tenants/{OTHER}/abc"
    with pytest.raises(ValueError, match="tenant's folder"):
        signer.query(tenant_id=TENANT, key=key, expires=2**31, filename="a", content_type="b")
    # even an authentic signature over another tenant's key is refused
    signature = signer.sign(
        tenant_id=TENANT, key=key, expires=2**31, filename="a", content_type="b"
    )
    with pytest.raises(Forbidden):
        signer.verify(
            tenant_id=TENANT,
            key=key,
            expires=2**31,
            filename="a",
            content_type="b",
            signature=signature,
        )
