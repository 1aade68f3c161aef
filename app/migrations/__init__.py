"""Running Alembic from code: the only way Tend's schema is made, in tests too.

The migration scripts live in this package (``env.py``, ``versions/``), so an installed
wheel carries them and `tend migrate` works from any directory; ``alembic.ini`` at the
top of the checkout points the ``alembic`` command at the same place.

Several replicas may run `tend migrate` at once as they start: on PostgreSQL each first
takes a transaction-scoped advisory lock (PgBouncer in transaction mode keeps it, as it
is held by an open transaction), on SQLite an exclusive lock on a file beside the
database, so one migrates and the others find the schema at head when their turn comes.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from app.db import make_engine

SCRIPTS = Path(__file__).resolve().parent
# pg_advisory_xact_lock's key for "a `tend migrate` is running": any fixed 64-bit number.
MIGRATION_LOCK_KEY = 0x7E4D_0001


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("path_separator", "os")
    # Percent signs in a URL (encoded passwords) would read as interpolation.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _sqlite_file_lock(database_url: str) -> Iterator[None]:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _exclusive(engine: Engine, database_url: str) -> Iterator[None]:
    """Only one migration at a time on this database, however many processes ask."""
    if engine.dialect.name != "postgresql":
        with _sqlite_file_lock(database_url):
            yield
        return
    with engine.connect() as lock:
        # Wait as long as the other migration takes: this connection's lock_timeout
        # (meant for requests) would end the wait after seconds.
        lock.execute(text("SET LOCAL lock_timeout = 0"))
        lock.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            lock.rollback()


def _run(command_name: str, database_url: str, revision: str, pgbouncer: bool) -> None:
    engine = make_engine(database_url, poolclass=NullPool, pgbouncer=pgbouncer)
    try:
        with _exclusive(engine, database_url), engine.connect() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            getattr(command, command_name)(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head", *, pgbouncer: bool = False) -> None:
    _run("upgrade", database_url, revision, pgbouncer)


def downgrade(database_url: str, revision: str, *, pgbouncer: bool = False) -> None:
    _run("downgrade", database_url, revision, pgbouncer)
