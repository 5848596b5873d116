"""The tests' own cleaning between tests (`clean_state`) finds every collection a test
wrote to, in one command, and leaves out the empty ones."""

from __future__ import annotations

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.database import collections_with_documents


async def test_the_collections_holding_documents_are_found(
    mongo_client: MongoClient, db_name: str
) -> None:
    database = mongo_client[db_name]
    assert await collections_with_documents(database) == []  # cleaned before this test
    await database["clean_probe_one"].insert_one({"x": 1})
    await database["clean_probe_many"].insert_many([{"x": i} for i in range(3)])
    await database["clean_probe_emptied"].insert_one({"x": 1})
    await database["clean_probe_emptied"].delete_many({})

    found = await collections_with_documents(database)

    assert sorted(found) == ["clean_probe_many", "clean_probe_one"]
