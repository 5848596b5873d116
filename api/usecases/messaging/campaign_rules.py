"""What the campaign use cases share: the jobs' names (the dispatcher, the audience
snapshot, the send engine and its sweep), so that enqueuers and the tasks that run them
name each job once."""

from __future__ import annotations

DISPATCH_DUE_JOB = "parley.campaigns.dispatch_due"
SNAPSHOT_RUN_JOB = "parley.campaigns.snapshot_run"
SEND_RUN_JOB = "parley.campaigns.send_run"
SWEEP_CAMPAIGNS_JOB = "parley.campaigns.sweep"
