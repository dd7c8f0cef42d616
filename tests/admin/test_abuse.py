"""Cheap attacks on the admin side, against a real server: a flood of sign-ins, someone else's
wrong passwords, malformed forms and values that used to brick a site."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
import time

import httpx

from tests import databases
from tests.admin.conftest import SITE, Admin, create_admin, csrf_token, sign_in
from tests.conftest import create_site, running_server, serving
from tests.server.federation import token
from tests.server.test_abuse import from_address


async def _flood(url: str, address: str, tries: int) -> list[httpx.Response]:
    """`tries` sign-ins at once from `address`, each a wrong password for a different name
    (so no per-name limit applies): the costliest thing an anonymous client can ask."""
    headers = from_address(address)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        form = await client.get("/admin/login")
        fields = {"csrf": csrf_token(form), "password": "not the password", "next": "/admin"}
        return await asyncio.gather(*(client.post("/admin/login", data={**fields, "name": f"guess{i}"})
                                      for i in range(tries)))


def test_a_flood_of_sign_ins_is_turned_away_at_once_not_hashed(admin_server):
    # In a thread of its own: Playwright's tests leave an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        answers = thread.submit(asyncio.run, _flood(admin_server.url, "10.6.0.1", 50)).result()
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {401, 429, 503}
    refused = [a for a in answers if a.status_code in (429, 503)]
    assert len(refused) >= 40, statuses  # at most 2 checked at once per address: the rest refused at once
    assert all(int(a.headers["retry-after"]) >= 1 and "try again in" in a.text for a in refused)


def test_wrong_passwords_from_one_address_never_lock_the_admin_out_from_another(admin_server, admin):
    with httpx.Client(base_url=admin_server.url, headers=from_address("10.7.0.1")) as attacker:
        answers = [sign_in(attacker, Admin(admin.name, f"wrong guess {i}")).status_code for i in range(25)]
    assert answers[-1] == 429 and set(answers) == {401, 429}
    with httpx.Client(base_url=admin_server.url, headers=from_address("10.7.0.2")) as real_admin:
        assert sign_in(real_admin, admin).status_code == 303


def test_a_malformed_form_is_a_short_400_and_counts_toward_the_limit(admin_server, signed_in):
    url, malformed = admin_server.url, {"content-type": "application/x-www-form-urlencoded"}
    answer = httpx.post(f"{url}/admin/login", content=b"\xff", headers={**malformed, **from_address("10.8.0.1")})
    assert answer.status_code == 400 and "not UTF-8" in answer.text and "Traceback" not in answer.text
    answer = signed_in.post(f"/admin/sites/{SITE}/rules", content=b"\xff", headers=malformed)
    assert answer.status_code == 400 and "not UTF-8" in answer.text
    answers = []
    while 429 not in answers and len(answers) < 100:  # the bucket refills slowly while we send
        answers.append(httpx.post(f"{url}/admin/login", content=b"\xff",
                                  headers={**malformed, **from_address("10.8.0.2")}).status_code)
    assert answers[-1] == 429 and set(answers[:-1]) == {400} and len(answers) > 50  # 50 at once, then slowly


def test_admin_answers_are_neither_sniffed_nor_stored_nor_referred(signed_in):
    for answer in (signed_in.get("/admin"), signed_in.get(f"/admin/sites/{SITE}"),
                   signed_in.get(f"/v1/admin/sites/{SITE}/dashboard"), signed_in.get("/v1/admin/sites")):
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_a_bad_value_stored_before_the_checks_bricks_nothing(tmp_path):
    """σ = 1e300 saved (and a round closed with it) before admins' inputs were bounded."""
    db_path = tmp_path / "p13n.db"
    create_site(db_path, SITE, "--hash-bits", "10")
    with sqlite3.connect(db_path) as db:
        config = {"min_devices": 1, "target_devices": 1, "noise_multiplier": 1e300, "clip_norm": 1e300,
                  "epsilon_budget": 1e300, "no_such_field": 3}
        db.execute("INSERT INTO round_configs (site, config) VALUES (?, ?)", [SITE, json.dumps(config)])
        db.execute("INSERT INTO rounds (site, version, closed_at, reason, devices, noise_multiplier, clip_norm, "
                   "learning_rate, aggregator, epsilon, delta) VALUES (?, 1, 0, 'old', 1, 1e300, 1, 1, 'mean', 0, 1e-6)",
                   [SITE])
        db.execute("INSERT INTO models (site, version, intercept, weights, created_at) VALUES (?, 1, 0, x'', 0)",
                   [SITE])
    with serving(db_path, "--no-demo", "--ip-rate", "0") as server:
        admin = create_admin(server, "root")
        model = httpx.get(f"{server.url}/v1/sites/{SITE}/model")
        assert model.status_code == 200 and model.json()["federation"]["clip_norm"] == 1000.0
        update = {"base_version": 1, "samples": 1, "delta": {"intercept": 0.0, "idx": [1], "val": [0.1]},
                  "token": token(server.url, SITE)}
        assert httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json=update).status_code == 202
        with httpx.Client(base_url=server.url) as client:
            assert sign_in(client, admin).status_code == 303
            assert client.get("/admin").status_code == 200
            assert client.get(f"/admin/sites/{SITE}").status_code == 200
            assert client.get(f"/v1/admin/sites/{SITE}/dashboard").json()["federation"]["noise_multiplier"] == 1000.0


