"""Signed download links of the local provider: the port that verifies them, and what a
verified link names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class VerifiedDownload(Protocol):
    """What a verified link names: the blob, and how to label it."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...


class DownloadLinks(Protocol):
    """Verifies the local provider's signed download links (`Forbidden` when not valid)."""

    def verify_query(self, params: Mapping[str, str]) -> VerifiedDownload: ...
