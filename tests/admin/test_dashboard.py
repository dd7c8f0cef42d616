"""What the dashboard shows about a site whose devices took part in a few rounds."""

from __future__ import annotations

import subprocess

import pytest

from sync_server.records import RoundConfig
from tests.admin.conftest import DEVICES_PER_ROUND, ROUNDS, SIMULATED, SITE, csrf_token
from tests.conftest import CLI, ROOT


def csrf_header(client) -> dict:
    return {"x-csrf-token": csrf_token(client.get(f"/admin/sites/{SITE}"))}


def test_the_dashboard_data_follows_the_rounds_and_the_counters(signed_in):
    data = signed_in.get(f"/v1/admin/sites/{SITE}/dashboard").json()
    assert [r["version"] for r in data["rounds"]] == list(range(1, ROUNDS + 1))
    assert {r["devices"] for r in data["rounds"]} == {DEVICES_PER_ROUND}
    spent = [r["epsilon"] for r in data["rounds"]]
    assert spent == sorted(spent) and spent[-1] == data["epsilon"] <= data["epsilon_budget"]

    picks = data["slots"]["picks"]
    assert len(picks["variants"]) == 4  # two variants, two arms
    assert sum(v["impressions"] for v in picks["variants"]) == ROUNDS * DEVICES_PER_ROUND * 4 * 100
    series = picks["series"]
    assert len(series["time"]) == ROUNDS
    # The simulated personalized arm clicks about twice as often: the interval excludes zero.
    assert series["personalized"][-1] > series["holdout"][-1]
    assert 0 < series["low"][-1] < series["uplift"][-1] < series["high"][-1]
    assert picks["objective"] == "clicks"


def test_a_slot_that_optimizes_a_goal_shows_the_uplift_in_conversions(signed_in):
    basket = signed_in.get(f"/v1/admin/sites/{SITE}/dashboard").json()["slots"]["basket"]
    assert basket["objective"] == "conversions"
    rows = {v["arm"]: v for v in basket["variants"]}
    assert rows["personalized"]["conversions"] > rows["holdout"]["conversions"] and "clicks" not in rows["holdout"]
    series = basket["series"]  # conversions per impression, not clicks (10 a device in both arms)
    assert series["personalized"][-1] == rows["personalized"]["conversion_rate"] > series["holdout"][-1]
    assert 0 < series["low"][-1] < series["uplift"][-1] < series["high"][-1]


def test_the_page_shows_the_figures_escaped(signed_in):
    page = signed_in.get(f"/admin/sites/{SITE}")
    assert page.status_code == 200
    # What ε assumes stands next to it, with the site's own cap and δ.
    assert ("ε per visitor over any 365 days at δ = 1e-06, assuming a device joins at most 12 rounds a year"
            in page.text)
    assert "Uplift in CTR over the holdout: <strong>+" in page.text
    assert "95% confidence sequence" in page.text and "valid however often you look" in page.text
    assert "Uplift in conversion rate over the holdout: <strong>+" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    missing = signed_in.get("/admin/sites/%3Cscript%3E")
    assert missing.status_code == 404 and "&#x27;&lt;script&gt;&#x27;" in missing.text and "<script>'" not in missing.text


def test_a_simulated_sites_model_is_replayed_and_read_in_plain_words(signed_in):
    data = signed_in.get(f"/v1/admin/sites/{SIMULATED}/dashboard").json()
    assert data["version"] >= 3 and set(data["slots"]) == {"hero", "picks"}
    replayed = data["replay"]
    assert replayed["impressions"] == 2000  # 1,000 logged visits, two slots each
    for slot in ("hero", "picks"):
        result = replayed["slots"][slot]
        assert result["impressions"] == 1000 and 0 < result["matched"] < 1000
        assert result["ci"][0] <= result["policy_ctr"] <= result["ci"][1]
    named = [f["name"] for side in ("positive", "negative") for f in data["features"][side] if f["name"]]
    assert named, "the logged sample's features name some of the model's buckets"
    # Each weight comes with its standard deviation, the privacy noise counted in (1/√precision).
    assert all(0 < f["sd"] < 1 for side in ("positive", "negative") for f in data["features"][side])
    assert data["noise_std"] == pytest.approx(0.1 * 5.0)  # σ·C of the newest round, on every bucket's sums
    assert set(data["drift"]) == {"hero", "picks"} and all(isinstance(a, list) for a in data["drift"].values())
    page = signed_in.get(f"/admin/sites/{SIMULATED}").text
    assert "standard deviation 0.5 (σ·C)" in page and " ± " in page
    assert "Offline replay" in page and "river.bandit.evaluate_offline" in page and "River ADWIN" in page


