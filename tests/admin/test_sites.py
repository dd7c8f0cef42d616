"""Sites from the dashboard: add one with its origins, change who may call it; bad input changes nothing."""

from __future__ import annotations

import dataclasses
import time

import httpx
import pytest

from sync_server.records import Update
from sync_server.storage import Store, UnknownSite
from tests.admin.conftest import SIMULATED, SITE, csrf_token
from tests.server.federation import token, update
from tests.server.visitors import Visitor

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

    def save(origins: str) -> httpx.Response:
        return signed_in.post(f"{page}/origins", data={"origins": origins, "csrf": csrf_token(signed_in.get(page))})

    assert save("https://a.example\nhttps://B.example:443").status_code == 303
    answered_within_seconds(model, "https://b.example", 200)
    refused = save("https://a.example\nnot an origin")
    assert refused.status_code == 422 and "origins not saved" in refused.text
    assert httpx.get(model, headers={"origin": "https://b.example"}).status_code == 200  # unchanged
    assert save("").status_code == 303
    answered_within_seconds(model, "https://a.example", 403)


def answered_within_seconds(url: str, origin: str, status: int, seconds: float = 5.0) -> None:
    """Each server process reads a site's origins at most once a second: a change shows soon."""
    deadline = time.monotonic() + seconds
    while httpx.get(url, headers={"origin": origin}).status_code != status:
        assert time.monotonic() < deadline, f"{origin} did not get {status} from {url} within {seconds} s"
        time.sleep(0.1)


def test_rotating_a_key_moves_everything_and_retires_the_old_key(signed_in, admin_server, tmp_path):
    assert add_site(signed_in, site="porch", origins="").status_code == 303
    visitor = Visitor(admin_server, site="porch")
    assert visitor.consent(sync=True).status_code == 201 and visitor.put_profile({"likes": "chairs"}).status_code == 200
    spent, unspent = token(admin_server.url, "porch"), token(admin_server.url, "porch")
    assert httpx.post(f"{admin_server.url}/v1/sites/porch/updates", json=update([1], [0.1], token=spent)).status_code == 202
    before = httpx.get(f"{admin_server.url}/v1/sites/porch/model").json()

    page = "/admin/sites/porch"
    form = {"new_key": "porch-2", "csrf": csrf_token(signed_in.get(page))}
    unconfirmed = signed_in.post(f"{page}/rotate-key", data=form)
    assert unconfirmed.status_code == 422 and "type &#x27;porch&#x27; to confirm" in unconfirmed.text
    assert httpx.get(f"{admin_server.url}/v1/sites/porch/model").status_code == 200  # nothing changed
    answer = signed_in.post(f"{page}/rotate-key", data={**form, "confirm": "porch"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/sites/porch-2?")

    old = httpx.get(f"{admin_server.url}/v1/sites/porch/model")
    assert old.status_code == 404 and old.json()["error"] == "unknown_site"
    assert httpx.post(f"{admin_server.url}/v1/sites/porch/updates",
                      json=update([1], [0.1], token=unspent)).status_code == 404
    model = httpx.get(f"{admin_server.url}/v1/sites/porch-2/model").json()
    assert model["version"] == before["version"] and model["site"] == "porch-2"
    moved = dataclasses.replace(visitor, site="porch-2")
    assert moved.export().json()["profile"] == {"likes": "chairs"}  # the visitor's secret still opens it
    assert admin_server.db()["updates"].count_where("site = ?", ["porch-2"]) == 1
    assert "key rotated" in signed_in.get("/admin/sites/porch-2").text


@pytest.mark.parametrize(("new_key", "problem"), [
    ("porch 3", "a site key is 1 to 64 letters"),
    (SITE, "is taken or was retired"),
])
def test_a_bad_new_key_shows_an_error_and_changes_nothing(signed_in, new_key, problem):
    page = f"/admin/sites/{SIMULATED}"
    answer = signed_in.post(f"{page}/rotate-key", data={"new_key": new_key, "confirm": SIMULATED,
                                                        "csrf": csrf_token(signed_in.get(page))})
    assert answer.status_code == 422 and problem in answer.text
    assert SIMULATED in sites(signed_in)


def test_a_retired_key_is_kept_for_its_site_alone(tmp_path):
    store = Store(tmp_path / "p13n.db")
    store.create_site("a")
    store.create_site("c")
    store.rotate_site_key("a", "b", admin="test")
    with pytest.raises(ValueError, match="'a' is taken or was retired by another site"):
        store.rotate_site_key("c", "a", admin="test")
    with pytest.raises(ValueError, match="the key 'a' was retired when its site became 'b'"):
        store.create_site("a")
    assert store.retired_site_key("a")["site"] == "b" and [s["site"] for s in store.sites()] == ["b", "c"]
    # An update checked against the old key before the rotation is refused, not kept under it.
    [refused] = store.add_updates([("a", Update(0, 1, 0.0, [1], [0.5]))])
    assert isinstance(refused, UnknownSite) and refused.args == ("a",)
    assert store.db["updates"].count == 0
    store.rotate_site_key("b", "a", admin="test")  # rotating back restores the old key
    assert [s["site"] for s in store.sites()] == ["a", "c"] and store.retired_site_key("a") is None
