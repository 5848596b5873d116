"""The bare baseline: one ``find_one`` by ``_id`` through PyMongo's async client, as JSON.

No middleware, no dependency injection, no Beanie: the best one database read per
request can do with this stack on this machine. ``bench/tenant_read.py`` serves it with
``uvicorn baseline_app:app --app-dir bench`` and reads its settings from the environment:

- ``BENCH_MONGO_URI``: the MongoDB URL (required);
- ``BENCH_DB_NAME``: the database holding the ``items`` collection (default ``parley_bench``).

The client is configured like Parley's (``tz_aware=True``, a pool of 100), so both
decode the same BSON the same way.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from fastapi import FastAPI, HTTPException
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Items = AsyncCollection[dict[str, Any]]

_collections: dict[str, Items] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        os.environ["BENCH_MONGO_URI"], maxPoolSize=100, tz_aware=True, appname="bench-baseline"
    )
    _collections["items"] = client[os.environ.get("BENCH_DB_NAME", "parley_bench")]["items"]
    try:
        yield
    finally:
        _collections.clear()
        await client.close()


app = FastAPI(lifespan=lifespan)


@app.get("/items/{oid}")
async def get_item(oid: str) -> dict[str, Any]:
    try:
        key = ObjectId(oid)
    except InvalidId:
        raise HTTPException(status_code=404) from None
    document = await _collections["items"].find_one({"_id": key})
    if document is None:
        raise HTTPException(status_code=404)
    document["_id"] = str(document["_id"])
    return document
