"""The controls: every change is checked, versioned and audited; bad input changes nothing."""

from __future__ import annotations

import json

import httpx
import pytest

from edge import Config, Personalizer
from tests.admin.conftest import SITE, csrf_token

SITE_PAGE = f"/admin/sites/{SITE}"
PICKS = [{"id": v, "features": [f"topic:{v}"]} for v in ("tent", "helmet", "bottle")]
SETTINGS = {"clip_norm": "1.0", "noise_multiplier": "1.0", "min_devices": "3", "target_devices": "3",
            "epsilon_budget": "60"}


def dashboard(client: httpx.Client) -> dict:
    return client.get(f"/v1/admin/sites/{SITE}/dashboard").json()


def post(client: httpx.Client, control: str, **fields: str) -> httpx.Response:
    return client.post(f"{SITE_PAGE}/{control}", data={**fields, "csrf": csrf_token(client.get(SITE_PAGE))})


@pytest.mark.parametrize(("rules", "error"), [
    ("{not json", "the rules are not JSON"),
    (json.dumps({"slots": {"picks": {"holdout": 1.5}}}), "slots.picks.holdout: must be a share from 0 to 1, got 1.5"),
    ('{"slots": {"picks": %s}}' % ("[" * 1000 + "]" * 1000), "the rules nest more than 8 levels deep"),
    ('{"slots": %s}' % ("[" * 5000 + "]" * 5000), "the rules nest more than 8 levels deep"),
    (json.dumps({"slots": {f"slot{i}": {"exclude": ["x" * 60]} for i in range(1000)}}), "the limit is 64000"),
])
def test_bad_rules_show_an_error_and_change_nothing(signed_in, rules, error):
    before = dashboard(signed_in)["rules"]
    answer = post(signed_in, "rules", rules=rules)
    assert answer.status_code == 422 and error in answer.text
    assert dashboard(signed_in)["rules"] == before


def test_rules_are_versioned_and_audited(signed_in, admin):
    version = dashboard(signed_in)["rules"]["version"]
    rules = {"slots": {"picks": {"pin": {"tent": 1}, "holdout": 0.2}}}
    answer = post(signed_in, "rules", rules=json.dumps(rules))
    assert answer.status_code == 303
    saved = dashboard(signed_in)["rules"]
    assert saved["version"] == version + 1 and saved["document"]["slots"] == rules["slots"]
    page = signed_in.get(answer.headers["location"]).text
    assert "Rules saved." in page and f"rules (rules v{version + 1})" in page and admin.name in page


def test_the_kill_switch_turns_off_personalization_and_back(signed_in):
    assert post(signed_in, "kill-switch", on="1").status_code == 303
    assert dashboard(signed_in)["rules"]["document"]["kill_switch"] is True
    page = signed_in.get(SITE_PAGE).text
    assert "Resume personalization" in page and "kill switch on (rules v" in page
    assert post(signed_in, "kill-switch", on="1; drop table").status_code == 422
    assert post(signed_in, "kill-switch", on="0").status_code == 303
    assert dashboard(signed_in)["rules"]["document"]["kill_switch"] is False


@pytest.mark.parametrize(("field", "value", "error"), [
    ("clip_norm", "-1", "clip_norm cannot be -1.0"),
    ("min_devices", "two", "min_devices must be a whole number, got &#x27;two&#x27;"),
    ("target_devices", "2", "target_devices cannot be 2"),
    ("noise_multiplier", "1e300", "noise_multiplier must be at most 1000.0, got 1e+300"),
    ("clip_norm", "1e300", "clip_norm must be at most 1000.0"),
    ("epsilon_budget", "1e300", "epsilon_budget must be at most 10000.0"),
    ("target_devices", "1000000000", "target_devices must be at most 1000000"),
])
def test_bad_federated_settings_show_an_error_and_change_nothing(signed_in, field, value, error):
    before = dashboard(signed_in)["federation"]
    answer = post(signed_in, "federation", **{**SETTINGS, field: value})
    assert answer.status_code == 422 and error in answer.text
    assert dashboard(signed_in)["federation"] == before


def test_rules_too_deep_for_the_api_are_refused_by_name(signed_in):
    before = dashboard(signed_in)["rules"]
    for depth in (1000, 5000):
        answer = signed_in.put(f"/v1/admin/sites/{SITE}/rules", content='{"slots": %s}' % ("[" * depth + "]" * depth),
                               headers={"x-csrf-token": csrf_token(signed_in.get(SITE_PAGE))})
        assert answer.status_code == 422 and answer.json()["detail"] == "the rules nest more than 8 levels deep"
    assert dashboard(signed_in)["rules"] == before


def test_federated_settings_reach_the_devices(signed_in, admin_server):
    answer = post(signed_in, "federation", **{**SETTINGS, "clip_norm": "0.5", "epsilon_budget": ""})
    assert answer.status_code == 303
    assert dashboard(signed_in)["federation"]["epsilon_budget"] is None
    model = httpx.get(f"{admin_server.url}/v1/sites/{SITE}/model").json()
    assert model["federation"]["clip_norm"] == 0.5
    assert "federated settings" in signed_in.get(SITE_PAGE).text
    post(signed_in, "federation", **SETTINGS)


def device_decision(server) -> dict:
    """A device fetches the global model, as a returning visitor's worker does, and decides: a
    visitor of a fixed seed, outside the site-wide holdout (a random one is in it one time in 20)."""
    device = Personalizer(Config(policy="greedy", hash_bits=10, seed=1))
    device.merge_global(httpx.get(f"{server.url}/v1/sites/{SITE}/model").json())
    return device.decide("picks", PICKS, {}, at=1_800_000_000.0)


def test_a_rule_change_and_the_kill_switch_reach_a_devices_next_decision(signed_in, admin_server):
    assert post(signed_in, "rules", rules=json.dumps({"slots": {"picks": {"pin": {"bottle": 1}}}})).status_code == 303
    assert device_decision(admin_server).ranking[0] == "bottle"
    assert post(signed_in, "kill-switch", on="1").status_code == 303
    killed = device_decision(admin_server)
    assert killed.arm == "off" and killed.ranking == [c["id"] for c in PICKS]
    assert post(signed_in, "kill-switch", on="0").status_code == 303
    assert post(signed_in, "rules", rules="{}").status_code == 303
    assert device_decision(admin_server).arm == "personalized"
