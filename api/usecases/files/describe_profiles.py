"""Users as clients see them, with a fresh signed URL of their avatar."""

from __future__ import annotations

import logging

from api.domain.errors import ParleyError
from api.domain.files.storage import FileCatalog
from api.domain.identity.users import User
from api.domain.tenancy import current_tenant_or_none
from api.usecases.files.file_store import FileStore
from api.usecases.kernel.describe_users import DescribeUsers, UserView

log = logging.getLogger(__name__)


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
