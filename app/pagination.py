"""Cursor pagination: ``?limit=&cursor=`` in, ``{"items": [...], "next_cursor": ...}`` out.

A cursor is the opaque, URL-safe encoding of the sort key of the last item on a page,
so a page never skips or repeats rows when new ones arrive meanwhile.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from app.errors import AppError
from app.fields import to_utc
from app.i18n import N_

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


class InvalidCursor(AppError):
    status = 400
    slug = "invalid-cursor"
    title = N_("Invalid cursor")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``BidPage`` for ``Page[BidPublic]``: the schema's name in the OpenAPI document
        (see app.main), and so the type's name in generated clients."""
        (item,) = params
        if not isinstance(item, type):
            return super().model_parametrized_name(params)
        return f"{item.__name__.removesuffix('Public')}Page"


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(  # no I/O: no thread pool hop (see app.deps)
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[Any]:
    """The sort key inside a cursor; a 400 if it was not made by ``encode_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API gave out.") from exc
    if not isinstance(key, list) or len(key) != size:
        raise InvalidCursor("The cursor is not one this API gave out.")
    return key


def page_of(rows: list[T], limit: int, key: Callable[[T], list[Any]]) -> tuple[list[T], str | None]:
    """Split ``limit + 1`` fetched rows into a page and the cursor for the next one."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(key(page[-1]))


def encode_instant_cursor(at: datetime, item_id: uuid.UUID) -> list[Any]:
    return [at.isoformat(), str(item_id)]


def decode_instant_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (instant, id) sort key of lists ordered newest first; a 400 if it is not one."""
    at, item_id = decode_cursor(cursor, size=2)
    try:
        if not isinstance(at, str) or not isinstance(item_id, str):
            raise ValueError("cursor values are strings")
        instant, parsed_id = datetime.fromisoformat(at), uuid.UUID(item_id)
        if instant.tzinfo is None:
            raise ValueError("cursor instants carry an offset")
        instant = to_utc(instant)
    except ValueError:
        raise InvalidCursor("The cursor is not one this API gave out.") from None
    return instant, parsed_id


def decode_uuid_cursor(cursor: str) -> uuid.UUID:
    """The id of the last item of lists ordered by id; a 400 if it is not one."""
    (item_id,) = decode_cursor(cursor, size=1)
    try:
        if not isinstance(item_id, str):
            raise ValueError("cursor ids are strings")
        return uuid.UUID(item_id)
    except ValueError:
        raise InvalidCursor("The cursor is not one this API gave out.") from None
