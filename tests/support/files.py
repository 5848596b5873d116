"""Helpers for the storage, file and avatar tests: uploads, and fetching signed URLs
(through the app for the local provider, over the network for S3 and Azure). The app
whose local blobs live in a temporary folder is in `tests/e2e/files/conftest.py`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

UPLOAD = "/api/v1/upload"
FILES = "/api/v1/files"
STORAGE = "/api/v1/storage"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
FILE_FIELDS = {"id", "filename", "content_type", "size", "sha256", "url", "url_expires_at"}


def png_bytes(size: int) -> bytes:
    """A PNG signature followed by `size` random bytes (sniffed as image/png)."""
    return PNG + os.urandom(size)


async def upload(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "picture.png",
    claimed_type: str = "image/png",
    *,
    path: str = UPLOAD,
) -> httpx.Response:
    return await http.post(path, files={"file": (filename, data, claimed_type)}, headers=headers)


async def uploaded(
    http: httpx.AsyncClient, headers: dict[str, str], data: bytes, filename: str = "a.png"
) -> dict[str, Any]:
    response = await upload(http, headers, data, filename)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def fetch(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET a signed URL: local links through the app (no token, no tenant header), provider
    links (S3, Azure) over the network."""
    parts = urlsplit(url)
    if parts.path.startswith("/api/v1/files/download"):
        return await http.get(f"{parts.path}?{parts.query}")
    async with httpx.AsyncClient(timeout=30) as network:
        return await network.get(url)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blobs_in(folder: Path) -> list[Path]:
    """Every stored blob (and leftover temporary file) under the local storage folder."""
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
