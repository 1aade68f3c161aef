"""The floor under Tend's write path: the statements one bid create costs
(``bench.pgbench.statements``), run from one bare FastAPI endpoint on raw psycopg.

Same HTTP server (uvicorn), same framework, same access-token check, same driver and the
same statements as `tend serve`, with its pre-ping and one transaction, but no ORM, no
dependency chain and no middleware. Two endpoints: ``POST /v1/bids`` a plain ``def`` (one
trip through the thread pool, as Tend's sessions are synchronous), ``POST /async/v1/bids``
an ``async def`` on psycopg's async connection (no thread pool at all). Not Tend: a
yardstick for bench/floor.py, served as ``uvicorn bench.floor_app:app`` with
BENCH_FLOOR_DSN and BENCH_FLOOR_SECRET set.
"""

import asyncio
import os
import queue
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import FastAPI, Header
from psycopg.types.json import Json

from app import security
from bench import pgbench

POOL_SIZE = 10
_PARAMETERS = {
    name: f"%({name})s"
    for name in ("me", "partner", "couple", "bid", "notification", "now", "day", "data", "dedupe")
}
SCRIPTS = {
    response: [s.format(**_PARAMETERS) for s in pgbench.statements(response, postgresql=True)]
    for response in ("toward", "pending")
}
_pool: "queue.Queue[psycopg.Connection[Any]]" = queue.Queue()
_async_pool: "asyncio.Queue[psycopg.AsyncConnection[Any]]" = asyncio.Queue()


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Prepared after a statement's fifth use, as under SQLAlchemy; autocommit, so that the
    # ping stands alone and transaction() is BEGIN ... COMMIT.
    dsn = os.environ["BENCH_FLOOR_DSN"]
    for _ in range(POOL_SIZE):
        _pool.put(psycopg.connect(dsn, prepare_threshold=5, autocommit=True))
        _async_pool.put_nowait(
            await psycopg.AsyncConnection.connect(dsn, prepare_threshold=5, autocommit=True)
        )
    yield
    while not _pool.empty():
        _pool.get().close()
    while not _async_pool.empty():
        await _async_pool.get_nowait().close()


app = FastAPI(lifespan=_lifespan)


def _values(body: dict[str, Any], authorization: str) -> dict[str, Any]:
    """The statements' parameters, for the caller the access token names."""
    now = datetime.now(UTC)
    claims = security.decode_access_token(
        authorization.removeprefix("Bearer "), secret_key=os.environ["BENCH_FLOOR_SECRET"], now=now
    )
    n = int(str(claims.user_id)[-12:])  # pgbench.user_id(n): partners 2k and 2k+1, couple k
    bid = uuid.UUID(body["id"])
    partner = pgbench.user_id(n ^ 1)
    return {
        "me": claims.user_id,
        "partner": partner,
        "couple": pgbench.couple_id(n // 2),
        "bid": bid,
        "notification": uuid.uuid4(),
        "now": now,
        "day": now.date(),
        "data": Json({"bid_id": str(bid)}),
        "dedupe": f"partner_bid:{partner}:{bid}",
    }


@contextmanager
def _connection() -> Iterator[psycopg.Connection[Any]]:
    connection = _pool.get()
    try:
        connection.execute("SELECT 1")  # Tend's pool pre-ping
        yield connection
    finally:
        _pool.put(connection)


@app.post("/v1/bids", status_code=201)
def create_bid(body: dict[str, Any], authorization: str = Header()) -> dict[str, Any]:
    values = _values(body, authorization)
    with _connection() as connection, connection.transaction():
        for statement in SCRIPTS[body["response"]]:
            connection.execute(statement, values)
    return {"id": body["id"], "response": body["response"]}


@asynccontextmanager
async def _async_connection() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    connection = await _async_pool.get()
    try:
        await connection.execute("SELECT 1")
        yield connection
    finally:
        _async_pool.put_nowait(connection)


@app.post("/async/v1/bids", status_code=201)
async def create_bid_async(body: dict[str, Any], authorization: str = Header()) -> dict[str, Any]:
    values = _values(body, authorization)
    async with _async_connection() as connection, connection.transaction():
        for statement in SCRIPTS[body["response"]]:
            await connection.execute(statement, values)
    return {"id": body["id"], "response": body["response"]}
