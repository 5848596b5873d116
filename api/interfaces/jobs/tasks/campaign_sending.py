"""Campaign sending tasks: one slice of a run's send engine, and the periodic sweep of
what dead send jobs left behind."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.messaging.campaign_rules import SEND_RUN_JOB, SWEEP_CAMPAIGNS_JOB
from api.usecases.messaging.send_campaign_run import SendCampaignRun
from api.usecases.messaging.sweep_campaign_runs import SweepCampaignRuns


@parley_task(SEND_RUN_JOB)
async def send_run(container: punq.Container, run_id: str, lease: str | None = None) -> str:
    """Send a run for one slice, then hand it on (see `SendCampaignRun`); `lease` is the
    handing slice's, so the next one takes the run over without waiting for it to run
    out."""
    outcome = await container.resolve(SendCampaignRun).execute(run_id, lease=lease)
    return outcome.value


@parley_task(SWEEP_CAMPAIGNS_JOB)
async def sweep_campaigns(container: punq.Container) -> int:
    """Periodic (beat): re-queue runs whose send job died and settle their expired claims
    (see `SweepCampaignRuns`)."""
    return await container.resolve(SweepCampaignRuns).execute()
