"""Blobs in Amazon S3 (or an S3-compatible service), through boto3 in worker threads.

boto3 is synchronous, so every call (client creation included: it reads the service
model from disk) runs in a thread; the event loop never waits on it. Clients are
thread-safe and cached per settings, so building an adapter per request costs nothing.

The threads are not the event loop's default pool (shared with password hashing, local
files and job queueing: a handful of threads on a small machine) but a small pool per
tenant's storage (a lane: `max_in_flight` threads, `STORAGE_MAX_IN_FLIGHT`), so a store
that hangs holds only its own lane until the timeouts (`STORAGE_CONNECT_TIMEOUT_SECONDS`,
`STORAGE_READ_TIMEOUT_SECONDS`) end each call's tries (`CALL_ATTEMPTS`); the calls queued
behind hold no thread, and other tenants' storage, sign-ins and uploads go on.

Uploads smaller than one part are one `PutObject`; larger ones are a multipart upload
fed 8 MiB at a time from the incoming stream (memory stays at about one part) and
aborted on any failure or cancellation. Downloads stream `get_object()["Body"]` chunk by
chunk, each read in a thread. Signed URLs are presigned GETs that also fix the response's
Content-Disposition and Content-Type.

Errors (messages carry the provider's error code, never a key or secret):

- unreachable, timed out, 5xx, throttling → `ServiceUnavailable("file storage")`
- bad credentials, access denied, a missing or invalid bucket, a wrong region, other 4xx
  → `InvalidInput("S3 refused these settings: <reason>")`
- a missing object when reading → `NotFound`; deleting a missing object is not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointResolutionError,
    NoCredentialsError,
    ParamValidationError,
)

from api.common.clock import utcnow
from api.domain.errors import InvalidInput, NotFound, ParleyError, ServiceUnavailable
from api.domain.files.storage import SignedUrl
from api.infrastructure.storage import check_tenant_key, tenant_prefix
from api.infrastructure.storage.sniff import content_disposition

PART_SIZE = 8 * 1024 * 1024  # S3 needs at least 5 MiB per part but the last
# Tries of each call: one retry (of a timeout, a reset, a 5xx or throttling), as the Azure
# adapter's. A hung store therefore answers 503 after about twice the timeouts.
CALL_ATTEMPTS = 2
READ_CHUNK = 256 * 1024
_SERVICE = "file storage"
_REFUSED = "S3 refused these settings"
_PROBE = b"parley storage probe"
_AUTH_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"})
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
_WRONG_REGION = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed", "301"})
# ValueError: botocore's answer to a malformed endpoint URL or region.
_CALL_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError, ValueError)
_READ_ERRORS: tuple[type[Exception], ...] = (BotoCoreError,)  # timeouts, resets mid-body
_TRANSIENT = frozenset({"SlowDown", "RequestTimeout", "ServiceUnavailable", "Throttling"})


class S3BlobStorage:
    """`BlobStorage` on one S3 bucket, for one tenant."""

    def __init__(
        self,
        bucket: str,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        endpoint_url: str | None,
        *,
        tenant_id: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_in_flight: int = 4,
    ) -> None:
        self._bucket = bucket
        self._tenant_id = tenant_id
        self._prefix = tenant_prefix(tenant_id)
        self._settings = (
            region,
            access_key_id,
            secret_access_key,
            endpoint_url,
            connect_timeout,
            read_timeout,
        )
        self._lane = (tenant_id, *self._settings, max_in_flight)

    async def _call(self, operation: str, **params: Any) -> Any:
        """`client.<operation>(**params)` in a thread, with errors translated."""

        def run() -> Any:
            client = _client(*self._settings)
            return getattr(client, operation)(**params)

        return await self._run(run)

    async def _run(
        self, function: Callable[[], Any], errors: tuple[type[Exception], ...] = _CALL_ERRORS
    ) -> Any:
        lane = _LANES.get(self._lane)
        try:
            return await asyncio.get_running_loop().run_in_executor(lane, function)
        except errors as exc:
            raise _translate(exc) from exc

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> None:
        check_tenant_key(key, self._tenant_id)
        target = {"Bucket": self._bucket, "Key": key}
        upload_id: str | None = None
        try:
            buffer = bytearray()
            parts: list[dict[str, Any]] = []
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= PART_SIZE:
                    if upload_id is None:
                        created = await self._call(
                            "create_multipart_upload", **target, ContentType=content_type
                        )
                        upload_id = created["UploadId"]
                    parts.append(await self._part(target, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            if upload_id is None:  # small: one request
                await self._call("put_object", **target, Body=buffer, ContentType=content_type)
                return
            if buffer:
                parts.append(await self._part(target, upload_id, len(parts) + 1, buffer))
            await self._call(
                "complete_multipart_upload",
                **target,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:  # also on cancellation: no parts left to pay for
                await asyncio.shield(self._abort(target, upload_id))
            raise

    async def _part(
        self, target: dict[str, str], upload_id: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        answer = await self._call(
            "upload_part", **target, UploadId=upload_id, PartNumber=number, Body=data
        )
        # The worker thread may hold the part a moment longer: free its bytes now, so two
        # parts are never in memory at once.
        with contextlib.suppress(BufferError):
            data.clear()
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def _abort(self, target: dict[str, str], upload_id: str) -> None:
        # The original failure matters more; S3 lifecycle rules can clean up the rest.
        with contextlib.suppress(ParleyError):
            await self._call("abort_multipart_upload", **target, UploadId=upload_id)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        check_tenant_key(key, self._tenant_id)
        response = await self._call("get_object", Bucket=self._bucket, Key=key)
        body = response["Body"]
        try:
            pieces = body.iter_chunks(READ_CHUNK)
            read_next = functools.partial(next, pieces, b"")
            while chunk := await self._run(read_next, _READ_ERRORS):
                yield chunk
        finally:
            body.close()  # returns the connection to the pool; no I/O to wait for

    async def delete(self, key: str) -> None:
        check_tenant_key(key, self._tenant_id)
        try:
            await self._call("delete_object", Bucket=self._bucket, Key=key)
        except InvalidInput as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _code(cause) in _MISSING_BUCKET:
                return  # no bucket: the object is gone too
            raise

    async def signed_url(
        self, key: str, *, expires_in: int, filename: str, content_type: str
    ) -> SignedUrl:
        check_tenant_key(key, self._tenant_id)
        expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=expires_in)
        params = {
            "Bucket": self._bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": content_type,
        }
        url = await self._call(
            "generate_presigned_url", ClientMethod="get_object", Params=params, ExpiresIn=expires_in
        )
        return SignedUrl(url=url, expires_at=expires_at)

    async def check(self) -> None:
        key = f"{self._prefix}.probe-{uuid.uuid4().hex}"
        target = {"Bucket": self._bucket, "Key": key}
        await self._call("head_bucket", Bucket=self._bucket)
        await self._call("put_object", **target, Body=_PROBE, ContentType="text/plain")
        try:
            response = await self._call("get_object", **target)
            read = await self._run(response["Body"].read, _READ_ERRORS)
        finally:
            await self._call("delete_object", **target)
        if read != _PROBE:
            raise ServiceUnavailable(_SERVICE, detail="The storage probe read back wrong.")


class _Lanes:
    """A thread pool of `max_in_flight` threads per tenant's storage (the last element of
    the key), the `size` most recently used kept. One pushed out is only forgotten (a call
    may be about to use it): once nothing refers to it, its threads end after their work."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._pools: OrderedDict[tuple[Any, ...], ThreadPoolExecutor] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> ThreadPoolExecutor:
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            pool = ThreadPoolExecutor(max_workers=key[-1], thread_name_prefix="s3")
            self._pools[key] = pool
            if len(self._pools) > self._size:
                self._pools.popitem(last=False)
            return pool


