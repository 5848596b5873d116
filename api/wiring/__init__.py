"""The composition root (punq): the only package that names concrete adapters.

`root.build_container` calls one `register(container, settings, clients)` per context
module (kernel, tenants, identity, email, files, ai, operations), then registers the use
cases by discovery (`discovery`). `runtime.running` opens a process's clients, builds the
container, starts and closes it. `main`, `worker` and `cli` import from here only.
"""

from __future__ import annotations

from api.infrastructure.jobs.celery_app import create_celery
from api.wiring.root import build_container
from api.wiring.runtime import UNAVAILABLE_ERRORS, running, start_listeners

__all__ = [
    "UNAVAILABLE_ERRORS",
    "build_container",
    "create_celery",
    "running",
    "start_listeners",
]
