"""Password hashing, the secret box and TOTP (no servers needed)."""

from __future__ import annotations

import time

import pyotp
import pytest
from cryptography.fernet import Fernet
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from api.infrastructure.security.passwords import PwdlibPasswordHasher
from api.infrastructure.security.secret_box import FernetSecretBox, derive_dev_key
from api.infrastructure.security.totp import PyOtpTotp

SMALL = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@pytest.fixture
def hasher() -> PwdlibPasswordHasher:
    return PwdlibPasswordHasher(**SMALL)


async def test_hash_is_argon2id_and_verifies(hasher: PwdlibPasswordHasher) -> None:
    hashed = await hasher.hash("correct horse battery")
    assert hashed.startswith("$argon2id$") and "m=1024,t=1,p=1" in hashed
    assert "correct horse" not in hashed
    assert await hasher.verify("correct horse battery", hashed) == (True, None)
    assert await hasher.verify("wrong horse battery", hashed) == (False, None)
    assert await hasher.hash("correct horse battery") != hashed  # salted


async def test_unknown_account_is_refused(hasher: PwdlibPasswordHasher) -> None:
    assert await hasher.verify("anything", None) == (False, None)
    assert await hasher.verify("anything", "not-a-hash") == (False, None)


async def test_bcrypt_hash_verifies_and_is_upgraded_to_argon2(
    hasher: PwdlibPasswordHasher,
) -> None:
    legacy = BcryptHasher(rounds=4).hash("old password")
    ok, upgraded = await hasher.verify("old password", legacy)
    assert ok and upgraded is not None and upgraded.startswith("$argon2id$")
    assert await hasher.verify("old password", upgraded) == (True, None)
    assert await hasher.verify("not it", legacy) == (False, None)


async def test_long_password_against_bcrypt_is_checked_like_legacy_bcrypt(
    hasher: PwdlibPasswordHasher,
) -> None:
    long = "p" * 80
    legacy = BcryptHasher(rounds=4).hash(long[:72])  # what bcrypt < 5 stored
    ok, upgraded = await hasher.verify(long, legacy)
    assert ok and upgraded is not None
    assert await hasher.verify("q" * 80, legacy) == (False, None)


async def test_changed_argon2_parameters_ask_for_a_rehash(hasher: PwdlibPasswordHasher) -> None:
    weaker = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=2).hash("pw")
    ok, upgraded = await hasher.verify("pw", weaker)
    assert ok and upgraded is not None and "p=1" in upgraded


async def test_unknown_account_takes_about_as_long_as_a_real_check() -> None:
    hasher = PwdlibPasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    hashed = await hasher.hash("pw")
    await hasher.verify("pw", None)  # the dummy hash is made once, on first use

    async def cost(stored: str | None) -> float:
        # The process's CPU time (the verify's thread included), not the wall clock: what
        # the work costs, whatever else a busy machine runs meanwhile.
        started = time.process_time()
        await hasher.verify("not the password", stored)
        return time.process_time() - started

    pairs = [(await cost(hashed), await cost(None)) for _ in range(3)]  # interleaved
    real = min(pair[0] for pair in pairs)
    dummy = min(pair[1] for pair in pairs)
    assert dummy > real / 3  # same work (a verify), not an instant refusal


def test_secret_box_round_trip_and_tamper() -> None:
    box = FernetSecretBox(Fernet.generate_key().decode())
    sealed = box.encrypt("whatsapp-token-é")
    assert "whatsapp" not in sealed
    assert box.decrypt(sealed) == "whatsapp-token-é"
    assert box.encrypt("same") != box.encrypt("same")
    tampered = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    with pytest.raises(ValueError, match="invalid"):
        box.decrypt(tampered)
    with pytest.raises(ValueError, match="invalid"):
        box.decrypt("not even base64 ✗")
    other = FernetSecretBox(Fernet.generate_key().decode())
    with pytest.raises(ValueError, match="invalid"):
        other.decrypt(sealed)


def test_secret_box_refuses_a_bad_key() -> None:
    with pytest.raises(ValueError, match="Fernet key"):
        FernetSecretBox("too-short")


def test_derive_dev_key_is_a_stable_valid_fernet_key() -> None:
    key = derive_dev_key("dev-insecure-jwt-secret")
    assert key == derive_dev_key("dev-insecure-jwt-secret")
    assert key != derive_dev_key("another seed")
    Fernet(key.encode())  # valid, or this raises
    box = FernetSecretBox(key)
    assert box.decrypt(box.encrypt("x")) == "x"


def test_totp_verifies_the_current_code_and_refuses_others() -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).now()
    assert totp.verify(secret, code)
    assert totp.verify(secret, f" {code[:3]} {code[3:]} ")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    previous_step = pyotp.TOTP(secret).at(time.time() - 30)
    next_step = pyotp.TOTP(secret).at(time.time() + 30)
    assert not totp.verify(secret, wrong) or wrong in (previous_step, next_step)
    far = pyotp.TOTP(secret).at(time.time() - 300)
    assert not totp.verify(secret, far) or far in (code, previous_step, next_step)


def test_totp_tolerates_one_step_of_drift() -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    assert totp.verify(secret, pyotp.TOTP(secret).at(time.time() - 30))


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "12 34 5x"])
def test_totp_refuses_what_is_not_six_digits(code: str) -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    assert not totp.verify(secret, code)


def test_totp_provisioning_uri_and_bad_secret() -> None:
    totp = PyOtpTotp()
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, account="ana@example.com", issuer="Parley")
    assert uri.startswith("otpauth://totp/Parley:ana%40example.com?")
    assert f"secret={secret}" in uri and "issuer=Parley" in uri
    assert not totp.verify("!!!not base32!!!", "123456")


def test_secret_box_reads_under_previous_keys_and_writes_under_the_current() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = FernetSecretBox(old_key).encrypt("channel-token")
    rotated = FernetSecretBox(new_key, [old_key])
    assert rotated.decrypt(sealed_before) == "channel-token"  # nothing lost by the rotation
    sealed_after = rotated.encrypt("channel-token")
    assert FernetSecretBox(new_key).decrypt(sealed_after) == "channel-token"
    with pytest.raises(ValueError, match="invalid"):
        FernetSecretBox(old_key).decrypt(sealed_after)  # new writes use the new key only
    with pytest.raises(ValueError, match="Fernet key"):
        FernetSecretBox(new_key, ["not-a-key"])


def test_reseal_moves_a_secret_to_the_current_key_once() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = FernetSecretBox(old_key).encrypt("app-secret")
    rotated = FernetSecretBox(new_key, [old_key])
    resealed = rotated.reseal(sealed_before)
    assert resealed is not None and resealed != sealed_before
    assert FernetSecretBox(new_key).decrypt(resealed) == "app-secret"  # the old key can go
    assert rotated.reseal(resealed) is None  # already under the current key: left as it is
    stranger = FernetSecretBox(Fernet.generate_key().decode()).encrypt("app-secret")
    for unreadable in (stranger, "not a token", sealed_before[:-4], "é"):
        with pytest.raises(ValueError, match="invalid"):
            rotated.reseal(unreadable)
