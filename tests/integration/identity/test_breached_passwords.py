"""The Pwned Passwords range adapter against a local server speaking the API's format:
only the hash's first five characters leave, padding is asked for and ignored, and a
check that cannot be made lets the password through (logged without it)."""

from __future__ import annotations

import logging

import devservers
import pytest

from api.infrastructure.security.breached_passwords import NoBreachCheck, PwnedPasswordsRange
from tests.support.fake_pwned import FakePwned, serve_fake_pwned, sha1_upper

BREACHED = "correct horse battery staple"


async def test_a_breached_password_is_found_from_its_hash_prefix_alone() -> None:
    fake = FakePwned(breached={BREACHED: 3_730_471, "decoy-of-count-zero": 0})
    async with serve_fake_pwned(fake) as url:
        check = PwnedPasswordsRange(url, timeout_seconds=5)
        try:
            assert await check.is_breached(BREACHED) is True
            assert await check.is_breached("a long and unlisted passphrase 9f3") is False
            assert await check.is_breached("decoy-of-count-zero") is False
        finally:
            await check.close()
    asked = [sha1_upper(p)[:5] for p in (BREACHED, "a long and unlisted passphrase 9f3")]
    assert [path for path, _ in fake.requests][:2] == [f"/range/{prefix}" for prefix in asked]
    assert all(padding == "true" for _, padding in fake.requests)
    for path, _ in fake.requests:
        assert BREACHED not in path and sha1_upper(BREACHED) not in path


@pytest.mark.parametrize("status", [429, 503])
async def test_an_unavailable_corpus_lets_the_password_through(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakePwned(breached={BREACHED: 1}, fail_with=status)
    async with serve_fake_pwned(fake) as url:
        check = PwnedPasswordsRange(url, timeout_seconds=5)
        try:
            with caplog.at_level(logging.WARNING):
                assert await check.is_breached(BREACHED) is False
        finally:
            await check.close()
    assert "could not be made" in caplog.text and BREACHED not in caplog.text


async def test_nothing_listening_lets_the_password_through() -> None:
    check = PwnedPasswordsRange(f"http://127.0.0.1:{devservers.free_port()}", timeout_seconds=2)
    try:
        assert await check.is_breached(BREACHED) is False
    finally:
        await check.close()
    assert await NoBreachCheck().is_breached(BREACHED) is False
