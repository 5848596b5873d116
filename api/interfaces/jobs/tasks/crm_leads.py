"""Lead tasks: run (or go on with) one lead import; sweep the ones nobody moves."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.crm.lead_imports import LEAD_IMPORT_JOB, SWEEP_LEAD_IMPORTS_JOB
from api.usecases.crm.run_lead_import import RunLeadImport, SweepLeadImports


@parley_task(LEAD_IMPORT_JOB)
async def run_lead_import(container: punq.Container, import_id: str) -> str | None:
    """Settle the import's rows from where it stands (see `RunLeadImport`)."""
    status = await container.resolve(RunLeadImport).execute(import_id)
    return status.value if status else None


@parley_task(SWEEP_LEAD_IMPORTS_JOB)
async def sweep_lead_imports(container: punq.Container) -> int:
    """Periodic (beat): queue the lead imports whose job was lost or whose worker died."""
    return await container.resolve(SweepLeadImports).execute()
