"""The messaging context's `MediaSink`, on the files feature's `FileStore`.

The messaging use cases may not import the files use cases (independent contexts), so
the wiring adapts one to the other: a message's file is stored like an upload (sniffed,
streamed, hashed, size-limited, no orphan blob, the tenant's storage settings), with
purpose `message_media` and the message's id as owner; `remove` deletes only such files.
The types WhatsApp carries are allowed on top of `ALLOWED_CONTENT_TYPES`, and the limit
is WhatsApp's own (100 MiB for documents) or `MAX_UPLOAD_BYTES` when larger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.domain.messaging.messages import MediaLink
from api.usecases.files.file_store import FileStore, Upload
from api.usecases.files.rules import StoragePolicy

MEDIA_PURPOSE = "message_media"
PROVIDER_MEDIA_MAX_BYTES = 100 * 1024 * 1024
PROVIDER_MEDIA_TYPES = frozenset({
    "image/jpeg", "image/png", "image/webp",
    "video/mp4", "video/3gpp",
    "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg",
    "text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint", "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
})  # fmt: skip


class FileStoreMediaSink:
    """`MediaSink` adapter: a message's file becomes one of the tenant's stored files."""

    def __init__(self, store: FileStore, policy: StoragePolicy) -> None:
        self._store = store
        self._allowed = policy.allowed_content_types | PROVIDER_MEDIA_TYPES
        self._max_bytes = max(policy.max_upload_bytes, PROVIDER_MEDIA_MAX_BYTES)

    async def store(
        self,
        *,
        filename: str,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        owner_id: str,
    ) -> MediaLink:
        # The stored type is sniffed from the bytes; the provider's claim is not trusted.
        stored = await self._store.store(
            Upload(filename=filename, chunks=chunks),
            purpose=MEDIA_PURPOSE,
            owner_id=owner_id,
            allowed=self._allowed,
            max_bytes=self._max_bytes,
        )
        assert stored.id is not None  # noqa: S101 - stored files have ids
        return MediaLink(
            file_id=stored.id,
            content_type=stored.content_type,
            size=stored.size,
            filename=stored.filename,
        )

    async def remove(self, file_id: str) -> bool:
        stored = await self._store.find(file_id)
        if stored is None or stored.purpose != MEDIA_PURPOSE:  # only a message's own copies
            return False
        await self._store.remove(stored)
        return True
