"""Lead tasks: run (or go on with) one lead import."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.crm.lead_imports import LEAD_IMPORT_JOB
from api.usecases.crm.run_lead_import import RunLeadImport


@parley_task(LEAD_IMPORT_JOB)
async def run_lead_import(container: punq.Container, import_id: str) -> str | None:
    """Settle the import's rows from where it stands (see `RunLeadImport`)."""
    status = await container.resolve(RunLeadImport).execute(import_id)
    return status.value if status else None
