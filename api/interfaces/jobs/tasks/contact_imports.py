"""Contact import tasks: run (or go on with) one import; sweep the ones nobody moves."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.messaging.contact_imports import IMPORT_JOB, SWEEP_IMPORTS_JOB
from api.usecases.messaging.run_contact_import import RunContactImport, SweepContactImports


@parley_task(IMPORT_JOB)
async def run_contact_import(container: punq.Container, import_id: str) -> str | None:
    """Settle the import's rows from where it stands (see `RunContactImport`): a crash
    mid-way leaves it to the next run, which neither loses nor repeats a row."""
    status = await container.resolve(RunContactImport).execute(import_id)
    return status.value if status else None


@parley_task(SWEEP_IMPORTS_JOB)
async def sweep_contact_imports(container: punq.Container) -> int:
    """Periodic (beat): queue the imports whose worker died or whose job was lost."""
    return await container.resolve(SweepContactImports).execute()
