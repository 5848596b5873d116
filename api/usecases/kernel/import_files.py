"""What becomes of an import's uploaded file (contact and lead imports): once the import
has ended (`done` or `failed`), the file, a spreadsheet of people's personal data, is
deleted from the tenant's storage. The row results (and the errors CSV built from them)
stay. A storage or database outage at that moment leaves the file (logged): it stays in
the tenant's files (purpose `contact_import` or `lead_import`), where `DELETE
/files/{id}` removes it."""

from __future__ import annotations

import logging

from api.domain.errors import ServiceUnavailable, TemporaryFailure
from api.domain.imports import ImportFiles

log = logging.getLogger(__name__)


async def discard_import_file(files: ImportFiles, file_id: str, import_id: str) -> None:
    """Delete the ended import's file; an outage leaves it, logged."""
    try:
        await files.remove(file_id)
    except (ServiceUnavailable, TemporaryFailure) as exc:
        log.warning("import %s ended; its file %s was left (%s)",
                    import_id, file_id, type(exc).__name__)  # fmt: skip
