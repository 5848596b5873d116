"""The MongoDB connection: client, Beanie initialisation, health ping, error translation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from api.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)

MongoClient = AsyncMongoClient[dict[str, Any]]

# SecantusDB (the embedded default) closes a client connection idle for 300 s, and the
# pool would hand that dead connection to the next operation; a standalone server has no
# retryable writes, so that write failed (ServiceUnavailable). Pooled connections idle
# longer than this are dropped instead (harmless against a real mongod).
MAX_IDLE_MS = 240_000


def create_mongo_client(
    uri: str,
    *,
    server_selection_timeout_ms: int,
    connect_timeout_ms: int,
    socket_timeout_ms: int,
    max_pool_size: int,
    write_concern: str | int = "majority",
    journal: bool = True,
    read_concern: str = "local",
) -> MongoClient:
    """One client per process; its timeouts bound how long a request waits on a dead server.

    `write_concern` and `journal` say when the server acknowledges a write (`majority` with
    the journal: once most nodes hold it on disk, so it survives a crash or a failover);
    `read_concern` what a read may see (`majority`: only writes that cannot roll back;
    `local`: the node's newest data)."""
    return AsyncMongoClient(
        uri,
        w=write_concern,
        journal=journal,
        readConcernLevel=read_concern,
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=connect_timeout_ms,
        socketTimeoutMS=socket_timeout_ms,
        maxPoolSize=max_pool_size,
        maxIdleTimeMS=MAX_IDLE_MS,
        tz_aware=True,
        appname="parley",
    )


# The documents Beanie has set up in this process. Its set-up of a class (fields, settings,
# actions, the registry of the module's models) does not depend on the database; binding
# them to another client or database only points each at its collection there.
_SET_UP: set[type[Document]] = set()


def _bind(database: AsyncDatabase[dict[str, Any]], documents: Sequence[type[Document]]) -> None:
    for document in documents:
        document.set_database(database)  # type: ignore[no-untyped-call]
        collection = database[document.get_collection_name()]
        document.set_collection(collection)  # type: ignore[no-untyped-call]


async def init_database(
    client: MongoClient,
    db_name: str,
    documents: Sequence[type[Document]],
    *,
    wait_seconds: float,
    create_indexes: bool = True,
) -> None:
    """Bind the documents and create their indexes (unless `create_indexes` is off: they
    exist), waiting up to `wait_seconds` for the server.

    Documents Beanie has already set up in this process (a process starting its app again,
    as the tests do per test) are only bound, once the server answers a ping: Beanie's
    set-up of every document was about a tenth of a test app's start."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if not create_indexes and _SET_UP.issuperset(documents):
                await client[db_name].command("ping")
                _bind(client[db_name], documents)
                return
            await init_beanie(
                database=client[db_name],
                document_models=list(documents),
                skip_indexes=not create_indexes,
            )
            _SET_UP.update(documents)
            return
        except ConnectionFailure as exc:
            if time.monotonic() >= deadline:
                raise ServiceUnavailable(
                    "database", detail=f"MongoDB did not answer within {wait_seconds:g}s."
                ) from exc
            log.warning("database not reachable yet; retrying")
            await asyncio.sleep(1.0)


@contextmanager
def database_errors() -> Iterator[None]:
    """Translate driver connection failures into the port error `ServiceUnavailable`."""
    try:
        yield
    except ConnectionFailure as exc:
        raise ServiceUnavailable("database") from exc


class MongoPing:
    """`DatabasePing` adapter: the `ping` command."""

    def __init__(self, client: MongoClient) -> None:
        self._client = client

    async def ping(self) -> None:
        try:
            await self._client.admin.command("ping")
        except PyMongoError as exc:
            raise ServiceUnavailable("database") from exc


async def ensure_ttl_index(document: type[Document], field: str, name: str, seconds: int) -> None:
    """Create the TTL index `name` on `field`, or resize it when the retention changed."""
    collection = document.get_pymongo_collection()
    with database_errors():
        indexes = await collection.index_information()
        current = indexes.get(name, {}).get("expireAfterSeconds")
        if current == seconds:
            return
        if current is not None:
            await collection.drop_index(name)
        await collection.create_index(field, name=name, expireAfterSeconds=seconds)


def lookup_index(keys: Sequence[tuple[str, int]], *, name: str) -> IndexModel:
    """A plain index over the keys of a partial (unique) one, for the lookups.

    The partial index decides under concurrency; this one answers the reads, because the
    embedded development server (SecantusDB) never serves a query from a partial index:
    without it, each inbound message's lookups were collection scans that grew with the
    collection (bench/inbound_e2e.py). On MongoDB it costs one more index entry a write.
    """
    # `_id` last: a key pattern of its own (the embedded server mixes up two indexes over
    # the same keys, and then lets concurrent writes past the unique one).
    return IndexModel([*keys, ("_id", 1)], name=name)
