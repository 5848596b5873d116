"""Uploading a file (streamed, sniffed, hashed) and answering it with a signed URL."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.files.file_store import FileStore, FileWithUrl, Upload
from api.usecases.files.rules import StoragePolicy
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission


class StoreUpload:
    """Upload a file (`files:write`) and answer it with a signed URL.

    Rules: see `FileStore` (sniffed type in `ALLOWED_CONTENT_TYPES` else 415, at most
    `MAX_UPLOAD_BYTES` else 413, streamed, hashed, no orphans). Audited: `file.uploaded`.
    """

    def __init__(self, store: FileStore, auditor: Auditor, policy: StoragePolicy) -> None:
        self._store = store
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal, upload: Upload) -> FileWithUrl:
        require_permission(principal, Permission.FILES_WRITE)
        file = await self._store.store(
            upload,
            purpose="upload",
            owner_id=principal.user_id,
            allowed=self._policy.allowed_content_types,
            max_bytes=self._policy.max_upload_bytes,
        )
        await self._auditor.record(
            "file.uploaded", "file", file.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"filename": file.filename, "size": file.size,
                                            "content_type": file.content_type}),
        )  # fmt: skip
        return FileWithUrl(file=file, url=await self._store.signed_url(file))
