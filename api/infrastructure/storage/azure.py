"""Blobs in Azure Blob Storage, through the async SDK (`azure.storage.blob.aio`).

One client per operation (`async with`): adapters are built per request and have no
`close()` in the port, so nothing may outlive a call; building a client only parses the
connection string. Uploads are staged in 4 MiB blocks from the incoming stream and then
committed (memory stays at about one block); uploads smaller than a block are one `Put
Blob`. Blocks go out as `BytesIO` streams, which aiohttp sends in pieces (raw bytes would
be copied, and aiohttp warns about them). Downloads fetch 2 MiB per request
(`max_single_get_size`/`max_chunk_get_size`), chunk by chunk.
Signed URLs are service SAS tokens (read only) that also fix the response's
Content-Disposition and Content-Type; they need an account key in the connection string.

Errors (messages carry the provider's error code, never the connection string or key):

- unreachable, timed out, 5xx, 408, 429 → `ServiceUnavailable("file storage")`
- malformed connection string, failed authentication, 403, a missing container, other
  4xx → `InvalidInput("Azure Blob refused these settings: <reason>")`
- a missing blob when reading → `NotFound`; deleting a missing blob is not an error.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobSasPermissions,
    ContentSettings,
    generate_blob_sas,
)
from azure.storage.blob.aio import BlobClient, BlobServiceClient, LinearRetry

from api.common.clock import utcnow
from api.domain.errors import InvalidInput, NotFound, ParleyError, ServiceUnavailable
from api.domain.files.storage import SignedUrl
from api.infrastructure.storage import check_tenant_key, tenant_prefix
from api.infrastructure.storage.sniff import content_disposition

BLOCK_SIZE = 4 * 1024 * 1024  # staged per request when uploading
DOWNLOAD_CHUNK = 2 * 1024 * 1024  # fetched per request when reading
_SERVICE = "file storage"
_REFUSED = "Azure Blob refused these settings"
_TRANSIENT_STATUSES = frozenset({408, 429})
_PROBE = b"parley storage probe"


class AzureBlobStorage:
    """`BlobStorage` on one Azure Blob container, for one tenant."""

    def __init__(
        self,
        connection_string: str,
        container: str,
        *,
        tenant_id: str,
        connection_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 1,
    ) -> None:
        self._connection_string = connection_string
        self._container = container
        self._tenant_id = tenant_id
        self._prefix = tenant_prefix(tenant_id)
        self._connection_timeout = connection_timeout
        self._read_timeout = read_timeout
        self._retries = retries

    def _service(self) -> BlobServiceClient:
        try:
            return BlobServiceClient.from_connection_string(
                self._connection_string,
                retry_policy=LinearRetry(
                    backoff=1, retry_total=self._retries, random_jitter_range=0
                ),
                max_single_get_size=DOWNLOAD_CHUNK,
                max_chunk_get_size=DOWNLOAD_CHUNK,
                connection_timeout=self._connection_timeout,
                read_timeout=self._read_timeout,
            )
        except (ValueError, TypeError, AttributeError):
            raise InvalidInput(f"{_REFUSED}: the connection string is malformed") from None

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> None:
        check_tenant_key(key, self._tenant_id)
        settings = ContentSettings(content_type=content_type)
        try:
            async with self._service() as service:
                blob = service.get_blob_client(self._container, key)
                block = io.BytesIO()
                block_ids: list[BlobBlock] = []
                async for chunk in chunks:
                    block.write(chunk)
                    if block.tell() >= BLOCK_SIZE:
                        block_ids.append(await _stage(blob, block))
                        block = io.BytesIO()
                if not block_ids:  # small: one request
                    size = block.tell()
                    block.seek(0)
                    await blob.upload_blob(
                        block, length=size, overwrite=True, content_settings=settings
                    )
                    return
                if block.tell():
                    block_ids.append(await _stage(blob, block))
                await blob.commit_block_list(block_ids, content_settings=settings)
        except AzureError as exc:
            raise _translate(exc) from exc

    async def open(self, key: str) -> AsyncIterator[bytes]:
        check_tenant_key(key, self._tenant_id)
        try:
            async with self._service() as service:
                blob = service.get_blob_client(self._container, key)
                downloader = await blob.download_blob(max_concurrency=1)
                async for chunk in downloader.chunks():
                    yield chunk
        except ResourceNotFoundError:
            raise NotFound("File not found.") from None
        except AzureError as exc:
            raise _translate(exc) from exc

    async def delete(self, key: str) -> None:
        check_tenant_key(key, self._tenant_id)
        try:
            async with self._service() as service:
                await service.get_blob_client(self._container, key).delete_blob()
        except ResourceNotFoundError:
            return  # no blob (or no container): already gone
        except AzureError as exc:
            raise _translate(exc) from exc

    async def signed_url(
        self, key: str, *, expires_in: int, filename: str, content_type: str
    ) -> SignedUrl:
        check_tenant_key(key, self._tenant_id)
        # SAS expiry has whole seconds: round up, so the link lives at least `expires_in`.
        expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=expires_in + 1)
        service = self._service()  # no request is made: only the URL and the key are used
        try:
            credential = service.credential
            account_key = getattr(credential, "account_key", None)
            if not account_key:
                raise InvalidInput(f"{_REFUSED}: signed links need an AccountKey")
            sas = generate_blob_sas(
                account_name=service.account_name or credential.account_name,
                container_name=self._container,
                blob_name=key,
                account_key=account_key,
                permission=BlobSasPermissions(read=True),
                expiry=expires_at,
                content_disposition=content_disposition(filename),
                content_type=content_type,
            )
            url = service.get_blob_client(self._container, key).url
        finally:
            await service.close()
        return SignedUrl(url=f"{url}?{sas}", expires_at=expires_at)

    async def check(self) -> None:
        key = f"{self._prefix}.probe-{uuid.uuid4().hex}"
        try:
            async with self._service() as service:
                container = service.get_container_client(self._container)
                with contextlib.suppress(ResourceExistsError):
                    await container.create_container()
                blob = container.get_blob_client(key)
                await blob.upload_blob(_PROBE, overwrite=True)
                try:
                    read = await (await blob.download_blob()).readall()
                finally:
                    await blob.delete_blob()
        except AzureError as exc:
            raise _translate(exc) from exc
        if read != _PROBE:
            raise ServiceUnavailable(_SERVICE, detail="The storage probe read back wrong.")


async def _stage(blob: BlobClient, block: io.BytesIO) -> BlobBlock:
    """Stage `block` (streamed from memory, not copied) and free it."""
    block_id = base64.b64encode(uuid.uuid4().hex.encode()).decode()
    size = block.tell()
    block.seek(0)
    await blob.stage_block(block_id, block, length=size)
    block.close()  # frees the bytes now, even if the HTTP layer still holds the object
    return BlobBlock(block_id)


def _translate(exc: AzureError) -> ParleyError:
    """The port error for an SDK error (never the SDK's message: it may echo settings)."""
    if not isinstance(exc, HttpResponseError) or exc.status_code is None:
        return ServiceUnavailable(_SERVICE)  # connection refused, DNS, timeouts
    status = exc.status_code
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return ServiceUnavailable(_SERVICE)
    code = _error_code(exc)
    if isinstance(exc, ClientAuthenticationError) or code == "AuthenticationFailed":
        return InvalidInput(f"{_REFUSED}: authentication failed (check the account name and key)")
    if code == "ContainerNotFound":
        return InvalidInput(f"{_REFUSED}: the container does not exist")
    if status == 403:
        return InvalidInput(f"{_REFUSED}: access denied ({code or 'Forbidden'})")
    if code in {"InvalidResourceName", "OutOfRangeInput"}:
        return InvalidInput(f"{_REFUSED}: the container name is not valid")
    return InvalidInput(f"{_REFUSED}: {code or f'HTTP {status}'}")


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    value = getattr(code, "value", code)
    return re.sub(r"[^A-Za-z0-9]", "", str(value))[:64] if value else ""
