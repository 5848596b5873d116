"""Uploading a file (streamed, sniffed, hashed) and answering it with a signed URL."""

from __future__ import annotations

from api.domain.errors import MalwareDetected, PayloadTooLarge
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.plans import LimitName, PlanLimitReached
from api.usecases.files.file_store import FileStore, FileWithUrl, Upload
from api.usecases.files.rules import StoragePolicy
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.plan_gate import PlanGate


class StoreUpload:
    """Upload a file (`files:write`) and answer it with a signed URL.

    Rules: see `FileStore` (sniffed type in `ALLOWED_CONTENT_TYPES` else 415, at most
    `MAX_UPLOAD_BYTES` else 413, streamed, hashed, no orphans); the file counts against
    the plan's `storage_bytes` (402 `plan_limit_reached` past it). Audited: `file.uploaded`,
    and `file.refused` when the malware scanner found a threat (422 `malware_detected`).
    """

    def __init__(
        self, store: FileStore, auditor: Auditor, policy: StoragePolicy, gate: PlanGate
    ) -> None:
        self._store = store
        self._auditor = auditor
        self._policy = policy
        self._gate = gate

    async def execute(self, principal: Principal, upload: Upload) -> FileWithUrl:
        require_permission(principal, Permission.FILES_WRITE)
        largest = self._policy.max_upload_bytes
        want = min(upload.size_hint or largest, largest)
        # The plan's storage: what the file may take is reserved first (as much as is
        # left, at least a byte); past it the upload stops and is refused (402).
        held = await self._gate.reserve(LimitName.STORAGE_BYTES, want, least=1)
        max_bytes = min(largest, held.amount) if held.amount else largest
        try:
            file = await self._store.store(
                upload,
                purpose="upload",
                owner_id=principal.user_id,
                allowed=self._policy.allowed_content_types,
                max_bytes=max_bytes,
            )
        except PayloadTooLarge as exc:
            await self._gate.release(held)
            limit = await self._gate.limit(LimitName.STORAGE_BYTES)
            # The plan's room, not another limit (the malware scanner's is lower), stopped it.
            plan_bound = held.amount and max_bytes < largest and exc.limit == max_bytes
            if plan_bound and limit is not None:
                raise PlanLimitReached(LimitName.STORAGE_BYTES, limit) from None
            raise
        except MalwareDetected as exc:
            await self._gate.release(held)
            await self._auditor.record(
                "file.refused", "file", None, actor_id=principal.user_id,
                changes=audit_extra(principal, {"reason": "malware", "threat": exc.threat}),
            )  # fmt: skip
            raise
        except BaseException:
            await self._gate.release(held)
            raise
        await self._gate.release(held, held.amount - file.size)
        await self._auditor.record(
            "file.uploaded", "file", file.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"filename": file.filename, "size": file.size,
                                            "content_type": file.content_type}),
        )  # fmt: skip
        return FileWithUrl(file=file, url=await self._store.signed_url(file))
