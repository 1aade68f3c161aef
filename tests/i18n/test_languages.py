"""Each person's language, over the API: taken from Accept-Language at registration,
changed with PATCH /v1/me, shown and exported; the catalogue, problems and nudges in it."""

import pytest

from app.bids.kinds import CATALOGUE
from tests.factories import log_bid, notifications_of, pair, register


def me(client, account) -> dict:
    response = client.get("/v1/me", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("header", "locale"),
    [(None, "en"), ("de-AT,de;q=0.9,en;q=0.5", "de"), ("pt-BR,es;q=0.8", "es"), ("ja", "en")],
)
def test_registration_takes_the_best_language_of_the_phone(client, header, locale):
    account = register(client, accept_language=header)
    assert me(client, account)["locale"] == locale


def test_a_person_changes_their_language(client):
    account = register(client, accept_language="en-GB")
    response = client.patch("/v1/me", json={"locale": "fr"}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["locale"] == "fr"
    assert me(client, account)["locale"] == "fr"
    exported = client.get("/v1/me/export", headers=account.headers).json()
    assert exported["account"]["locale"] == "fr"


@pytest.mark.parametrize("bad", ["pt", "de-AT", "EN", "", "x" * 100, "en\u0000", 7, None])
def test_a_language_tend_does_not_speak_is_refused_clearly(client, bad):
    account = register(client, accept_language="de")
    response = client.patch("/v1/me", json={"locale": bad}, headers=account.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:tend:problem:validation-error"
    assert problem["title"] == "Ungültige Eingabe"  # in the caller's own language
    assert response.headers["content-language"] == "de"
    if bad is not None:
        assert problem["errors"][0]["loc"] == ["body", "locale"]
    assert me(client, account)["locale"] == "de"


@pytest.mark.parametrize(
    ("header", "locale", "hug"),
    [
        (None, "en", "Hug"),
        ("de", "de", "Umarmung"),
        ("fr-CH", "fr", "Câlin"),
        ("es", "es", "Abrazo"),
    ],
)
def test_the_bid_kinds_come_in_the_language_asked_for(client, header, locale, hug):
    headers = {"Accept-Language": header} if header else {}
    response = client.get("/v1/bid-kinds", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-language"] == locale
    assert "accept-language" in response.headers["vary"].lower()
    kinds = {k["kind"]: k for k in response.json()}
    assert kinds["hug"]["label"] == hug
    assert [k["kind"] for k in response.json()] == [k.kind for k in CATALOGUE]
    assert kinds["hug"]["weight"] == 2.0  # only the words change


def test_problem_titles_speak_the_callers_language_and_keep_their_type(client):
    anonymous = client.get("/v1/me", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert anonymous.status_code == 401
    assert anonymous.json()["title"] == "Es necesario iniciar sesión"
    assert anonymous.json()["type"] == "urn:tend:problem:unauthorized"
    assert anonymous.headers["content-language"] == "es"

    account = register(client, accept_language="fr")
    # Signed in, the account's language wins over the header.
    missing = client.get(
        "/v1/bids/00000000-0000-4000-8000-000000000000",
        headers={**account.headers, "Accept-Language": "de"},
    )
    assert missing.status_code == 404
    assert missing.json()["title"] == "Introuvable"
    assert missing.json()["type"] == "urn:tend:problem:not-found"
    assert client.get("/v1/me").json()["title"] == "Authentication required"


def test_a_partner_is_told_of_a_bid_in_their_own_language(client):
    alex = register(client, display_name="Alex", accept_language="de-DE")
    sam = register(client, display_name="Sam", accept_language="es-ES")
    pair(client, alex, sam)
    log_bid(client, alex, kind="hug", note="am Fluss")
    log_bid(client, sam, kind="compliment")
    [to_sam] = notifications_of(client, sam)
    assert to_sam["title"] == "Alex ha guardado un momento contigo: abrazo"
    [to_alex] = notifications_of(client, alex)
    assert to_alex["title"] == "Sam hat einen Moment mit dir festgehalten: Kompliment"
    assert "am Fluss" not in str(to_sam)
