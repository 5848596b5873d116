"""Giving a user a new avatar (stored like an upload); the old one is removed after."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.usecases.files.file_store import FileStore, Upload
from api.usecases.files.remove_avatar import remove_avatar
from api.usecases.files.rules import AVATAR, StoragePolicy
from api.usecases.kernel.accounts import USER_NOT_FOUND
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    audit_extra,
    check_may_manage,
    require_permission,
)


class SetAvatar:
    """Give a user a new avatar: the user themself, or `users:write` and every permission
    that user holds (403).

    Rules: images only (png, jpeg, gif, webp, by sniffing the bytes: 415), at most
    `MAX_AVATAR_BYTES` (413); stored like an upload (purpose `avatar`, key never the
    filename); the user's `avatar_key` becomes the new file's id; only then is the old
    avatar (blob, then metadata) removed; if the old one cannot be removed now it is left
    behind and logged, the new avatar stays. Audited: `user.avatar_updated`.
    """

    def __init__(
        self,
        users: UserRepository,
        authority: Authority,
        store: FileStore,
        auditor: Auditor,
        policy: StoragePolicy,
    ) -> None:
        self._users = users
        self._authority = authority
        self._store = store
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal, user_id: str, upload: Upload) -> User:
        is_self = user_id == principal.user_id
        if not is_self:
            require_permission(principal, Permission.USERS_WRITE)
        target = await self._users.get(user_id)
        if target is None:
            raise NotFound(USER_NOT_FOUND)
        if not is_self:
            book = await self._authority.book()
            held = await self._authority.held_by(principal, book)
            check_may_manage(held, book.effective(target.role_ids), "user")
        file = await self._store.store(
            upload,
            purpose=AVATAR,
            owner_id=user_id,
            allowed=self._policy.avatar_content_types,
            max_bytes=self._policy.max_avatar_bytes,
        )
        updated = await self._users.update(user_id, {"avatar_key": file.id})
        if updated is None:  # deleted meanwhile: keep nothing
            await self._store.remove(file)
            raise NotFound(USER_NOT_FOUND)
        if target.avatar_key:
            await remove_avatar(self._store, target.avatar_key, whose="a replaced")
        await self._auditor.record(
            "user.avatar_updated", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"file_id": file.id, "size": file.size,
                                            "content_type": file.content_type}),
        )  # fmt: skip
        return updated
