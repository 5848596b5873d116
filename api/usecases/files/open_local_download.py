"""Downloads of the local provider through signed links: the link is the credential."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from api.domain.errors import Forbidden
from api.domain.files.downloads import DownloadLinks
from api.domain.files.storage import (
    BlobStorage,
    BlobStorageFactory,
    StorageConfig,
    StorageProvider,
)
from api.domain.tenancy import current_tenant_or_none
from api.usecases.kernel.tenancy import ResolveTenant


@dataclass(frozen=True)
class Download:
    """The bytes to answer (the first chunk already read), and how to label them."""

    filename: str
    content_type: str
    chunks: AsyncIterator[bytes]


class OpenLocalDownload:
    """Stream a blob of the local provider through a signed link (no token, no header).

    Rules: the link is the credential: a tampered, malformed or expired link is 403; its
    tenant must be an active tenant (suspended 403, unknown 404) and, when the request
    names a tenant too, the same one (403); a blob that is gone is 404. The first chunk is
    read here, so a missing blob is an error before the response starts.
    """

    def __init__(
        self, links: DownloadLinks, factory: BlobStorageFactory, tenants: ResolveTenant
    ) -> None:
        self._links = links
        self._factory = factory
        self._tenants = tenants

    async def execute(self, params: Mapping[str, str]) -> Download:
        link = self._links.verify_query(params)
        tenant_id = await self._tenants.by_id(link.tenant_id)
        named = current_tenant_or_none()
        if named is not None and named != tenant_id:
            raise Forbidden("This download link belongs to another tenant.")
        storage = self._factory.for_config(
            StorageConfig(provider=StorageProvider.LOCAL), tenant_id=tenant_id
        )
        return Download(link.filename, link.content_type, await opened(storage, link.key))


async def opened(storage: BlobStorage, key: str) -> AsyncIterator[bytes]:
    """The blob's chunks, its first already read (a missing blob fails here, before an
    answer starts)."""
    chunks = aiter(storage.open(key))
    first = await anext(chunks, b"")
    return _prepend(first, chunks)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        close = getattr(rest, "aclose", None)  # an async generator: release its file now
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
