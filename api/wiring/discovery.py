"""Use cases are registered by discovery, so each is named once: where it is defined.

The rule. Every module under `api.usecases` is imported, and a class found there is
registered (as a singleton) when all of these hold:

- it is defined in that module (not imported into it) and its name does not start with `_`;
- it is not a value type: no Protocol (a port), pydantic model, dataclass, Enum,
  exception, NamedTuple or TypedDict;
- its constructor takes collaborators only: every parameter is annotated with a class
  (a port, a policy, another use case) that is not a builtin, and has no default. A class
  built from data (`RoleBook(roles)`, `Answer(started, ..., keepalive: float)`) is a value.

Explicit registrations made before discovery (policies such as `AuthPolicy`, the shared
`ResolveTenant`) take precedence: a class the container already knows is skipped.

Use cases hold no per-request state (the tenant and request come from the context), so
each is built once per container and reused: resolving one per request cost a measurable
share of a fast read. Two discovered classes may not share a name: punq resolves string
annotations by simple name, so one would silently stand in for the other.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import punq
from pydantic import BaseModel

import api.usecases


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        yield importlib.import_module(info.name)


def _is_value_type(cls: type[Any]) -> bool:
    return (
        bool(getattr(cls, "_is_protocol", False))
        or dataclasses.is_dataclass(cls)
        or issubclass(cls, (BaseModel, enum.Enum, BaseException, tuple, dict))
    )


def _takes_collaborators_only(cls: type[Any]) -> bool:
    if cls.__init__ is object.__init__:
        return True
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    try:
        hints = typing.get_type_hints(cls.__init__)
    except NameError as exc:
        raise TypeError(f"{cls.__qualname__}: constructor annotations unresolvable") from exc
    for parameter in parameters:
        hint = hints.get(parameter.name)
        if (
            parameter.default is not inspect.Parameter.empty
            or parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
            or not isinstance(hint, type)
            or typing.get_origin(hint) is not None
            or hint.__module__ == "builtins"
        ):
            return False
    return True


def use_case_classes(package: ModuleType = api.usecases) -> list[type[Any]]:
    """The classes of `package` that the rule above registers, in module order."""
    return list(_discovered(package))


@functools.cache
def _discovered(package: ModuleType) -> tuple[type[Any], ...]:
    """Walked once per process: the modules are imported once, and the walk and its type
    hints cost ~40 ms, each time a container is built (every app a test starts built one)."""
    found: dict[str, type[Any]] = {}
    for module in _modules(package):
        for name, cls in vars(module).items():
            if (
                not inspect.isclass(cls)
                or cls.__module__ != module.__name__
                or name.startswith("_")
                or _is_value_type(cls)
                or not _takes_collaborators_only(cls)
            ):
                continue
            if name in found:
                raise TypeError(f"two use cases named {name}: {found[name]} and {cls}")
            found[name] = cls
    return tuple(found.values())


def is_registered(container: punq.Container, service: Any) -> bool:
    return bool(container.registrations.build_context(service).all_registrations(service))


def register_use_cases(container: punq.Container) -> None:
    """Register every discovered use case not registered explicitly, as a singleton."""
    for cls in use_case_classes():
        if not is_registered(container, cls):
            container.register(cls, scope=punq.Scope.singleton)