_LANES = _Lanes(64)


@functools.lru_cache(maxsize=64)
def _client(
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
    endpoint_url: str | None,
    connect_timeout: float,
    read_timeout: float,
) -> Any:
    """A boto3 S3 client for these settings (thread-safe; built once, in a worker thread)."""
    config = Config(
        region_name=region or None,
        signature_version="s3v4",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # botocore's `max_attempts` counts retries; `total_max_attempts` counts every try.
        retries={"total_max_attempts": CALL_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # Checksums only where S3 demands them: many S3-compatible services refuse the rest.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()  # sessions are not thread-safe: one per client
    return session.client(
        "s3",
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        endpoint_url=endpoint_url or None,
        config=config,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: Exception) -> ParleyError:
    """The port error for a boto3 error (never boto3's message: it may echo settings)."""
    if isinstance(exc, NoCredentialsError):
        return InvalidInput(f"{_REFUSED}: no credentials were given")
    if isinstance(exc, ParamValidationError):
        return InvalidInput(f"{_REFUSED}: the bucket name or another setting is not valid")
    if isinstance(exc, ValueError | EndpointResolutionError):  # a malformed endpoint or region
        return InvalidInput(f"{_REFUSED}: the endpoint URL or region is not valid")
    if not isinstance(exc, ClientError):
        return ServiceUnavailable(_SERVICE)  # connection refused, DNS, timeouts, resets
    code = _code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if status >= 500 or status == 429 or code in _TRANSIENT:
        return ServiceUnavailable(_SERVICE)
    if code in _AUTH_CODES:
        return InvalidInput(f"{_REFUSED}: authentication failed (check the access key and secret)")
    if code == "NoSuchKey":
        return NotFound("File not found.")
    if code in _MISSING_BUCKET:  # head_bucket answers a bare 404
        return InvalidInput(f"{_REFUSED}: the bucket does not exist")
    if code in _WRONG_REGION:
        return InvalidInput(f"{_REFUSED}: the bucket is in another region")
    if code in {"", "403"} and status == 403:  # a HEAD answer has no body to say why
        return InvalidInput(
            f"{_REFUSED}: access denied (check the access key, the secret and the bucket's "
            "permissions)"
        )
    if status == 403 or code == "AccessDenied":
        return InvalidInput(f"{_REFUSED}: access denied ({_safe(code)})")
    return InvalidInput(f"{_REFUSED}: {_safe(code) or f'HTTP {status}'}")


def _safe(code: str) -> str:
    return "".join(c for c in code if c.isalnum())[:64]
