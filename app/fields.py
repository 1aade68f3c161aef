"""Field types shared by the request schemas, each with a message that states its rule,
and the bases of request and answer bodies."""

import re
import unicodedata
import zoneinfo
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, ClassVar, NotRequired, TypedDict, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.i18n import SUPPORTED_LOCALES

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
DISPLAY_NAME_MAX_LENGTH = 50


def storable_text(value: object) -> object:
    """Refuse text no database should keep: NUL (PostgreSQL cannot store it) and lone
    surrogates (not encodable as UTF-8), wherever they hide in a value."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            storable_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key)
            storable_text(item)
    return value


class BodyExample(TypedDict):
    """A named example of a request body, as an OpenAPI Example object."""

    summary: str
    description: NotRequired[str]
    value: dict[str, Any]


class StrictInput(BaseModel):
    """Base of every request body: unknown fields are rejected, not silently dropped, and
    no text reaches the database that it cannot store."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    # Shown with each operation that takes this body (app.main adds them to the document);
    # every example must be a body the operation accepts.
    openapi_examples: ClassVar[dict[str, BodyExample]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: object, info: ValidationInfo) -> object:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and value is not None:
            takes_bool = _accepts_bool(field.annotation)
            # JSON true is not the number 1, and 0 or "yes" is not a boolean: pydantic's lax
            # mode would take one for the other.
            if isinstance(value, bool) and not takes_bool:
                raise ValueError("must not be true or false")
            if takes_bool and not isinstance(value, bool) and _only_bool(field.annotation):
                raise ValueError("must be true or false")
        return storable_text(value)


def _only_bool(annotation: object) -> bool:
    return annotation is bool or set(get_args(annotation)) <= {bool, type(None)}


def _accepts_bool(annotation: object) -> bool:
    if annotation is bool:
        return True
    return any(_accepts_bool(arg) for arg in get_args(annotation))


class Answer(BaseModel):
    """Base of every answer body: the server always sends every field, so the answer
    schema lists those with a default as required too (a request's stay optional)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class PatchInput(StrictInput):
    """A partial update: absent fields stay as they are; an explicit null is refused."""

    # Fields that may be cleared with an explicit null.
    clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> "PatchInput":
        nulls = sorted(
            f for f in self.model_fields_set if getattr(self, f) is None and f not in self.clearable
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: may be left out but not set to null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document only the null that is accepted: fields not in ``clearable`` take a value
        or are left out."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            if name in cls.clearable or "anyOf" not in prop:
                continue
            kept = [alt for alt in prop["anyOf"] if alt.get("type") != "null"]
            prop.pop("anyOf")
            prop.pop("default", None)
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        return schema

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    # "localtime" would mean the server's zone, "Factory" no zone at all.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "Factory", "posixrules"}


def _check_timezone(value: str) -> str:
    if value not in _known_timezones():
        raise ValueError(
            "must be an IANA time zone name such as 'Europe/Berlin' or 'America/New_York'"
        )
    return value


def _check_display_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > DISPLAY_NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {DISPLAY_NAME_MAX_LENGTH} characters")
    # Line and paragraph separators (Zl, Zp) would break a name over lines like CR/LF.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control, invisible or line-breaking characters")
    return value


_COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "qwertyuiop",
        "1234567890",
        "0123456789",
        "iloveyou",
        "letmein",
        "trustno1",
        "sunshine",
        "princess",
        "football",
        "welcome1",
        "admin12345",
        "qwerty1234",
        "1q2w3e4r5t",
        "iloveyou123",
        "babygirl",
        "loveyou123",
        "mypassword",
    }
)


def _check_password(value: str) -> str:
    rule = (
        f"must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters long "
        "and not a commonly used password"
    )
    if not PASSWORD_MIN_LENGTH <= len(value) <= PASSWORD_MAX_LENGTH:
        raise ValueError(rule)
    if value.lower() in _COMMON_PASSWORDS or len(set(value)) < 3:
        raise ValueError(rule)
    return value


def _check_locale(value: str) -> str:
    if value not in SUPPORTED_LOCALES:
        raise ValueError("must be a language Tend speaks: " + ", ".join(SUPPORTED_LOCALES))
    return value


Timezone = Annotated[str, AfterValidator(_check_timezone)]
# Exactly one of the languages Tend speaks: a client picks from a list, so a tag it made up
# (or a region Tend does not tell apart, like de-AT) is refused rather than guessed at.
LocaleTag = Annotated[
    str,
    AfterValidator(_check_locale),
    WithJsonSchema(
        {
            "type": "string",
            "enum": list(SUPPORTED_LOCALES),
            "description": "A language Tend speaks (BCP 47).",
        }
    ),
]
DisplayName = Annotated[str, AfterValidator(_check_display_name)]
NewPassword = Annotated[str, AfterValidator(_check_password)]


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def to_utc(value: datetime) -> datetime:
    """An aware instant in UTC; one that has no UTC form (year 1 at +14:00) is a ValueError."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of representable instants") from None


def _rfc3339_only(value: object) -> object:
    # pydantic would also take a number of seconds; the contract says RFC 3339.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value[:1].isdigit() or value.strip().isdigit():
        raise ValueError("must be an RFC 3339 date-time with an offset, like 2026-03-10T19:00:00Z")
    try:
        float(value)
    except ValueError:
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, like 2026-03-10T19:00:00Z")


# An instant the client sends: RFC 3339 with an offset, kept in UTC.
Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(to_utc)]

_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _calendar_date_only(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _CALENDAR_DATE.fullmatch(value):
        raise ValueError("must be a calendar date, YYYY-MM-DD, like 2026-03-10")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a calendar date that exists, like 2026-03-10") from None


# A local calendar date the client sends: YYYY-MM-DD only (no time, no number of seconds).
CalendarDate = Annotated[
    date,
    BeforeValidator(_calendar_date_only),
    WithJsonSchema({"type": "string", "format": "date"}),
]

# Timestamps leave the API as RFC 3339 in UTC with an explicit offset; the answer schema
# says so (the serializer's return type alone would document a plain string).
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]

# An instant already written as RFC 3339 text with its offset (the export's columns).
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
