"""`SecretBox` adapter on Fernet (AES-128-CBC + HMAC-SHA256): secrets at rest."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class FernetSecretBox:
    """Encrypts and decrypts short secrets with one Fernet key (`ENCRYPTION_KEY`).

    `decrypt` raises `ValueError` for tampered, truncated or foreign ciphertexts.
    """

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError("the encryption key is not a valid Fernet key") from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ValueError("the ciphertext is invalid or was tampered with") from exc


def derive_dev_key(seed: str) -> str:
    """A valid Fernet key derived from `seed` (SHA-256, url-safe base64).

    Development only, when `ENCRYPTION_KEY` is unset; production requires the setting.
    """
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode("utf-8")).digest()).decode("ascii")
