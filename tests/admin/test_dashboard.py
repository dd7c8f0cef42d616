"""What the dashboard shows about a site whose devices took part in a few rounds."""

from __future__ import annotations

from tests.admin.conftest import DEVICES_PER_ROUND, ROUNDS, SITE


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


def test_the_page_shows_the_figures_escaped(signed_in):
    page = signed_in.get(f"/admin/sites/{SITE}")
    assert page.status_code == 200
    assert "Uplift over the holdout: <strong>+" in page.text and "95% CI" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    missing = signed_in.get("/admin/sites/%3Cscript%3E")
    assert missing.status_code == 404 and "&#x27;&lt;script&gt;&#x27;" in missing.text and "<script>'" not in missing.text
