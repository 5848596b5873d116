"""Campaign tasks: the dispatcher (beat) that launches the due scheduled campaigns, and
the snapshot of a run's audience. The send engine's tasks (`SEND_RUN_JOB`, the sweep)
live beside them."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.messaging.campaign_rules import DISPATCH_DUE_JOB, SNAPSHOT_RUN_JOB
from api.usecases.messaging.campaign_runs import DispatchDueCampaigns, SnapshotCampaignRun


@parley_task(DISPATCH_DUE_JOB)
async def dispatch_due_campaigns(container: punq.Container) -> int:
    """Periodic (beat): launch every scheduled campaign whose next run is due, in every
    tenant, one run per window (see `DispatchDueCampaigns`)."""
    return await container.resolve(DispatchDueCampaigns).execute()


@parley_task(SNAPSHOT_RUN_JOB)
async def snapshot_campaign_run(container: punq.Container, run_id: str) -> int:
    """Snapshot the run's audience into its recipient rows, then hand the run to the send
    engine (see `SnapshotCampaignRun`); idempotent on redelivery."""
    return await container.resolve(SnapshotCampaignRun).execute(run_id)
