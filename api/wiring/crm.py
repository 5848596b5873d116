"""The CRM: departments (read by the authentication too, for limited callers), leads,
meetings, tickets and callback requests."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.departments import DepartmentRepository
from api.infrastructure.persistence.crm.departments import BeanieDepartmentRepository
from api.wiring.clients import Clients


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(DepartmentRepository, BeanieDepartmentRepository)
