"""Who may call the AI routes: members with `ai:use`, admins with `ai:manage`."""

from __future__ import annotations

from typing import Annotated

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require

AiUser = Annotated[Principal, require(Permission.AI_USE)]
AiAdmin = Annotated[Principal, require(Permission.AI_MANAGE)]
