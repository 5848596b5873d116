"""AI assistants (`/api/v1/assistants`): the tenant's models answering customers on its
channels. Every route needs `assistants:manage`; another tenant's assistant is 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.assistants import (
    AssistantIn,
    AssistantOut,
    AssistantPageOut,
    AssistantStatsOut,
    AssistantTestIn,
    AssistantTestOut,
    AssistantUpdateIn,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.assistants.manage import (
    CreateAssistant,
    DeleteAssistant,
    GetAssistant,
    GetAssistantStats,
    ListAssistants,
    UpdateAssistant,
)
from api.usecases.assistants.try_assistant import TryAssistant

router = APIRouter(prefix="/assistants", tags=["assistants"])

Manager = Annotated[Principal, require(Permission.ASSISTANTS_MANAGE)]
RULES = (
    " `model` must be one the tenant may use (422 `unknown_model`); `channel_ids` the "
    "tenant's channels (422 `unknown_channels`), none answered by another enabled "
    'assistant (409 `channel_has_assistant`); `languages` `"auto"` or ISO 639-1 codes; '
    "`business_hours` as the inbox's (422 `invalid_timezone`, `invalid_time_span`, "
    "`overlapping_time_spans`); other bad values are 422 `invalid_input` naming the field."
)


@router.post(
    "",
    status_code=201,
    summary="Create an assistant",
    description=(
        "Needs `assistants:manage`. New conversations on its channels start handled by "
        'the bot (`handled_by: "bot"`, `pending` for agents) while it is enabled. '
        "Audited `assistant.created`." + RULES
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_assistant(
    body: Annotated[AssistantIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateAssistant, Inject(CreateAssistant)],
) -> AssistantOut:
    return AssistantOut.of(await use_case.execute(principal, body.fields()))


@router.get(
    "",
    summary="List assistants",
    description="Needs `assistants:manage`. Oldest first.",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_assistants(
    principal: Manager,
    paging: PagingQuery,
    use_case: Annotated[ListAssistants, Inject(ListAssistants)],
) -> AssistantPageOut:
    found = await use_case.execute(principal, page=paging.page, page_size=paging.page_size)
    return AssistantPageOut.of(found, paging.page, paging.page_size)


@router.get(
    "/{assistant_id}",
    summary="Read an assistant",
    description="Needs `assistants:manage`. Another tenant's assistant is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_assistant(
    assistant_id: str,
    principal: Manager,
    use_case: Annotated[GetAssistant, Inject(GetAssistant)],
) -> AssistantOut:
    return AssistantOut.of(await use_case.execute(principal, assistant_id))


@router.patch(
    "/{assistant_id}",
    summary="Change an assistant",
    description=(
        "Needs `assistants:manage`. Only the fields sent change; `business_hours`, "
        "`out_of_hours_message`, `max_tokens_per_day` and `follow_up` may be set to null. "
        "Audited `assistant.updated` (the names of the fields changed)." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_assistant(
    assistant_id: str,
    body: Annotated[AssistantUpdateIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateAssistant, Inject(UpdateAssistant)],
) -> AssistantOut:
    return AssistantOut.of(await use_case.execute(principal, assistant_id, body.fields()))


@router.delete(
    "/{assistant_id}",
    status_code=204,
    summary="Delete an assistant",
    description=(
        "Needs `assistants:manage`. Its bot conversations go to humans with the customer's "
        "next message. Audited `assistant.deleted`."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def delete_assistant(
    assistant_id: str,
    principal: Manager,
    use_case: Annotated[DeleteAssistant, Inject(DeleteAssistant)],
) -> Response:
    await use_case.execute(principal, assistant_id)
    return Response(status_code=204)


@router.get(
    "/{assistant_id}/stats",
    summary="An assistant's stats",
    description=(
        "Needs `assistants:manage`. Conversations handled, resolved without handoff, handed "
        "off (by reason), replies, tokens, and the latency from an inbound message to the "
        "reply queued (p50/p90, ms; null before any reply)."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def assistant_stats(
    assistant_id: str,
    principal: Manager,
    use_case: Annotated[GetAssistantStats, Inject(GetAssistantStats)],
) -> AssistantStatsOut:
    stats = await use_case.execute(principal, assistant_id)
    return AssistantStatsOut.model_validate(stats.model_dump())


@router.post(
    "/{assistant_id}/test",
    summary="What the assistant would answer (nothing is sent)",
    description=(
        "Needs `assistants:manage`. Answers `message` as the assistant would answer it as "
        "a customer's first message: its instructions, language, the passages of its "
        "documents nearest to the message (`sources`: each passage whose cosine "
        "similarity reaches `KNOWLEDGE_MIN_SCORE`, with its document and file), the "
        "model's structured decision: `reply` with `text`, or `handoff` with `reason` "
        "(`keyword` before any model call; `request`, `unsure`: when the documents do not "
        "cover a question and the `when_unsure` rule is on, the model is told to hand "
        "over) and `summary`. Nothing is sent to anybody and no conversation changes; the "
        "tokens count in the tenant's AI usage and quota (429 when spent). 422 "
        "`unknown_model` when its model is no longer offered, 503 when the provider is down."
    ),
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def test_assistant(
    assistant_id: str,
    body: Annotated[AssistantTestIn, Body()],
    principal: Manager,
    use_case: Annotated[TryAssistant, Inject(TryAssistant)],
) -> AssistantTestOut:
    return AssistantTestOut.of(await use_case.execute(principal, assistant_id, body.message))
