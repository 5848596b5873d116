"""FastAPI builds an included route (its dependency tree, its parameter and response
models) when a request first walks the route's router, once per app: ~2 ms a route, some
30-60 ms of a test that walks a few routers, since every test starts an app of its own.
The tests keep what was built per route and path for the session: the routers are the
modules' own, included the same way in every app. The only part of a build that names its
app is the dependency overrides' provider; nothing in Parley or its tests overrides a
dependency (a route asked for by an app with overrides raises, rather than serve a build
that would not see them).
Installed by `tests/conftest.py`; apps built outside the tests are unchanged."""

from __future__ import annotations

from typing import Any

from fastapi import routing

# By the route object's id: routes live as long as their modules (the process).
_built: dict[tuple[int, str], Any] = {}
_build = routing._EffectiveRouteContext.from_api_route.__func__  # type: ignore[attr-defined]


def _kept(cls: Any, *, original_route: Any, include_context: Any) -> Any:
    provider = include_context.dependency_overrides_provider
    if getattr(provider, "dependency_overrides", None):
        raise RuntimeError("a test overrides a dependency: route builds cannot be shared")
    key = (id(original_route), include_context.path_for(original_route))
    try:
        return _built[key]
    except KeyError:
        built = _built[key] = _build(
            cls, original_route=original_route, include_context=include_context
        )
        return built


def keep_route_builds() -> None:
    routing._EffectiveRouteContext.from_api_route = classmethod(_kept)  # type: ignore[method-assign, assignment]