def test_a_site_whose_rounds_have_no_noise_shows_its_privacy_as_unbounded(tmp_path):
    """σ = 0 spends an infinite ε, which JSON cannot carry: the dashboard says so instead of failing."""
    db_path = tmp_path / "p13n.db"
    create_site(db_path, SITE, "--hash-bits", "10")
    with sqlite3.connect(db_path) as db:
        config = {"min_devices": 1, "target_devices": 1, "noise_multiplier": 0.0, "epsilon_budget": None}
        db.execute("INSERT INTO round_configs (site, config) VALUES (?, ?)", [SITE, json.dumps(config)])
        db.execute("INSERT INTO rounds (site, version, closed_at, reason, devices, noise_multiplier, clip_norm, "
                   "learning_rate, aggregator, epsilon, delta) VALUES (?, 1, ?, 'old', 1, 0, 1, 1, 'mean', NULL, 1e-6)",
                   [SITE, time.time()])
        db.execute("INSERT INTO models (site, version, intercept, weights, created_at) VALUES (?, 1, 0, x'', 0)",
                   [SITE])
    with serving(db_path, "--no-demo", "--ip-rate", "0") as server:
        admin = create_admin(server, "root")
        with httpx.Client(base_url=server.url) as client:
            assert sign_in(client, admin).status_code == 303
            assert client.get(f"/v1/admin/sites/{SITE}/dashboard").json()["epsilon"] is None
            page = client.get(f"/admin/sites/{SITE}")
            assert page.status_code == 200 and "unbounded (a round without noise)" in page.text


def test_replicas_sharing_a_postgresql_database_share_the_sign_in_limits(postgres_cluster):
    db, malformed = databases.new_schema(postgres_cluster), {"content-type": "application/x-www-form-urlencoded"}
    create_site(db, SITE)
    with running_server(db, "--no-demo") as first, running_server(db, "--no-demo") as second:
        answers = []
        while 429 not in answers and len(answers) < 100:  # in turn to each replica, from one address
            replica = (first, second)[len(answers) % 2]
            answers.append(httpx.post(f"{replica.url}/admin/login", content=b"\xff",
                                      headers={**malformed, **from_address("10.9.0.1")}).status_code)
    # 50 at once for the address, whichever replica it asks (each its own bucket would allow 100).
    assert answers[-1] == 429 and 50 < len(answers) < 75
