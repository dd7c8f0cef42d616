"""The browser tests' servers, processes of their own as a user starts them (Chromium and the
Python of the tests stay apart); the Chromium fixtures are in tests/chromium.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_server.records import RoundConfig
from sync_server.storage import Store
from tests.chromium import watched
from tests.conftest import running_server, serve_test_site, without_holdout

BROWSER_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs two pytest workers (pytest-xdist, `--dist loadgroup`): every browser test
    in one of them, one Chromium at a time as before, and everything else in the other."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


# Rounds of one second that close with every update and add no noise: a round trip a test can wait for.
FAST_ROUNDS = RoundConfig(round_seconds=1.0, check_seconds=1.0, min_devices=1, target_devices=1, noise_multiplier=0.0, epsilon_budget=None)


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request) -> str:
    """Browser tests test the page and the worker, so their server keeps its data in SQLite; the
    tests that carry a visitor's state through the server run on PostgreSQL too
    (`tests.databases.on_both`), and the storage and HTTP suites run on both databases."""
    return request.param


@pytest.fixture(scope="session")
def server(request, backend, tmp_path_factory):
    # Browser tests check what one visitor is shown, so no visitor of theirs is held out.
    yield from serve_test_site(request, backend, tmp_path_factory, running_server, demo_holdout=False)


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("fast") / "p13n.db"
    store = Store(db_path)
    store.create_site("demo")
    store.set_round_config("demo", FAST_ROUNDS)
    store.db.close()
    without_holdout(db_path)
    with running_server(db_path, "--ip-rate", "0") as running:
        yield running


@pytest.fixture
def other_device(browser):
    """A second device: a browser context with storage of its own."""
    context = browser.new_context()
    yield watched(context.new_page())
    context.close()
