"""punq reads a class's constructor type hints (`typing.get_type_hints`) at every
registration: about two thirds of building the container, ~30 ms of each test's app start.
The tests build one container per app, so the hints are kept per class for the session;
they cannot change within a process. Installed by `tests/conftest.py`; the app's own
wiring is unchanged (a process builds its container once)."""

from __future__ import annotations

from typing import Any

import punq

_hints: dict[Any, dict[str, Any]] = {}
_read = punq._Registry._get_needs_for_ctor


def _kept(self: punq._Registry, cls: type[Any]) -> dict[str, Any]:
    try:
        return dict(_hints[cls])
    except KeyError:
        hints = _hints[cls] = _read(self, cls)
        return dict(hints)


def keep_constructor_hints() -> None:
    punq._Registry._get_needs_for_ctor = _kept  # type: ignore[method-assign]
