"""CRM departments: what tells whether records are still routed to a department (the
raw collections of conversations, leads, tickets and callback requests). The departments'
store itself is registered with the CRM (`api.wiring.crm`)."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.crm.departments import RoutedRecords
from api.infrastructure.persistence.crm.routed_records import CollectionRoutedRecords
from api.wiring.clients import Clients


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(RoutedRecords, CollectionRoutedRecords)
