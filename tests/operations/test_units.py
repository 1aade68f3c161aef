"""Pure pieces: invite codes, rate-limit policy, cursors, the clock, settings."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.clock import FrozenClock
from app.config import Environment, Settings
from app.couples import codes
from app.pagination import InvalidCursor, decode_cursor, encode_cursor, page_of
from app.ratelimit import Policy
from tests.conftest import TEST_DATA_KEY


def test_new_codes_are_canonical_and_distinct():
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert len(code) == 8
        assert set(code) <= set(codes.ALPHABET)
        assert codes.normalize(code) == code


@given(st.text(alphabet=codes.ALPHABET, min_size=8, max_size=8))
def test_typed_codes_are_forgiving(code):
    typed = (code[:4] + "-" + code[4:]).lower()
    assert codes.normalize(typed) == code
    assert codes.normalize(code.replace("0", "O").replace("1", "l")) == code


@pytest.mark.parametrize("typed", ["", "ABC", "ABCDEFGHJ", "ABCDEFGU", "ABCD EFG!", "ÄBCDEFGH"])
def test_impossible_codes_are_none(typed):
    assert codes.normalize(typed) is None


def test_policy_blocks_exponentially_after_free_failures():
    policy = Policy(
        free_failures=3,
        first_block=timedelta(seconds=2),
        max_block=timedelta(seconds=60),
        window=timedelta(hours=1),
        message="",
    )
    assert [policy.block_after(n) for n in (1, 2)] == [None, None]
    assert [policy.block_after(n).total_seconds() for n in (3, 4, 5, 6, 9, 20)] == [
        2,
        4,
        8,
        16,
        60,
        60,
    ]


@given(st.lists(st.one_of(st.integers(), st.text(max_size=30)), min_size=1, max_size=4))
def test_cursor_round_trip(key):
    assert decode_cursor(encode_cursor(key), size=len(key)) == key


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", encode_cursor([1]), "e30"])
def test_foreign_cursors_are_400(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, size=2)


def test_page_of_gives_a_cursor_only_when_more_remain():
    rows = list(range(5))
    assert page_of(rows, 5, lambda r: [r]) == (rows, None)
    page, cursor = page_of(rows, 4, lambda r: [r])
    assert page == [0, 1, 2, 3]
    assert decode_cursor(cursor, size=1) == [3]


def test_frozen_clock_moves_only_when_told():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = FrozenClock(start)
    assert clock.now() == start
    assert clock.advance(minutes=90) == start + timedelta(minutes=90)
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))


def test_production_needs_a_long_secret():
    with pytest.raises(ValidationError, match="TEND_SECRET_KEY is required"):
        Settings(env=Environment.production, secret_key="", data_key=TEST_DATA_KEY)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env=Environment.production, secret_key="short", data_key=TEST_DATA_KEY)
    production = Settings(env=Environment.production, secret_key="x" * 40, data_key=TEST_DATA_KEY)
    assert production.secret_key == "x" * 40


def test_development_generates_a_secret_and_says_so():
    settings = Settings(env=Environment.development, secret_key="")
    assert settings.generated_secret_key
    assert len(settings.secret_key) >= 32
