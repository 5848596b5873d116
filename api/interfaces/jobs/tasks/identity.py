"""Identity tasks: send a sign-in code."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.identity.sign_in_codes import SEND_SIGN_IN_CODE_JOB, SendSignInCode


@parley_task(SEND_SIGN_IN_CODE_JOB)
async def send_sign_in_code(container: punq.Container, by: str, target: str) -> str:
    """Make and send a sign-in code (see `SendSignInCode`); `target` is encrypted."""
    return await container.resolve(SendSignInCode).execute(by, target)
