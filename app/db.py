"""Engine, sessions and the declarative base, for SQLite and PostgreSQL alike."""

import threading
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, NoReturn, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Dialect,
    MetaData,
    Table,
    Uuid,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes a SQLite transaction take the write lock at BEGIN, so two
# writers queue on busy_timeout instead of failing when a read lock cannot be upgraded.
SQLITE_IMMEDIATE = "tend_sqlite_immediate"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on every database.

    SQLite has no timezone-aware type, so values are stored there as naive UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# How long a request waits for a lock another transaction holds before it is answered 503.
# Waiting without end could wedge a process: a transaction that holds a lock needs a free
# server thread to commit, and every thread could be waiting for that very lock.
LOCK_WAIT_SECONDS = 10


def make_engine(url: str, *, pgbouncer: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``. ``pgbouncer``: the URL is PgBouncer in transaction mode, which
    hands each transaction a server connection of its choosing, so statements are never
    prepared (a prepared statement lives on one server connection) and no startup options
    are sent (PgBouncer refuses them; set lock_timeout on the role instead, see
    docs/deploy.md)."""
    # A failing statement's error message must not carry its parameters (notes, emails).
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):  # one connection per thread, no pool
            kwargs.pop("pool_size", None)
            kwargs.pop("max_overflow", None)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if pgbouncer:
        kwargs.setdefault("connect_args", {"prepare_threshold": None})
    else:
        # Row-lock waits end too (LockNotAvailable, answered 503), for the reason above.
        kwargs.setdefault(
            "connect_args", {"options": f"-c lock_timeout={LOCK_WAIT_SECONDS * 1000}"}
        )
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def settings_engine(settings: Settings) -> Engine:
    """The engine the settings describe (TEND_DATABASE_URL, TEND_PGBOUNCER, the pool's
    TEND_DB_POOL_SIZE and TEND_DB_MAX_OVERFLOW)."""
    return make_engine(
        settings.database_url,
        pgbouncer=settings.pgbouncer,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


_sqlite_writer_locks: "WeakKeyDictionary[Engine, threading.Lock]" = WeakKeyDictionary()


class DatabaseBusy(Exception):
    """A lock could not be had within LOCK_WAIT_SECONDS; nothing was written."""


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """Hold the session's transaction as a writer until the block ends.

    On SQLite the transaction takes the write lock at BEGIN (IMMEDIATE), and the writers of
    one process queue on a lock of their own first: they wake as soon as the previous
    writer is done instead of polling SQLite's busy handler, which starves some of them
    for seconds under load. PostgreSQL needs neither; its row locks serialise per couple.
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        yield
        return
    assert isinstance(engine, Engine)
    lock = _sqlite_writer_locks.setdefault(engine, threading.Lock())
    if not lock.acquire(timeout=LOCK_WAIT_SECONDS):
        raise DatabaseBusy("waited too long for this process's writer queue")
    try:
        session.connection(execution_options={SQLITE_IMMEDIATE: True})
        yield
    finally:
        lock.release()


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """One unit of work outside a request: commit on success, roll back on error."""
    with factory() as session, writing(session) if write else nullcontext():
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_for(session: Session) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def commit_then_raise(session: Session, error: Exception) -> NoReturn:
    """Keep what was recorded (a failed attempt, a revoked token family), then fail the request."""
    session.commit()
    raise error


def table_of(model: type[Base]) -> Table:
    """A model's table, for set-based Core statements on hot paths."""
    return cast(Table, model.__table__)


def among(session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter however many
    values, so a batch of thousands of ids costs no query parsing."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]