BAD_SAMPLES = [
    ([], "a logged sample is a list of 1 to"),
    ([{"slot": "picks"}], "row 1: an impression is an object with exactly"),
    ([{"slot": "picks", "context": {"hour": 25}, "candidates": [{"id": "tent", "features": ["x"]}],
       "shown": "tent", "clicked": False}], "row 1: context 'hour' must be a whole number from 0 to 23"),
    ([{"slot": "picks", "context": {}, "candidates": [{"id": "tent", "features": ["x"]}],
       "shown": "boat", "clicked": False}], "row 1: shown must be one of the candidates' ids"),
    ([{"slot": "picks", "context": {}, "candidates": [{"id": "tent", "features": ["x"]}],
       "shown": "tent", "clicked": False}] * 2 + [{"slot": "picks", "context": {},
       "candidates": [{"id": "tent", "features": ["x"]}], "shown": {}, "clicked": False}],
     "row 3: shown must be one of the candidates' ids, got {}"),
    ([{"slot": "picks", "context": {"hour": [[[[[[[[[[]]]]]]]]]]}, "candidates": [{"id": "tent", "features": ["x"]}],
       "shown": "tent", "clicked": False}], "row 1: an impression nests more than 5 levels deep"),
]


@pytest.mark.parametrize(("sample", "problem"), BAD_SAMPLES, ids=[b[1] for b in BAD_SAMPLES])
def test_a_bad_logged_sample_is_refused_and_changes_nothing(signed_in, sample, problem):
    before = signed_in.get(f"/v1/admin/sites/{SIMULATED}/dashboard").json()["replay"]
    answer = signed_in.put(f"/v1/admin/sites/{SIMULATED}/logged-sample", json=sample, headers=csrf_header(signed_in))
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_sample" and problem in answer.json()["detail"]
    assert signed_in.get(f"/v1/admin/sites/{SIMULATED}/dashboard").json()["replay"] == before


def test_a_logged_sample_needs_a_signed_in_admin_and_the_csrf_token(client, signed_in):
    row = {"slot": "picks", "context": {}, "candidates": [{"id": "tent", "features": ["x"]}], "shown": "tent",
           "clicked": True}
    assert client.put(f"/v1/admin/sites/{SIMULATED}/logged-sample", json=[row]).status_code == 401
    assert signed_in.put(f"/v1/admin/sites/{SIMULATED}/logged-sample", json=[row]).status_code == 403


def test_the_cli_refuses_a_malformed_sample_file(admin_server, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"slot": "picks"}\n{not json\n')
    result = subprocess.run([*CLI, "load-sample", SIMULATED, str(bad), "--db", str(admin_server.db_path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "the sample was not loaded" in result.stderr


def test_pruning_keeps_what_the_dashboard_and_the_replay_read(admin_server, signed_in):
    kept = RoundConfig().versions_kept
    assert kept < ROUNDS  # the fixture's rounds pruned the oldest versions
    db = admin_server.db()
    assert [r["version"] for r in db["models"].rows_where("site = ?", [SITE])] == list(range(ROUNDS - kept + 1, ROUNDS + 1))
    assert {r["round"] for r in db["updates"].rows_where("site = ?", [SITE])} == set(range(ROUNDS - kept + 1, ROUNDS + 1))
    data = signed_in.get(f"/v1/admin/sites/{SITE}/dashboard").json()
    assert [r["version"] for r in data["rounds"]] == list(range(1, ROUNDS + 1))  # every round's summary
    assert len(data["slots"]["picks"]["series"]["time"]) == ROUNDS  # every round's counters
    simulated = db.execute("SELECT min(version), max(version) FROM models WHERE site = ?", [SIMULATED]).fetchone()
    assert simulated[0] > 0 and simulated[1] - simulated[0] == kept - 1
    replayed = signed_in.get(f"/v1/admin/sites/{SIMULATED}/dashboard").json()
    assert replayed["version"] == simulated[1] and replayed["replay"]["impressions"] == 2000
    page = signed_in.get(f"/admin/sites/{SITE}")
    assert page.status_code == 200 and "Uplift in CTR over the holdout" in page.text
