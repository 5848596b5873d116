"""What keeps AI streams cheap: a generation pauses for the loop only when it held it a
whole slice (`Slices`), an Ollama model is built without loading the CA bundle again,
and the young generation is collected less often once the app has started."""

from __future__ import annotations

import asyncio
import gc
import ssl

import httpx
import pytest

from api.usecases.ai.generation import SLICE_SECONDS, Slices


async def test_a_burst_without_a_turn_of_the_loop_pauses_once_a_slice() -> None:
    loop = asyncio.get_running_loop()
    slices = Slices(loop, loop.time())
    ran: list[str] = []
    loop.call_soon(ran.append, "other")  # another task's turn, waiting
    await slices.next(slices.ends)  # a slice of buffered deltas is over: it pauses
    assert ran == ["other"]
    assert slices.ends >= loop.time()  # the next slice starts after the pause


async def test_a_delta_that_waited_for_the_network_adds_no_pause() -> None:
    loop = asyncio.get_running_loop()
    slices = Slices(loop, loop.time())
    await asyncio.sleep(0)  # the delta waited: the loop turned meanwhile
    ran: list[str] = []
    loop.call_soon(ran.append, "other")
    now = loop.time() + SLICE_SECONDS
    await slices.next(now)
    assert ran == []  # no pause: the loop is not given another turn for nothing
    assert slices.ends == now + SLICE_SECONDS
    # From then on, a slice without a turn of the loop pauses again.
    await slices.next(slices.ends)
    assert ran == ["other"]


def test_an_ollama_model_is_built_without_loading_the_ca_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.infrastructure.ai.ollama_provider import OllamaProvider

    provider = OllamaProvider(
        httpx.AsyncClient(), host="http://127.0.0.1:1", only=[], timeout=httpx.Timeout(5)
    )
    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    first, second = provider.chat_model("llama3.2:latest"), provider.chat_model("qwen:latest")
    assert first is provider.chat_model("llama3.2:latest")  # one per model, kept
    assert first is not second
    assert loads == []  # ~20 ms of the event loop each, twice a model, before


def test_after_start_up_the_young_generation_is_collected_less_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api import main

    monkeypatch.setattr(main, "_startup_heap_frozen", False)  # as in a new process
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # this process's heap stays as it is
    before = gc.get_threshold()
    try:
        main._freeze_startup_heap()
        assert gc.get_threshold() == (main.YOUNG_COLLECTION_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
