"""Contact import helpers: files built in the test (CSV in any encoding, XLSX with
openpyxl), the multipart upload, waiting for the job, reading the error report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from openpyxl import Workbook

from tests.support.app import AppClient

IMPORTS = "/api/v1/contacts/imports"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


async def chunks(content: bytes) -> AsyncIterator[bytes]:
    """`content` as an upload's stream (one piece)."""
    yield content


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as typed with a '
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(
    client: AppClient,
    headers: dict[str, str],
    content: bytes,
    mapping: dict[str, str] | str,
    *,
    filename: str = "contacts.csv",
    dry_run: bool | None = None,
) -> Any:
    data: dict[str, str] = {"mapping": mapping if isinstance(mapping, str) else json.dumps(mapping)}
    if dry_run is not None:
        data["dry_run"] = "true" if dry_run else "false"
    return await client.post(
        IMPORTS,
        files={"file": (filename, content, "application/octet-stream")},
        data=data,
        headers=headers,
    )


async def started(
    client: AppClient, headers: dict[str, str], content: bytes, mapping: dict[str, str], **kw: Any
) -> dict[str, Any]:
    response = await upload(client, headers, content, mapping, **kw)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def finished(
    client: AppClient,
    headers: dict[str, str],
    import_id: str,
    timeout: float = 90,
    imports: str = IMPORTS,
) -> dict[str, Any]:
    """The import (of `imports`: contacts' unless named) once `done` or `failed` (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"{imports}/{import_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"the import stayed {body['status']}: {body}"
        await asyncio.sleep(0.1)


async def error_report(client: AppClient, headers: dict[str, str], import_id: str) -> str:
    response = await client.get(f"{IMPORTS}/{import_id}/errors", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return response.text


async def run_import(
    client: AppClient, headers: dict[str, str], content: bytes, mapping: dict[str, str], **kw: Any
) -> dict[str, Any]:
    return await finished(client, headers, (await started(client, headers, content, mapping,
                                                          **kw))["id"])  # fmt: skip
