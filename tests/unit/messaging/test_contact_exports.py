"""The export job's rules with hand-written fakes: the formula guard, a failure that may
pass given back for the retry (then `failed` on the last attempt), one that will not
pass `failed` at once with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from api.common.clock import utcnow
from api.domain.errors import InvalidInput, ServiceUnavailable
from api.domain.messaging.contact_exports import ContactExport, ExportLink, ExportStatus
from api.domain.messaging.contacts import Contact, ContactQuery
from api.usecases.kernel.csv_cells import safe_cell
from api.usecases.messaging.export_contacts import ExportPolicy, RunContactExport
from tests.fakes.clock import FakeUtcClock


class Exports:
    def __init__(self, export: ContactExport) -> None:
        self.export = export

    async def add(self, export: ContactExport) -> ContactExport:
        raise NotImplementedError

    async def get(self, export_id: str) -> ContactExport | None:
        return self.export if export_id == self.export.id else None

    async def claim(self, export_id: str, *, at: datetime, lease_until: datetime) -> bool:
        if self.export.status is not ExportStatus.QUEUED:
            return False
        self.export = self.export.model_copy(
            update={"status": ExportStatus.RUNNING, "lease_until": lease_until}
        )
        return True

    async def finish(
        self, export_id: str, *, file_id: str, total_rows: int, at: datetime, expires_at: datetime
    ) -> bool:
        self.export = self.export.model_copy(update={
            "status": ExportStatus.DONE, "file_id": file_id, "total_rows": total_rows,
            "finished_at": at, "expires_at": expires_at,
        })  # fmt: skip
        return True

    async def fail(self, export_id: str, *, reason: str, at: datetime) -> bool:
        self.export = self.export.model_copy(
            update={"status": ExportStatus.FAILED, "reason": reason, "finished_at": at}
        )
        return True

    async def release(self, export_id: str) -> None:
        self.export = self.export.model_copy(update={"status": ExportStatus.QUEUED})


class Contacts:
    def __init__(self, *contacts: Contact) -> None:
        self.contacts = list(contacts)

    async def attribute_keys(self, query: ContactQuery) -> list[str]:
        return sorted({k for c in self.contacts for k in c.attributes})

    async def batches(self, query: ContactQuery, *, size: int) -> AsyncIterator[list[Contact]]:
        for start in range(0, len(self.contacts), size):
            yield self.contacts[start : start + size]


class Files:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.stored: dict[str, bytes] = {}

    async def store_csv(self, filename: str, chunks: AsyncIterator[bytes], owner_id: str) -> str:
        data = b"".join([chunk async for chunk in chunks])
        if self.error is not None:
            raise self.error
        self.stored[filename] = data
        return "file-1"

    async def link(self, file_id: str) -> ExportLink | None:
        raise NotImplementedError


def contact(n: int) -> Contact:
    now = utcnow()
    return Contact(id=f"c{n}", name=f"C{n}", created_at=now, updated_at=now)


def run(files: Files, *contacts: Contact) -> tuple[RunContactExport, Exports]:
    exports = Exports(ContactExport(id="e1", query=ContactQuery(), created_at=utcnow()))
    policy = ExportPolicy(ttl=timedelta(hours=2), lease=timedelta(minutes=6), batch_size=2)
    use_case = RunContactExport(exports, Contacts(*contacts), files, FakeUtcClock(), policy)  # type: ignore[arg-type]
    return use_case, exports


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"), ("\tx", "'\tx"), ("\r=x", "'\r=x"), ("+442079460958", "+442079460958"),
        ("-4", "-4"), ("-1.5", "-1.5"), ("plain", "plain"), ("a=b", "a=b"), ("x\x00\x1by", "xy"),
    ],
)  # fmt: skip
def test_formula_guard(value: str, written: str) -> None:
    assert safe_cell(value) == written


async def test_the_job_writes_every_batch_and_counts_the_rows() -> None:
    files = Files()
    use_case, exports = run(files, contact(1), contact(2), contact(3))
    assert await use_case.execute("e1")
    assert exports.export.status is ExportStatus.DONE and exports.export.total_rows == 3
    assert exports.export.expires_at == exports.export.finished_at + timedelta(hours=2)  # type: ignore[operator]
    [data] = files.stored.values()
    assert data.decode().count("\r\n") == 4
    assert not await use_case.execute("e1")  # done: a redelivery does nothing


async def test_an_outage_is_given_back_for_the_retry_then_fails_on_the_last_attempt() -> None:
    use_case, exports = run(Files(ServiceUnavailable("file storage")), contact(1))
    with pytest.raises(ServiceUnavailable):
        await use_case.execute("e1", final_attempt=False)
    assert exports.export.status is ExportStatus.QUEUED and exports.export.reason is None
    with pytest.raises(ServiceUnavailable):
        await use_case.execute("e1", final_attempt=True)
    assert exports.export.status.value == "failed"
    assert exports.export.reason == "The file storage is unavailable; try again shortly."


async def test_a_refusal_fails_at_once_and_a_bug_says_only_that_it_broke() -> None:
    use_case, exports = run(Files(InvalidInput("S3 refused these settings: no")), contact(1))
    with pytest.raises(InvalidInput):
        await use_case.execute("e1", final_attempt=False)
    assert exports.export.status is ExportStatus.FAILED
    assert exports.export.reason == "S3 refused these settings: no"
    use_case, exports = run(Files(KeyError("internal detail")), contact(1))
    with pytest.raises(KeyError):
        await use_case.execute("e1", final_attempt=False)
    assert exports.export.reason == "The export failed unexpectedly; see the logs."
