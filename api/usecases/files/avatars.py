"""Users' avatars: set one (stored like an upload), and show it as a fresh signed URL."""

from __future__ import annotations

import logging

from api.domain.errors import NotFound, ParleyError
from api.domain.identity.auth import Principal
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant_or_none
from api.usecases.files.files import FileCatalog, FileStore, Upload
from api.usecases.files.storage import StoragePolicy
from api.usecases.kernel.accounts import USER_NOT_FOUND, DescribeUsers, UserView
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import (
    Authority,
    audit_extra,
    check_may_manage,
    require_permission,
)

log = logging.getLogger(__name__)

AVATAR = "avatar"


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
            await self._remove_old(target.avatar_key)
        await self._auditor.record(
            "user.avatar_updated", "user", user_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"file_id": file.id, "size": file.size,
                                            "content_type": file.content_type}),
        )  # fmt: skip
        return updated

    async def _remove_old(self, file_id: str) -> None:
        try:
            old = await self._store.find(file_id)
            if old is not None:
                await self._store.remove(old)
        except ParleyError as exc:
            log.warning("could not remove a replaced avatar (%s); it is left behind", exc.code)


class DescribeProfiles:
    """Users as clients see them: role names (`DescribeUsers`) and `avatar_url`, a fresh
    signed URL (signing is local work; the avatars of a page are read in one query).

    Rules: an avatar that cannot be signed right now (its provider's settings are gone or
    undecryptable) shows as no avatar rather than failing the read.
    """

    def __init__(self, describe: DescribeUsers, files: FileCatalog, store: FileStore) -> None:
        self._describe = describe
        self._files = files
        self._store = store

    async def execute(self, users: list[User]) -> list[tuple[UserView, str | None]]:
        views = await self._describe.execute(users)
        urls = await self._avatar_urls(users)
        return [(view, urls.get(view.user.id or "")) for view in views]

    async def _avatar_urls(self, users: list[User]) -> dict[str, str]:
        wanted = {u.id: u.avatar_key for u in users if u.id and u.avatar_key and u.tenant_id}
        if not wanted or current_tenant_or_none() is None:
            return {}
        files = {f.id: f for f in await self._files.get_many(list(set(wanted.values())))}
        urls: dict[str, str] = {}
        for user_id, file_id in wanted.items():
            file = files.get(file_id)
            if file is None:
                continue
            try:
                urls[user_id] = (await self._store.signed_url(file)).url
            except ParleyError as exc:
                log.warning("could not sign an avatar URL (%s)", exc.code)
        return urls
