"""The clamd adapter against a local server speaking clamd's INSTREAM protocol: clean and
infected files, chunks larger than a piece, and every way the scanner can fail (down,
silent, over its limit) answering 503 within the timeout."""

from __future__ import annotations

import time

import devservers
import pytest

from api.domain.errors import ServiceUnavailable
from api.infrastructure.scanning.clamd import ClamdScanner, NoMalwareScanner
from tests.support.fake_clamd import EICAR, SIGNATURE, FakeClamd, serve_fake_clamd


async def scan(scanner: ClamdScanner, *chunks: bytes) -> str | None:
    session = await scanner.begin()
    for chunk in chunks:
        await session.feed(chunk)
    return await session.threat()


async def test_clean_and_infected_files() -> None:
    fake = FakeClamd()
    async with serve_fake_clamd(fake) as port:
        scanner = ClamdScanner("127.0.0.1", port, timeout_seconds=10, max_bytes=10_000_000)
        big = bytes(range(256)) * 12_000  # 3 MB: sent in pieces of at most 1 MiB
        assert await scan(scanner, big[:100], big[100:]) is None
        assert await scan(scanner, EICAR[:10], EICAR[10:], b"\n") == SIGNATURE
        assert await scan(scanner, b"harmless ", EICAR) is None  # as ClamAV: at the start only
    assert fake.scanned[0] == big and fake.scanned[1] == EICAR + b"\n"
    assert scanner.max_bytes == 10_000_000 and NoMalwareScanner().max_bytes is None
    assert await NoMalwareScanner().begin() is None


async def test_a_scanner_that_fails_is_503_within_the_timeout() -> None:
    down = ClamdScanner("127.0.0.1", devservers.free_port(), timeout_seconds=5, max_bytes=1000)
    with pytest.raises(ServiceUnavailable):
        await down.begin()
    fake = FakeClamd(stream_max=1000, hang=False)
    async with serve_fake_clamd(fake) as port:
        limited = ClamdScanner("127.0.0.1", port, timeout_seconds=5, max_bytes=10_000)
        with pytest.raises(ServiceUnavailable):  # clamd's own limit: its ERROR answer
            await scan(limited, b"x" * 2000)
        fake.hang = True
        silent = ClamdScanner("127.0.0.1", port, timeout_seconds=0.5, max_bytes=10_000)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await scan(silent, b"x" * 10)
        assert time.monotonic() - started < 5
