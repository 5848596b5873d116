"""API keys (`/api/v1/api-keys`): the tenant's credentials for server-to-server
integrations. Every route needs `api_keys:manage` and a user's access token (an API key
cannot manage keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.api_keys import (
    ApiKeyIn,
    ApiKeyOut,
    ApiKeyPageOut,
    CreatedApiKeyOut,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.identity.api_keys import CreateApiKey, GetApiKey, ListApiKeys, RevokeApiKey

router = APIRouter(prefix="/api-keys", tags=["keys"])

Manager = Annotated[Principal, require(Permission.API_KEYS_MANAGE)]
USE = (
    " A key is sent as `Authorization: Bearer pk_...` or `X-API-Key: pk_...` with the "
    "tenant named as usual; it works in its own tenant only, as itself (not as a user: "
    "routes about the signed-in user answer 403), and is rate limited "
    "(`API_KEY_RATE_LIMIT_PER_MINUTE`, then 429 with `Retry-After`)."
)


@router.post(
    "",
    status_code=201,
    summary="Create an API key",
    description=(
        "Needs `api_keys:manage`. The answer's `key` is the whole key, shown this once: "
        "only a keyed hash is stored. `permissions` are tenant permissions you hold now "
        "(403 naming the others; 422 for unknown or platform ones or `api_keys:manage`); "
        "`expires_at` is in the future, at most 10 years ahead (422). Audited "
        "`api_key.created`." + USE
    ),
    responses=problem_responses(401, 403, 422, 503),
    name="create",
)
async def create_api_key(
    body: Annotated[ApiKeyIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateApiKey, Inject(CreateApiKey)],
) -> CreatedApiKeyOut:
    created = await use_case.execute(
        principal, name=body.name, permissions=body.permissions, expires_at=body.expires_at
    )
    return CreatedApiKeyOut(**ApiKeyOut.of(created.key).model_dump(), key=created.secret)


@router.get(
    "",
    summary="List API keys",
    description="Needs `api_keys:manage`. The unrevoked keys, newest first; never a secret.",
    responses=problem_responses(401, 403, 422, 503),
    name="list",
)
async def list_api_keys(
    principal: Manager,
    paging: PagingQuery,
    use_case: Annotated[ListApiKeys, Inject(ListApiKeys)],
) -> ApiKeyPageOut:
    found = await use_case.execute(principal, page=paging.page, page_size=paging.page_size)
    return ApiKeyPageOut.of(found, paging.page, paging.page_size)


@router.get(
    "/{key_id}",
    summary="Read an API key",
    description=(
        "Needs `api_keys:manage`. Never its secret. Another tenant's key, or a revoked one, is 404."
    ),
    responses=problem_responses(401, 403, 404, 503),
    name="get",
)
async def get_api_key(
    key_id: str,
    principal: Manager,
    use_case: Annotated[GetApiKey, Inject(GetApiKey)],
) -> ApiKeyOut:
    return ApiKeyOut.of(await use_case.execute(principal, key_id))


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    description=(
        "Needs `api_keys:manage`. The key's next request is 401, on every replica. "
        "Audited `api_key.revoked`."
    ),
    responses=problem_responses(401, 403, 404, 503),
    name="revoke",
)
async def revoke_api_key(
    key_id: str,
    principal: Manager,
    use_case: Annotated[RevokeApiKey, Inject(RevokeApiKey)],
) -> Response:
    await use_case.execute(principal, key_id)
    return Response(status_code=204)
