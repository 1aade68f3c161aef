from tests.factories import pair


def test_pairing_walk(client):
    a, b = pair(client)
    r = client.get("/v1/couple", headers=b.headers)
    assert r.status_code == 200
    assert r.json()["partner"]["id"] == a.id
