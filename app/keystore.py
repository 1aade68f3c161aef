"""Each person's data key, wrapped by the key-encryption key (app.crypto), in one table.

The table lives in the main database unless ``TEND_KEY_DATABASE_URL`` names another one.
In the main database a key is read and written in the request's own transaction. In a
database of its own, each change commits there at once (a key made for a request that then
fails is harmless: the next request uses it), and a backup of the main database holds no
key at all: once an erased person's key is destroyed, their care data in any such backup
stays sealed for good.
"""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, LargeBinary, String, Table, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import crypto
from app.config import Settings
from app.db import Base, UTCDateTime, make_engine, table_of

log = logging.getLogger(__name__)


class PersonKey(Base):
    __tablename__ = "person_keys"

    # No foreign key: the table may live in another database.
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(16))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KeyStore:
    def __init__(self, keyring: crypto.Keyring, engine: Engine | None = None) -> None:
        self.keyring = keyring
        self.engine = engine  # None: the main database, in the caller's transaction

    @classmethod
    def from_settings(cls, settings: Settings) -> "KeyStore":
        keyring = crypto.Keyring(
            crypto.parse_key(settings.data_key),
            tuple(crypto.parse_key(k) for k in settings.previous_data_keys),
        )
        url = settings.key_database_url
        if not url or url == settings.database_url:
            return cls(keyring)
        return cls(keyring, make_engine(url, pool_size=5, max_overflow=5))

    def ensure_schema(self) -> None:
        """A key database of its own holds this one table: made here, by ``tend migrate``."""
        if self.engine is not None:
            Base.metadata.create_all(self.engine, tables=[table_of(PersonKey)])

    @contextmanager
    def _connection(self, session: Session) -> Iterator[Connection]:
        if self.engine is None:
            yield session.connection()
        else:
            with self.engine.begin() as connection:
                yield connection

    def key(self, session: Session, user_id: uuid.UUID, *, now: datetime | None = None) -> bytes:
        """The person's key; with ``now``, made first if they have none."""
        table = table_of(PersonKey)
        with self._connection(session) as connection:
            if now is not None:
                kek_id, wrapped = self.keyring.wrap(crypto.new_key(), user_id)
                connection.execute(
                    insert_for_connection(connection, table)
                    .values(user_id=user_id, kek_id=kek_id, wrapped=wrapped, created_at=now)
                    .on_conflict_do_nothing(index_elements=["user_id"])
                )
            row = connection.execute(
                select(table.c.kek_id, table.c.wrapped).where(table.c.user_id == user_id)
            ).one_or_none()
        if row is None:
            raise crypto.Undecryptable("this person has no data key")
        return self.keyring.unwrap(row.kek_id, row.wrapped, user_id)

    def destroy(self, session: Session, user_id: uuid.UUID) -> None:
        """Destroy the person's key: whatever it sealed, wherever copied, stays sealed."""
        with self._connection(session) as connection:
            connection.execute(delete(table_of(PersonKey)).where(PersonKey.user_id == user_id))

    def rotate(self, session_factory: object, *, batch_size: int = 200) -> int:
        """Rewrap every key not wrapped by the current KEK, a batch per transaction, each
        row locked only while it is rewrapped: requests go on meanwhile. Answers how many."""
        from app.db import transaction  # the request path never needs it

        table = table_of(PersonKey)
        current = self.keyring.current_id
        done = 0
        while True:
            with (
                transaction(session_factory) as session,  # type: ignore[arg-type]
                self._connection(session) as connection,
            ):
                query = (
                    select(table.c.user_id, table.c.kek_id, table.c.wrapped)
                    .where(table.c.kek_id != current)
                    .limit(batch_size)
                )
                if connection.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows = connection.execute(query).all()
                for row in rows:
                    plain = self.keyring.unwrap(row.kek_id, row.wrapped, row.user_id)
                    kek_id, wrapped = self.keyring.wrap(plain, row.user_id)
                    connection.execute(
                        update(table)
                        .where(table.c.user_id == row.user_id, table.c.kek_id == row.kek_id)
                        .values(kek_id=kek_id, wrapped=wrapped)
                    )
            done += len(rows)
            if len(rows) < batch_size:
                return done


def insert_for_connection(connection: Connection, table: Table) -> Any:
    """The dialect's INSERT (with ON CONFLICT) for a bare connection."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
