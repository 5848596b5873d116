"""Who am I: the caller's account and effective permissions."""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.errors import Unauthorized
from api.domain.identity.auth import Principal
from api.domain.identity.users import User
from api.usecases.kernel.accounts import Accounts


class CurrentUser(BaseModel):
    user: User
    permissions: list[str]


class GetMe:
    """The caller's account, with effective permissions."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def execute(self, principal: Principal) -> CurrentUser:
        user = await self._accounts.by_id(principal.user_id)
        if user is None:
            raise Unauthorized("The account no longer exists.")
        return CurrentUser(user=user, permissions=sorted(principal.permissions))
