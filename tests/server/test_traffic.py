"""The traffic simulator: CPython `edge` devices that speak the real protocol to a real server."""

from __future__ import annotations

import subprocess

import pytest

from sync_server.demo import traffic
from tests.conftest import CLI, ROOT
from tests.server.federation import SITE, site_server

DEVICES = 30


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A server whose site closes a round per 10 devices, after 600 simulated visits; its devices
    may join 12 rounds a year (the default, one, would let 30 devices fill three rounds at most)."""
    with site_server(tmp_path_factory.mktemp("traffic") / "p13n.db", min_devices=10, target_devices=10,
                     device_rounds_per_year=12, noise_multiplier=8.26) as server:
        report = traffic.simulate(server.url, SITE, DEVICES, 600, seed=3, fresh_seconds=0.0, progress=False)
        yield server, report


def test_devices_train_the_global_model_round_after_round(simulated):
    server, report = simulated
    assert report.visits == 600 and report.clicks > 0
    # A device that slept through rounds is refused (stale, or its token's round closed); 14
    # rounds in a simulated month outrun a visitor's 12 tokens a year.
    assert set(report.refused) <= {"stale_update", "token_expired", "round_closed", "yearly_limit"}
    assert report.version >= 3  # the server's writer may close one more round just after
    rounds = list(server.db()["rounds"].rows_where("site = ?", [SITE]))
    assert len(rounds) in (report.version, report.version + 1) and all(r["devices"] == 10 for r in rounds)
    # round_sizes counts every round's updates; the updates of old rounds are pruned.
    assert server.db().execute("SELECT sum(updates) FROM round_sizes WHERE site = ?", [SITE]).fetchone()[0] == report.updates


def test_each_device_sends_at_most_one_update_per_round(simulated):
    server, _ = simulated
    rows = server.db().execute("SELECT round, updates FROM round_sizes WHERE site = ?", [SITE]).fetchall()
    assert all(count <= DEVICES for _, count in rows)


def test_counters_add_up_to_what_the_devices_showed(simulated):
    server, report = simulated
    counted = server.db().execute("SELECT sum(impressions), sum(clicks) FROM round_counters WHERE site = ?",
                                  [SITE]).fetchone()
    # Devices without `improve` consent, and counts since a device's last update, stay on the devices.
    shown_per_visit = sum(slot.size for slot in traffic.Shop.demo().slots)
    assert 0 < counted[0] < report.visits * shown_per_visit and 0 < counted[1] <= report.clicks


def test_every_device_recorded_its_visitors_consent(simulated):
    server, _ = simulated
    consents = list(server.db()["consents"].rows_where("site = ?", [SITE]))
    assert len(consents) == DEVICES and {c["personalize"] for c in consents} == {1}
    assert 0 < sum(c["improve"] for c in consents) < DEVICES


def test_the_cli_refuses_a_crowd_of_nobody():
    result = subprocess.run([*CLI, "simulate", "--devices", "0", "--url", "http://127.0.0.1:9"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "need at least one device" in result.stderr
