"""Sites from the dashboard: add one with its origins, change who may call it; bad input changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.admin.conftest import SITE, csrf_token

ORIGIN = "https://garden.example"


def add_site(client: httpx.Client, **fields: str) -> httpx.Response:
    form = {"site": "garden", "hash_bits": "12", "origins": ORIGIN, **fields}
    return client.post("/admin/sites", data={**form, "csrf": csrf_token(client.get("/admin"))})


def sites(client: httpx.Client) -> list[str]:
    return client.get("/v1/admin/sites").json()["sites"]


def test_an_admin_adds_a_site_that_its_pages_may_call_at_once(signed_in, admin_server):
    answer = add_site(signed_in)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/sites/garden?")
    assert "garden" in sites(signed_in)
    model = httpx.get(f"{admin_server.url}/v1/sites/garden/model", headers={"origin": ORIGIN})
    assert model.status_code == 200 and model.json()["hash_bits"] == 12
    assert model.headers["access-control-allow-origin"] == ORIGIN
    page = signed_in.get(answer.headers["location"]).text
    assert "site created" in page and ORIGIN in page


@pytest.mark.parametrize(("fields", "problem"), [
    ({"site": "my garden"}, "a site key is 1 to 64 letters"),
    ({"site": SITE}, f"there is a site &#x27;{SITE}&#x27; already"),
    ({"site": "patio", "hash_bits": "40"}, "hash bits must be from 8 to 24, got 40"),
    ({"site": "patio", "hash_bits": "many"}, "hash bits must be a whole number"),
    ({"site": "patio", "origins": "https://ok.example garden.example"}, "an origin is scheme://host[:port]"),
])
def test_a_bad_new_site_shows_an_error_and_adds_nothing(signed_in, fields, problem):
    before = sites(signed_in)
    answer = add_site(signed_in, **fields)
    assert answer.status_code == 422 and problem in answer.text
    assert sites(signed_in) == before


def test_an_admin_changes_who_may_call_a_site(signed_in, admin_server):
    page = f"/admin/sites/{SITE}"
    model = f"{admin_server.url}/v1/sites/{SITE}/model"
    save = lambda origins: signed_in.post(f"{page}/origins",  # noqa: E731
                                          data={"origins": origins, "csrf": csrf_token(signed_in.get(page))})
    assert save("https://a.example\nhttps://B.example:443").status_code == 303
    assert httpx.get(model, headers={"origin": "https://b.example"}).status_code == 200
    refused = save("https://a.example\nnot an origin")
    assert refused.status_code == 422 and "origins not saved" in refused.text
    assert httpx.get(model, headers={"origin": "https://b.example"}).status_code == 200  # unchanged
    assert save("").status_code == 303
    assert httpx.get(model, headers={"origin": "https://a.example"}).status_code == 403
