"""Contact imports: rows per second and peak RSS growth of the import job on a 100,000-row
CSV and a 100,000-row XLSX, in one process, against the embedded Mongo server.

    uv run --frozen python bench/imports.py [--rows 100000] [--batch 500]
                                            [--formats csv,xlsx] [--json-out f]

Starts its own SecantusDB (standalone, in memory) and Redis on free ports
(`whatsapp_stack.start_stack`), builds Parley's container in this process (`running`, as
a worker does) and a tenant through `CreateTenant`. Then, for each format, in a tenant of
its own (so every row creates a contact):

- writes the file (5 columns: name, phone, email, tags, an attribute; every row a new
  number) to a scratch directory, outside the measurement;
- stores it through the imports' `ImportFiles` (the tenant's local storage, as the API
  does) and adds the import record;
- times `RunContactImport.execute` (the job's body: read from storage, stream, check,
  look up, store results, bulk upsert, checkpoint) while a thread samples this process's
  RSS every 20 ms (and the kernel's high-water mark, reset first): peak RSS growth is the
  peak minus the RSS just before.

A baseline, `bare_bulk_upsert`, writes the same 100,000 contact-shaped documents with
pymongo alone (ordered bulk upserts by phone, 500 at a time) into a scratch collection of
the same server with the contacts' indexes: the floor the database sets. Prints a
markdown table and the verdict on the issue's aims (above 2,000 rows/s, RSS growth under
100 MB). Everything started is stopped on exit, Ctrl-C and errors included. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import whatsapp_stack as ws
from openpyxl import Workbook
from pymongo import AsyncMongoClient, UpdateOne

from api.common.clock import utcnow
from api.domain.messaging.imports import (
    ContactImport,
    ContactImportRepository,
    ImportFiles,
    ImportFormat,
)
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.messaging.contacts import ContactDocument
from api.usecases.messaging.run_contact_import import RunContactImport
from api.usecases.tenants.create_tenant import CreateTenant
from api.usecases.tenants.rules import OPERATOR
from api.wiring import running

GOAL_ROWS_PER_SECOND = 2000.0
GOAL_RSS_MB = 100.0
SAMPLE_EVERY = 0.02
HEADER = ["Name", "Phone", "Email", "Tags", "Plan"]
MAPPING = {"Name": "name", "Phone": "phone", "Email": "email", "Tags": "tags",
           "Plan": "attribute:plan"}  # fmt: skip
T = TypeVar("T")


def row(i: int) -> list[str]:
    return [f"Customer {i}", f"+1650{2_000_000 + i:07d}", f"customer{i}@example.com",
            f"import; group{i % 7}", ("gold", "silver", "bronze")[i % 3]]  # fmt: skip


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(row(i))


def write_xlsx(path: Path, rows: int) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append(row(i))
    book.save(path)


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


@dataclass(frozen=True)
class Result:
    target: str
    rows: int
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float
    counts: dict[str, int]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


async def measured(action: Callable[[], Awaitable[T]]) -> tuple[T, float, float, float]:
    """(result, seconds, RSS before, peak RSS) in MB, sampled every 20 ms."""
    gc.collect()
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:  # noqa: ASYNC230
        refs.write("5")  # VmHWM := VmRSS
    before = rss_kb()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_EVERY):
            peak[0] = max(peak[0], rss_kb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = await action()
    finally:
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
    top = max(peak[0], rss_kb("VmHWM"))
    return result, seconds, before / 1024, top / 1024


async def chunks_of(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, 1024 * 1024):
            yield chunk


async def import_file(container: Any, path: Path, file_format: ImportFormat, rows: int,
                      batch: int) -> Result:  # fmt: skip
    created = await container.resolve(CreateTenant).execute(
        OPERATOR, name=f"Bench {file_format.value}", subdomain=f"bench-{file_format.value}",
        owner_email=f"owner@{file_format.value}.example.com", owner_full_name="Bench Owner",
        owner_password="bench-owner-password-1",  # noqa: S106 - a throwaway database's
    )  # fmt: skip
    with tenant_context(TenantId(created.tenant.id or "")):
        files: ImportFiles = container.resolve(ImportFiles)
        stored = await files.store(filename=path.name, chunks=chunks_of(path), owner_id="bench")
        imports: ContactImportRepository = container.resolve(ContactImportRepository)
        record = await imports.add(ContactImport(
            file_id=stored.file_id, filename=stored.filename, format=file_format,
            mapping=MAPPING, batch_size=batch, created_at=utcnow(),
        ))  # fmt: skip
        assert record.id is not None
        job: RunContactImport = container.resolve(RunContactImport)
        status, seconds, before, peak = await measured(lambda: job.execute(record.id or ""))
        done = await imports.get(record.id)
    assert done is not None, record
    assert status is not None, done
    assert status.value == "done", done
    assert done.processed_rows == rows == done.created, done
    counts = {k: getattr(done, k) for k in ("created", "updated", "skipped", "failed")}
    return Result(f"parley_job_{file_format.value}", rows, seconds, before, peak, counts)


async def bare_bulk_upsert(mongo_url: str, rows: int, batch: int) -> Result:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    collection = client[ws.DB_NAME]["bench_bare_contacts"]
    await collection.create_indexes(ContactDocument.Settings.indexes)  # the contacts' own

    async def write() -> int:
        for start in range(0, rows, batch):
            now = utcnow()
            requests = []
            for i in range(start, min(rows, start + batch)):
                name, phone, email, _, plan = row(i)
                requests.append(UpdateOne(
                    {"tenant_id": "bare", "phone": phone},
                    {"$set": {"name": name, "email": email, "attributes.plan": plan,
                              "updated_at": now},
                     "$setOnInsert": {"source": "import", "created_at": now},
                     "$addToSet": {"tags": {"$each": ["import", f"group{i % 7}"]}}},
                    upsert=True,
                ))  # fmt: skip
            await collection.bulk_write(requests, ordered=True)
        return rows

    try:
        _, seconds, before, peak = await measured(write)
    finally:
        await client.close()
    return Result("bare_bulk_upsert", rows, seconds, before, peak, {"created": rows})


def table(results: list[Result]) -> str:
    lines = ["| target | rows | seconds | rows/s | RSS before (MB) | peak growth (MB) |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r.target} | {r.rows:,} | {r.seconds:.1f} | {r.rows_per_second:,.0f} "
                     f"| {r.rss_before_mb:.0f} | {r.growth_mb:.1f} |")  # fmt: skip
    return "\n".join(lines)


async def main(options: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, ws.raise_on_sigterm)
    with contextlib.ExitStack() as cleanup, tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        stack = ws.start_stack(work, cleanup, IMPORT_RUN_SECONDS="100000",
                               JOB_TIME_LIMIT_SECONDS="100000",
                               LOCAL_STORAGE_DIR=str(work / "blobs"))  # fmt: skip
        order = [ImportFormat(name) for name in options.formats.split(",")]
        files = {fmt: work / f"contacts.{fmt.value}" for fmt in order}
        ws.say(f"writing {options.rows:,}-row files: {options.formats}")
        for fmt, path in files.items():
            (write_csv if fmt is ImportFormat.CSV else write_xlsx)(path, options.rows)
        results = []
        saved = os.getcwd()
        os.chdir(work)  # relative paths of the run (none expected) land in the scratch dir
        try:
            async with running(stack.parley_settings) as container:
                for file_format, path in files.items():
                    ws.say(f"importing {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
                    results.append(await import_file(container, path, file_format,
                                                     options.rows, options.batch))  # fmt: skip
                    ws.say(str(results[-1]))
            ws.say("baseline: the same rows as bare pymongo bulk upserts")
            results.append(await bare_bulk_upsert(stack.mongo_url, options.rows, options.batch))
        finally:
            os.chdir(saved)
    print(table(results))
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()}; this machine has "
          f"{os.cpu_count()} cores: above that, other work shared them")  # fmt: skip
    jobs = [r for r in results if r.target.startswith("parley_job")]
    met = all(r.rows_per_second > GOAL_ROWS_PER_SECOND and r.growth_mb < GOAL_RSS_MB
              for r in jobs)  # fmt: skip
    print(f"\naims: > {GOAL_ROWS_PER_SECOND:,.0f} rows/s and RSS growth < {GOAL_RSS_MB:.0f} MB: "
          + ("met" if met else "missed"))  # fmt: skip
    if options.json_out:
        with open(options.json_out, "w") as out:  # noqa: ASYNC230 - after the measurements
            json.dump([asdict(r) for r in results], out, indent=2)
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--formats", default="csv,xlsx", help="which files, in this order")
    parser.add_argument("--json-out")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
