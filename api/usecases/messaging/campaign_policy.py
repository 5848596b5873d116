"""The deployment's settings the campaign use cases follow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CampaignPolicy:
    """`snapshot_lease_seconds`: how long a run may stay `snapshotting` without news from
    its snapshot job (which renews the lease after every batch); past it, the dispatcher
    queues the snapshot again (a job lost with its worker, or never queued because the
    broker was down). A second snapshot of one run adds nothing twice."""

    snapshot_lease_seconds: float
