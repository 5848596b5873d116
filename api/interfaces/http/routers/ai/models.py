"""`GET /api/v1/ai/models`: the models this tenant may use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.ai.access import AiUser
from api.interfaces.http.schemas.ai import ModelListOut, ModelOut
from api.usecases.ai.list_models import ListModels

router = APIRouter(prefix="/ai", tags=["ai"])


@router.get(
    "/models",
    summary="Models this tenant may use",
    description=(
        "Needs `ai:use`. Read from the providers (`/api/tags`, `/v1/models`, cached "
        "briefly), narrowed by the tenant's allow-list. 503 when no provider answers."
    ),
    responses=problem_responses(401, 403, 503),
)
async def list_models(
    principal: AiUser, use_case: Annotated[ListModels, Inject(ListModels)]
) -> ModelListOut:
    models, default = await use_case.execute(principal)
    return ModelListOut(items=[ModelOut.of(model, default) for model in models])
