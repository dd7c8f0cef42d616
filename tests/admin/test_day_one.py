"""A new site's dashboard says what it waits for; a site with a catalog reads its weights in the site's words."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import sys
import time

import httpx

from sync_server.demo import traffic
from sync_server.sites import DEFAULT_HOLDOUT
from tests.admin.conftest import SIMULATED, csrf_token
from tests.conftest import CLI, ROOT, create_site, free_port
from tests.server.visitors import Visitor


def test_an_empty_site_says_what_it_waits_for_and_holds_out_visitors_by_default(signed_in, admin_server):
    create_site(admin_server.db_path, "newcomer")
    Visitor(admin_server, site="newcomer").consent(improve=True)
    Visitor(admin_server, site="newcomer").consent(improve=False)
    page = signed_in.get("/admin/sites/newcomer").text
    assert "Waiting for round 1" in page and "Nothing to chart yet" in page
    assert "<strong>0</strong> of the 1,000 updates that close it" in page
    assert "1 of 2 visitors who answered the consent prompt (50%) opted in to <em>improve</em>" in page
    assert "Holdout: <strong>5%</strong>" in page
    assert "below ±0" not in page and "No privacy noise in the weights yet" in page
    assert 'data-chart="history"' not in page  # no empty chart
    # The default holdout ships with the model every device downloads.
    model = httpx.get(f"{admin_server.url}/v1/sites/newcomer/model").json()
    assert model["settings"]["rules"] == {"holdout": DEFAULT_HOLDOUT}


def test_every_listed_weight_is_named_in_the_catalogs_words(signed_in):
    data = signed_in.get(f"/v1/admin/sites/{SIMULATED}/dashboard").json()
    catalog = traffic.Shop.demo().catalog()
    words = {v["title"] for variants in catalog["slots"].values() for v in variants}
    words |= {f for variants in catalog["slots"].values() for v in variants for f in v["features"]}
    listed = [f for side in ("positive", "negative") for f in data["features"][side]]
    assert listed and all(f["name"] and any(word in f["name"] for word in words) for f in listed)
    assert isinstance(data["features"]["unnamed"], int)
    assert data["catalog"] == {"slots": 2, "variants": 6, "features": 10}
    page = signed_in.get(f"/admin/sites/{SIMULATED}").text
    assert "(bucket " not in page and "The catalog names 6 variants in 2 slots" in page
    # The CLI's import is in the audit log: who ran it, and how.
    assert f"<td>{getpass.getuser()}</td><td>cli</td><td>catalog imported</td>" in page


def test_a_catalog_from_the_form_is_checked_before_anything_changes(signed_in):
    page = f"/admin/sites/{SIMULATED}"
    form = {"csrf": csrf_token(signed_in.get(page)), "catalog": json.dumps({"slots": {"hero": [{"id": "a b"}]}})}
    refused = signed_in.post(f"{page}/catalog", data=form)
    assert refused.status_code == 422 and "slots.hero[0].id: must be a non-empty word" in refused.text
    both = signed_in.post(f"{page}/catalog", data={**form, "url": "https://shop.example/c.json"})
    assert both.status_code == 422 and "not both" in both.text
    private = signed_in.post(f"{page}/catalog", data={"csrf": form["csrf"], "url": "http://127.0.0.1:1/c.json"})
    assert private.status_code == 422 and "private address" in private.text
    assert signed_in.get(f"/v1/admin/sites/{SIMULATED}/dashboard").json()["catalog"]["variants"] == 6


def test_the_cli_fetches_a_catalog_from_a_url(admin_server, tmp_path):
    create_site(admin_server.db_path, "fetched")
    (tmp_path / "catalog.json").write_text(json.dumps(traffic.Shop.demo().catalog()))
    (tmp_path / "broken.json").write_text("{not json")
    port = free_port()
    with subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as files:
        try:
            wait_for_port(port)
            imported, broken = (subprocess.run([*CLI, "import-catalog", "fetched", f"http://127.0.0.1:{port}/{name}",
                                                "--db", str(admin_server.db_path)],
                                               check=False, cwd=ROOT, capture_output=True, text=True)
                                for name in ("catalog.json", "broken.json"))
        finally:
            files.terminate()
    assert broken.returncode != 0 and "the catalog is not JSON" in broken.stderr
    assert imported.returncode == 0, imported.stderr
    assert "a catalog of 6 variants in 2 slots" in imported.stdout
    assert admin_server.db()["catalogs"].count_where("site = ?", ["fetched"]) == 1


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the file server did not start"
            time.sleep(0.05)
