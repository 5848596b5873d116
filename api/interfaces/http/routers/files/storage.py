"""The tenant's storage settings (`/api/v1/storage`): where its files go."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.files import (
    ProviderOut,
    ProvidersOut,
    StorageSettingsIn,
    StorageSettingsOut,
)
from api.usecases.files.get_storage_settings import GetStorageSettings
from api.usecases.files.list_storage_providers import ListStorageProviders
from api.usecases.files.update_storage_settings import UpdateStorageSettings

router = APIRouter(prefix="/storage", tags=["storage"])

Manager = Annotated[Principal, require(Permission.STORAGE_MANAGE)]


@router.get(
    "",
    summary="Read the tenant's storage settings",
    description=(
        "Needs `storage:manage`. Secrets are never shown: `has_secret` tells whether the "
        "settings hold one. A tenant that chose nothing shows the deployment default "
        "(`is_default`). Also the upload limit and the allowed content types."
    ),
    responses=problem_responses(401, 403, 503),
)
async def get_storage(
    principal: Manager,
    use_case: Annotated[GetStorageSettings, Inject(GetStorageSettings)],
) -> StorageSettingsOut:
    return StorageSettingsOut.of(await use_case.execute(principal))


@router.put(
    "",
    summary="Choose where the tenant's files go",
    description=(
        'Needs `storage:manage`. `{provider: "local"}`, `{provider: "azure_blob", '
        'connection_string, container}` or `{provider: "s3", bucket, region, '
        "access_key_id, secret_access_key, endpoint_url?}`; unknown fields are refused. "
        "The settings are proven with a real round trip (write, read and delete a probe) "
        "before they are saved: a refusal or an unreachable provider is 422 with the "
        "provider's reason, and nothing is saved. Secrets are encrypted at rest and never "
        "returned. Files stored before stay readable where they are."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def put_storage(
    body: Annotated[StorageSettingsIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateStorageSettings, Inject(UpdateStorageSettings)],
) -> StorageSettingsOut:
    return StorageSettingsOut.of(await use_case.execute(principal, body.to_config()))


@router.get(
    "/available",
    summary="Storage providers this deployment offers",
    description=(
        "Needs `storage:manage`. `configured` tells whether the deployment itself has "
        "credentials for the provider."
    ),
    responses=problem_responses(401, 403),
)
async def available_providers(
    principal: Manager,
    use_case: Annotated[ListStorageProviders, Inject(ListStorageProviders)],
) -> ProvidersOut:
    found = await use_case.execute(principal)
    return ProvidersOut(items=[ProviderOut(provider=p, configured=c) for p, c in found])
