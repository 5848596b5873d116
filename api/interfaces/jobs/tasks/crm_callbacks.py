"""Callback request tasks: tell the department about a new request."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.crm.callback_policy import NOTIFY_JOB
from api.usecases.crm.notify_callback_request import NotifyCallbackRequest


@parley_task(NOTIFY_JOB)
async def notify_callback_request(container: punq.Container, request_id: str) -> int:
    """Email the new request to its department's members (or the users holding
    `crm:write`), once (see `NotifyCallbackRequest`)."""
    return await container.resolve(NotifyCallbackRequest).execute(request_id)
