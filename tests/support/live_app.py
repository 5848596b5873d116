"""The whole app served over real TCP from a background thread, for synchronous clients
(Schemathesis drives Hypothesis, which runs the test body synchronously).

`LiveApp` runs, on its own event loop in its own thread: the fake LLM server, then Parley
(`create_app()` with its real lifespan) under uvicorn. Its `run()` hands a coroutine to
that loop and waits for it, so a test can arrange through the app's container what HTTP
cannot, on the loop the app's clients belong to. Nothing in the test's own loop may touch
Beanie while it runs: the documents are bound to the app's Mongo client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import punq
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.config import Settings
from api.main import create_app
from tests.support.app import container_of
from tests.support.asgi_server import serve_asgi
from tests.support.fake_llm import FakeLLM, serve_fake_llm

T = TypeVar("T")

START_TIMEOUT_SECONDS = 60.0


class LiveApp:
    """`with LiveApp(settings_for) as live:` Parley at `live.url` and the fake LLM it uses.

    `settings_for(llm_url)` builds the app's settings once the fake LLM listens.
    """

    def __init__(self, settings_for: Any) -> None:
        self._settings_for = settings_for
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="live-app", daemon=True)
        self.url = ""
        self.app: FastAPI | None = None
        self.settings: Settings | None = None

    @property
    def container(self) -> punq.Container:
        assert self.app is not None
        return container_of(self.app)

    def __enter__(self) -> LiveApp:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError("the live app did not start in time")
        if self._failure is not None:
            raise RuntimeError("the live app failed to start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_SECONDS)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run `coroutine` on the app's loop and answer its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            llm_url = await stack.enter_async_context(serve_fake_llm(FakeLLM()))
            self.settings = self._settings_for(llm_url)
            self.app = create_app(self.settings)
            await stack.enter_async_context(
                LifespanManager(self.app, startup_timeout=30, shutdown_timeout=30)
            )
            self.url = await stack.enter_async_context(serve_asgi(self.app))
            self._ready.set()
            await self._stop.wait()
