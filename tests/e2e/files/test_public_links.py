"""Local download links are built from PUBLIC_BASE_URL and API_PREFIX, and work there."""

from __future__ import annotations

from urllib.parse import urlsplit

from api.config import Settings
from tests.support.app import serve
from tests.support.files import png_bytes, sha256, upload
from tests.support.onboarding import OWNER_PASSWORD, onboard

PREFIX = "/parley/v2"
PUBLIC = "https://files.example.com"


async def test_download_links_follow_the_api_prefix_and_public_url(
    storage_settings: Settings,
) -> None:
    settings = storage_settings.model_copy(deep=True)
    settings.api_prefix = PREFIX
    settings.server.public_base_url = PUBLIC
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        tenant = {"X-Tenant-ID": acme.tenant.id or ""}
        signed_in = await http.post(
            f"{PREFIX}/auth/login",
            json={"email": acme.owner.email, "password": OWNER_PASSWORD},
            headers=tenant,
        )
        assert signed_in.status_code == 200, signed_in.text
        owner = {**tenant, "Authorization": f"Bearer {signed_in.json()['access_token']}"}
        data = png_bytes(2048)
        response = await upload(http, owner, data, path=f"{PREFIX}/upload")
        assert response.status_code == 201, response.text
        url = urlsplit(response.json()["url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC}{PREFIX}/files/download"
        downloaded = await http.get(f"{url.path}?{url.query}")  # the link's own route
        assert downloaded.status_code == 200, downloaded.text
        assert sha256(downloaded.content) == sha256(data)
