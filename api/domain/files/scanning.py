"""Scanning files for malware as they are stored (ASVS 12.4.2): the ports."""

from __future__ import annotations

from typing import Protocol


class MalwareScan(Protocol):
    """The scan of one file, fed its bytes in order as they are stored."""

    async def feed(self, chunk: bytes) -> None:
        """The next bytes; `ServiceUnavailable("malware scanner")` when it cannot take them."""
        ...

    async def threat(self) -> str | None:
        """After the last chunk: the name of what was found, or None for a clean file;
        `ServiceUnavailable("malware scanner")` when no verdict could be had."""
        ...

    async def abort(self) -> None:
        """Give the scan up (the file is not kept); never raises."""
        ...


class MalwareScanner(Protocol):
    """Where files are scanned, if anywhere."""

    @property
    def max_bytes(self) -> int | None:
        """The largest file it can scan, or None when no scanner is configured."""
        ...

    async def begin(self) -> MalwareScan | None:
        """A scan of one file, or None when no scanner is configured."""
        ...
