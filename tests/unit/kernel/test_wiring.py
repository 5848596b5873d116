"""The composition root: use cases found by discovery, everything the app asks for resolves."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import punq
import pytest
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import api.interfaces
import api.interfaces.http
from api.config import Settings
from api.domain.lifecycle import Closeable, Listener
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.persistence.base.mongo import create_mongo_client
from api.interfaces.http import deps
from api.usecases.kernel.tenancy import ResolveTenant
from api.wiring import build_container, create_celery
from api.wiring.discovery import is_registered, use_case_classes
from tests.support.settings import make_settings

UNUSED_MONGO = "mongodb://127.0.0.1:9/"  # clients are built but never connect here
UNUSED_REDIS = "redis://127.0.0.1:9/0"

SAMPLE = '''
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from pydantic import BaseModel

from api.domain.identity.auth import AuthPolicy
from api.usecases.kernel.auditor import Auditor


class Port(Protocol):
    def run(self) -> None: ...


@dataclass(frozen=True)
class Policy:
    limit: int


class Reply(BaseModel):
    text: str


class Colour(enum.Enum):
    RED = "red"


class Refused(Exception):
    pass


class Pair(NamedTuple):
    left: str
    right: str


class Book:
    def __init__(self, roles: list[str]) -> None:
        self.roles = roles


class Timed:
    def __init__(self, auditor: Auditor, seconds: float) -> None:
        self.seconds = seconds


class Defaulted:
    def __init__(self, auditor: Auditor | None = None) -> None:
        self.auditor = auditor


class _Base:
    def __init__(self, auditor: Auditor) -> None:
        self.auditor = auditor


class DoThing(_Base):
    """A use case: ports and policies in its constructor."""

    def __init__(self, auditor: Auditor, port: Port, policy: AuthPolicy) -> None:
        super().__init__(auditor)


class ListThings:
    """A use case without collaborators."""
'''


@pytest.fixture
def sample_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A package `sample_usecases` with one module holding one of each kind of class."""
    package = tmp_path / "sample_usecases"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "things.py").write_text(textwrap.dedent(SAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield importlib.import_module("sample_usecases")
    finally:
        for name in [n for n in sys.modules if n.startswith("sample_usecases")]:
            del sys.modules[name]


def test_discovery_keeps_the_use_cases_and_leaves_out_values_ports_and_imports(
    sample_package: ModuleType,
) -> None:
    found = use_case_classes(sample_package)
    assert [cls.__name__ for cls in found] == ["DoThing", "ListThings"]


def test_discovery_refuses_two_use_cases_of_one_name(
    sample_package: ModuleType, tmp_path: Path
) -> None:
    twin = "class ListThings:\n    pass\n"
    (tmp_path / "sample_usecases" / "twin.py").write_text(twin)
    with pytest.raises(TypeError, match="two use cases named ListThings"):
        use_case_classes(sample_package)


def test_discovery_finds_use_cases_and_no_value_type() -> None:
    found = use_case_classes()
    assert len(found) > 50
    for cls in found:
        assert cls.__module__.startswith("api.usecases.")
        assert not getattr(cls, "_is_protocol", False)
        assert not hasattr(cls, "__dataclass_fields__")
        assert not hasattr(cls, "model_fields")


def settings() -> Settings:
    return make_settings(
        UNUSED_MONGO, UNUSED_REDIS, "parley_wiring", multi_tenancy_strategy="header"
    )


@pytest.fixture
async def container() -> AsyncIterator[punq.Container]:
    """A container built by the real root from the test settings, with idle clients."""
    given = settings()
    mongo = create_mongo_client(
        UNUSED_MONGO,
        server_selection_timeout_ms=100,
        connect_timeout_ms=100,
        socket_timeout_ms=100,
        max_pool_size=1,
    )
    redis = create_redis(UNUSED_REDIS, socket_timeout=0.1, max_connections=1)
    celery = create_celery(given, results=False)
    built = build_container(given, mongo=mongo, redis=redis, celery=celery)
    try:
        yield built
    finally:
        closeables: list[Closeable] = built.resolve_all(Closeable)  # type: ignore[type-abstract]
        for closeable in closeables:
            await closeable.close()
        celery.close()
        await redis.aclose()
        await mongo.close()


def routes() -> Iterator[APIRoute]:
    """Every route declared under `api.interfaces.http`, whichever router holds it."""
    package = api.interfaces.http
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, APIRouter):
                yield from (route for route in value.routes if isinstance(route, APIRoute))


def injected(dependant: Dependant) -> Iterator[Any]:
    """What a route's dependencies resolve from the container through `deps.Inject`."""
    for dependency in dependant.dependencies:
        call = dependency.call
        if getattr(call, "__module__", None) == deps.__name__ and call is not None:
            target = inspect.getclosurevars(call).nonlocals.get("dependency")
            if target is not None:
                yield target
        yield from injected(dependency)


def test_everything_the_routes_inject_resolves(container: punq.Container) -> None:
    wanted = {target for route in routes() for target in injected(route.dependant)}
    assert len(wanted) > 50  # the walk found the routes' use cases
    for target in wanted:
        assert container.resolve(target) is container.resolve(target) or target is Settings


def resolved_by_name(module: ModuleType) -> Iterator[Any]:
    """The classes a module resolves by name: `<container>.resolve(SomeClass)`."""
    for node in ast.walk(ast.parse(Path(module.__file__ or "").read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "resolve"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
        ):
            found = vars(module).get(node.args[0].id)
            if inspect.isclass(found):
                yield found


def test_everything_the_tasks_and_processes_resolve_resolves(container: punq.Container) -> None:
    package = api.interfaces
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    ]
    modules += [importlib.import_module(name) for name in ("api.main", "api.cli")]
    wanted = {cls for module in modules for cls in resolved_by_name(module)}
    assert len(wanted) >= 5  # the walk found the tasks' and the start-up's use cases
    for cls in wanted:
        assert container.resolve(cls) is container.resolve(cls)


def test_every_discovered_use_case_resolves_once_per_container(
    container: punq.Container,
) -> None:
    for cls in use_case_classes():
        resolved = container.resolve(cls)
        assert isinstance(resolved, cls)
        assert container.resolve(cls) is resolved  # a singleton: built once


def test_an_explicit_registration_takes_precedence_over_discovery(
    container: punq.Container,
) -> None:
    assert is_registered(container, ResolveTenant)
    assert len(container.resolve_all(ResolveTenant)) == 1


def test_every_listener_is_closed_at_shutdown(container: punq.Container) -> None:
    listeners: list[object] = container.resolve_all(Listener)
    closeables: list[object] = container.resolve_all(Closeable)
    assert listeners  # the AI stop listener
    assert all(any(one is other for other in closeables) for one in listeners)
