"""The tenant's AI administration (`/api/v1/ai`, `ai:manage`): settings and token usage."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.ai.access import AiAdmin
from api.interfaces.http.schemas.ai import AiSettingsIn, AiSettingsOut, UsageReportOut
from api.usecases.ai.get_ai_settings import GetAiSettings
from api.usecases.ai.get_usage import GetUsage
from api.usecases.ai.update_ai_settings import AiSettingsChange, UpdateAiSettings

router = APIRouter(prefix="/ai", tags=["ai"])


@router.get(
    "/settings",
    summary="The tenant's AI settings",
    description="Needs `ai:manage`.",
    responses=problem_responses(401, 403),
)
async def get_settings(
    principal: AiAdmin, use_case: Annotated[GetAiSettings, Inject(GetAiSettings)]
) -> AiSettingsOut:
    return AiSettingsOut.of(await use_case.execute(principal))


@router.put(
    "/settings",
    summary="Replace the tenant's AI settings",
    description=(
        "Needs `ai:manage`. `allowed_models`: the model ids members may use (null: all "
        "the deployment offers); `default_model` must be among them; "
        "`daily_token_quota`: tokens in + out per UTC day (null: none); running asks hold "
        "their prompt and longest reply against it, and `/ask` is 429 when not one token "
        "of reply is left."
    ),
    responses=problem_responses(401, 403, 422),
)
async def put_settings(
    body: AiSettingsIn,
    principal: AiAdmin,
    use_case: Annotated[UpdateAiSettings, Inject(UpdateAiSettings)],
) -> AiSettingsOut:
    saved = await use_case.execute(
        principal,
        AiSettingsChange(
            allowed_models=body.allowed_models,
            default_model=body.default_model,
            daily_token_quota=body.daily_token_quota,
        ),
    )
    return AiSettingsOut.of(saved)


@router.get(
    "/usage",
    summary="Token usage per day, user and model",
    description=(
        "Needs `ai:manage`. UTC days from `since` to `until` inclusive (default: the last "
        "30 days), optionally one user's; with totals and today's use against the quota."
    ),
    responses=problem_responses(401, 403, 422),
)
async def usage(
    principal: AiAdmin,
    use_case: Annotated[GetUsage, Inject(GetUsage)],
    since: date | None = None,
    until: date | None = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> UsageReportOut:
    report = await use_case.execute(principal, since=since, until=until, user_id=user_id)
    return UsageReportOut.of(report)
