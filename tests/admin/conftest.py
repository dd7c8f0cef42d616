"""A real server whose site has closed a few federated rounds, and an admin made with the CLI."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import secrets
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from sync_server import __main__ as cli
from sync_server.demo import traffic
from sync_server.records import RoundConfig
from sync_server.storage import Store
from tests.conftest import RunningServer, create_site, new_database, serving
from tests.server.federation import token

SITE = "shop"
DEVICES_PER_ROUND = 3
ROUNDS = 4
SIMULATED = "outdoor"  # a site filled by the traffic simulator, with a logged sample


@dataclasses.dataclass
class Admin:
    name: str
    password: str


def create_admin(server: RunningServer, name: str) -> Admin:
    """`python -m sync_server create-admin NAME --password-stdin`, as an operator runs it (in this process)."""
    password = secrets.token_urlsafe(16)
    stdin, sys.stdin = sys.stdin, io.StringIO(password + "\n")
    try:
        cli.main(["create-admin", name, "--password-stdin", "--db", str(server.db_path)])
    finally:
        sys.stdin = stdin
    return Admin(name, password)


def sign_in(client: httpx.Client, admin: Admin) -> httpx.Response:
    """Fill in and send the sign-in form the way a browser does (its token, its cookie)."""
    form = client.get("/admin/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/admin/login", data={"csrf": token, "name": admin.name, "password": admin.password,
                                             "next": "/admin"})


def csrf_token(page: httpx.Response) -> str:
    return page.text.split('name="csrf" value="')[1].split('"')[0]


def fill_rounds(server: RunningServer) -> None:
    """Devices send updates with impressions and clicks until ROUNDS rounds have closed;
    personalized traffic clicks more than the holdout. The `basket` slot optimizes orders:
    its devices count conversions too, which personalized traffic makes more of."""
    rng = random.Random(7)
    for round_ in range(1, ROUNDS + 1):
        for _ in range(DEVICES_PER_ROUND):
            counters = [{"slot": "picks", "variant": variant, "arm": arm, "impressions": 100,
                         "clicks": rng.randint(6, 10) if arm == "personalized" else rng.randint(2, 6)}
                        for variant in ("tent", "bottle") for arm in ("personalized", "holdout")]
            counters += [{"slot": "basket", "variant": "stove", "arm": arm, "impressions": 100, "clicks": 10,
                          "conversions": rng.randint(3, 6) if arm == "personalized" else rng.randint(0, 3)}
                         for arm in ("personalized", "holdout")]
            body = {"base_version": round_ - 1, "samples": 10, "update_id": secrets.token_hex(8),
                    "delta": {"intercept": 0.01, "idx": [3, 17, 40], "val": [0.3, -0.2, rng.uniform(-0.1, 0.1)]},
                    "counters": counters, "token": token(server.url, SITE)}
            httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json=body).raise_for_status()
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.url}/v1/sites/{SITE}/model").json()["version"] < round_:
            assert time.monotonic() < deadline, f"round {round_} did not close"
            time.sleep(0.05)


@pytest.fixture(scope="session")
def admin_server(request, backend, tmp_path_factory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("admin")
    db_path = new_database(request, backend, directory)
    create_site(db_path, SITE, "--hash-bits", "10")
    Store(db_path).set_round_config(SITE, RoundConfig(min_devices=DEVICES_PER_ROUND, target_devices=DEVICES_PER_ROUND,
                                                      noise_multiplier=1.0, epsilon_budget=60.0,
                                                      device_rounds_per_year=12))
    create_site(db_path, SIMULATED, "--hash-bits", "12")
    # Little noise: the dashboard's reading of weights is under test, and at the default σ ten
    # devices a round show no bucket above the noise, so none would be published (sync_server/posterior.py).
    Store(db_path).set_round_config(SIMULATED, RoundConfig(min_devices=10, target_devices=10, noise_multiplier=0.1,
                                                           epsilon_budget=None, device_rounds_per_year=12))
    Store(db_path).set_editor_rules(SIMULATED, traffic.DEMO_RULES, admin="test")
    sample = directory / "sample.jsonl"
    sample.write_text("".join(json.dumps(row) + "\n" for row in traffic.logged_sample(traffic.Shop.demo(), 1000, seed=2)))
    cli.main(["load-sample", SIMULATED, str(sample), "--db", str(db_path)])
    catalog = directory / "catalog.json"
    catalog.write_text(json.dumps(traffic.Shop.demo().catalog()))
    cli.main(["import-catalog", SIMULATED, str(catalog), "--db", str(db_path)])
    with serving(db_path, "--ip-rate", "0", "--no-demo") as server:
        fill_rounds(server)
        traffic.simulate(server.url, SIMULATED, devices=40, visits=1500, seed=4, fresh_seconds=0.0, progress=False)
        yield server


@pytest.fixture(scope="session")
def admin(admin_server) -> Admin:
    return create_admin(admin_server, "alice")


@pytest.fixture
def client(admin_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=admin_server.url) as client:
        yield client


@pytest.fixture(scope="session")
def signed_in(admin_server, admin) -> Iterator[httpx.Client]:
    """One signed-in session for the tests that use it (sign-in tries are rate-limited)."""
    with httpx.Client(base_url=admin_server.url) as client:
        assert sign_in(client, admin).status_code == 303
        yield client
