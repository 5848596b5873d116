"""Cryptographic adapters: password hashing, tokens, secrets at rest, TOTP."""
