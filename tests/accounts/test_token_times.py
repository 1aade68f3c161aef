"""An access token is good only between its issue and its expiry, by Tend's clock: one
that says it was issued in the future (beyond a small leeway for replicas' clocks) is
refused, as a token no Tend issued at that time."""

import pytest

from app.security import ISSUED_AT_LEEWAY_SECONDS
from tests.accounts.test_auth import assert_unauthorized, claims_for, forge, get_me
from tests.factories import register


@pytest.mark.parametrize("ahead", [ISSUED_AT_LEEWAY_SECONDS + 1, 3600, 10**9])
def test_a_token_issued_in_the_future_is_401(client, clock, ahead):
    account = register(client)
    now = int(clock.now().timestamp())
    token = forge(claims_for(account.id, clock, iat=now + ahead, exp=now + ahead + 600))

    assert_unauthorized(get_me(client, token))


def test_a_token_issued_within_the_leeway_ahead_is_accepted(client, clock):
    account = register(client)
    now = int(clock.now().timestamp())
    token = forge(claims_for(account.id, clock, iat=now + ISSUED_AT_LEEWAY_SECONDS))

    assert get_me(client, token).status_code == 200


def test_a_token_from_the_future_works_once_its_time_has_come(client, clock):
    account = register(client)
    now = int(clock.now().timestamp())
    token = forge(claims_for(account.id, clock, iat=now + 300, exp=now + 900))
    assert_unauthorized(get_me(client, token))

    clock.advance(seconds=300)

    assert get_me(client, token).status_code == 200
