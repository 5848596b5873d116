"""Binding the documents at start-up: indexes made, or left alone when `create_indexes` is
off (the tests' apps, on the database whose indexes the session made)."""

from __future__ import annotations

import uuid

from api.infrastructure.persistence.base.mongo import create_mongo_client, init_database
from tests.support.database import Note


async def indexes_after_start(mongo_url: str, *, create_indexes: bool) -> set[str]:
    """The index names of `Note`'s collection once a process started on a fresh database.

    A client of its own: the next test's clean state binds the documents back to the
    session's client (and database)."""
    client = create_mongo_client(
        mongo_url, server_selection_timeout_ms=5000, connect_timeout_ms=5000,
        socket_timeout_ms=10000, max_pool_size=5,
    )  # fmt: skip
    db_name = f"start_{uuid.uuid4().hex[:12]}"
    try:
        await init_database(client, db_name, [Note], wait_seconds=10, create_indexes=create_indexes)
        await Note(tenant_id="t1", title="a").insert()  # the collection exists from here
        return set(await client[db_name]["test_notes"].index_information())
    finally:
        await client.drop_database(db_name)
        await client.close()


async def test_start_up_creates_the_indexes(mongo_url: str) -> None:
    assert await indexes_after_start(mongo_url, create_indexes=True) == {
        "_id_",
        "tenant_title_unique",
    }


async def test_start_up_without_index_creation_leaves_them_alone(mongo_url: str) -> None:
    assert await indexes_after_start(mongo_url, create_indexes=False) == {"_id_"}
