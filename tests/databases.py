"""Throwaway databases for tests and benchmarks, named per process so runs never collide."""

import os
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.db import make_engine

POSTGRES_URL = os.environ.get("TEND_TEST_POSTGRES_URL", "")


def _admin(base_url: str, sql: str) -> None:
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def create_database(backend: str, directory: Path, name: str, base_url: str = POSTGRES_URL) -> str:
    """An empty database: a file in ``directory`` for SQLite, a new database on PostgreSQL."""
    if backend == "sqlite":
        return f"sqlite:///{directory / f'{name}.db'}"
    name = f"{make_url(base_url).database}_{name}_{os.getpid()}"
    drop_database(
        make_url(base_url).set(database=name).render_as_string(hide_password=False), base_url
    )
    _admin(base_url, f'CREATE DATABASE "{name}"')
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, base_url: str = POSTGRES_URL) -> None:
    """Drop a PostgreSQL test database, waiting out an autovacuum worker still inside it
    (FORCE may not end another role's process)."""
    if not url.startswith("postgresql"):
        return
    name = make_url(url).database
    for attempt in range(30):
        try:
            _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (ProgrammingError, OperationalError):
            if attempt == 29:
                raise
            time.sleep(1)
