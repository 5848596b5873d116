"""`LanguageDetector` on lingua (pinned `lingua-language-detector`): every spoken
language, low-accuracy mode (its models load in about two seconds and ~100 MB, against
~40 s and ~1 GB for high accuracy; short chat messages are still told apart well). The
detector is built once per process, on first use, in a thread (loading is blocking)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from lingua import LanguageDetectorBuilder

MIN_CHARS = 3  # "ok", "?" and the like say nothing of a language


class LinguaLanguageDetector:
    def __init__(self) -> None:
        self._detector: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._detector is None:
                self._detector = (
                    LanguageDetectorBuilder.from_all_spoken_languages()
                    .with_low_accuracy_mode()
                    .with_preloaded_language_models()
                    .build()
                )
            return self._detector

    def _detect(self, text: str) -> str | None:
        language = self._build().detect_language_of(text)
        return None if language is None else str(language.iso_code_639_1.name).lower()

    async def detect(self, text: str) -> str | None:
        if len(text.strip()) < MIN_CHARS:
            return None
        if self._detector is not None:
            return self._detect(text)  # sub-millisecond once loaded
        return await asyncio.to_thread(self._detect, text)

    async def start(self) -> None:
        """Load the models ahead of the first message (a worker's start)."""
        await asyncio.to_thread(self._build)
