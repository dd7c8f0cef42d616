"""Each benchmark runs end to end in quick mode and writes a well-formed results file.

These tests check structure only, never timing: figures belong in bench/results/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import BENCHMARKS
from tests.conftest import ROOT


def run_quick(name: str, results: Path) -> dict:
    path = results / f"{name}.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick", "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert str(path) in done.stdout
    result = json.loads(path.read_text())
    assert set(result) == {"name", "when", "machine", "figures", "params"}
    assert result["name"] == name
    assert result["params"]["quick"] is True
    assert result["machine"]["python"].startswith("CPython")
    return result


def test_edge_latency_reports_p50_and_p99_for_the_engine_and_river(tmp_path):
    figures = run_quick("edge_latency", tmp_path)["figures"]
    latency = figures["latency_us"]
    for row in ("engine lin-ucb decide", "engine lin-ucb learn", "engine lin-ucb, River learner decide",
                "edge model rank", "edge model learn", "river model rank", "river model learn"):
        assert 0 < latency[row]["p50"] <= latency[row]["p99"]
    assert {"engine decide p99", "model rank p99"} <= set(figures["river_over_edge"])
    assert figures["decide_p99_under_goal"].keys() == {row.removesuffix(" decide") for row in latency if row.endswith(" decide")}
    assert figures["cpu_us"].keys() == latency.keys()
    assert all(0 < figures["cpu_us"][row]["p50"] <= figures["cpu_us"][row]["p99"] for row in latency)
    assert figures["ten_candidates_decide_and_learn_p50_under_goal"].keys() == {"wall", "cpu"}


def test_edge_quality_compares_every_contestant_on_the_same_visits_of_every_site(tmp_path):
    result = run_quick("edge_quality", tmp_path)
    figures, params = result["figures"], result["params"]
    assert set(params["sites"]) == set(figures["default_meets_goal"]) and len(params["sites"]) >= 3
    default = f"edge {params['edge_config']['policy']}"
    for site in params["sites"]:
        policies = figures[site]["policies"]
        assert {"random", "popularity (Thompson)", default} <= set(policies)  # the default is in the race
        for family in ("river LinUCBDisjoint α=", "vw cb_explore_adf ", "edge "):  # baselines run with their best settings
            assert sum(name.startswith(family) for name in policies) >= 2
        assert set(figures[site]["best_of_each"].values()) <= set(policies)
        standing = figures[site]["default"]
        assert standing["policy"] == default and standing["meets_goal"] in (True, False)
        assert len(standing["share_of_best_edge_by_seed"]) == len(params["seeds"])  # noise, seed by seed
        for row in policies.values():
            assert 0 <= row["expected_ctr"] <= figures[site]["optimal_ctr"]
            assert row["regret"] >= 0 and len(row["expected_ctr_by_seed"]) == len(params["seeds"])
        curve = figures[site]["curves"]["random"]
        assert curve["visits"][-1] == params["visits"]
        assert len(curve["ctr"]) == len(curve["regret"]) == len(curve["visits"])
    assert (tmp_path / "edge_quality.png").read_bytes().startswith(b"\x89PNG")


def test_variety_shows_what_each_setting_costs_in_clicks_and_gains_in_diversity(tmp_path):
    settings = run_quick("variety", tmp_path)["figures"]["settings"]
    assert "none" in settings and settings["none"]["ctr_vs_none"] == 1
    for row in settings.values():
        assert 0 <= row["intra_list_diversity"] <= 1 and 0 < row["catalog_coverage"] <= 1
        assert 0 < row["visitor_coverage"] <= 1


def test_edge_outcomes_compares_slot_objectives_on_the_same_visits(tmp_path):
    figures = run_quick("edge_outcomes", tmp_path)["figures"]
    contestants = figures["contestants (mean over seeds)"]
    assert set(contestants) == {"random", "edge click", "edge convert:order", "edge value:order"}
    assert all(0 < row["orders_per_1000"] < 1000 * row["ctr"] for row in contestants.values())
    for objective in ("convert:order", "value:order"):
        assert all(len(ratios) == 1 and ratios[0] > 0 for ratios in figures[f"{objective} over click"].values())


def test_obd_replay_estimates_come_with_intervals(tmp_path):
    figures = run_quick("obd_replay", tmp_path)["figures"]
    (campaign, logged), = figures["logged"].items()
    assert logged["ci"][0] <= logged["ctr"] <= logged["ci"][1]
    for name, estimate in figures["estimates"].items():
        assert name.startswith(f"{campaign}: ")
        assert 0 < estimate["matched"] < logged["rows"]
        for kind in ("replay", "ips"):
            low, high = estimate[f"{kind}_ci"]
            assert low <= estimate[f"{kind}_ctr"] <= high


def test_an_unknown_benchmark_is_refused_with_the_known_names():
    done = subprocess.run([sys.executable, "-m", "bench", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "invalid choice: 'nope'" in done.stderr
    assert all(name in done.stderr for name in BENCHMARKS)


def test_browser_boot_times_cold_and_warm_visits_and_the_engine_in_pyodide(tmp_path):
    figures = run_quick("browser_boot", tmp_path)["figures"]
    boot = figures["boot_ms"]
    assert set(boot) == {"cold", "warm", "warm, other items", "cold, no snapshot"}
    for row in boot.values():
        assert 0 < row["python"] <= row["engine"] and 0 < row["first_decision"] <= row["engine_decision"]
        assert {source for source, _ in row["visits"]} <= {"cached", "early", "personalized"}
    assert {source for source, _ in boot["warm"]["visits"]} == {"cached"}  # the order drawn for it last time
    for visit in ("cold", "warm"):  # where the time goes, step by step
        steps = [boot[visit][step] for step in ("worker", "snapshot", "pyodide", "python", "engine", "ready")]
        assert steps == sorted(steps) and boot[visit]["snippet"] > 0
    assert boot["cold, no snapshot"]["snapshot"] is None
    assert figures["first_visit_bytes"] == boot["cold"]["bytes"]
    assert boot["cold"]["bytes"] > 100 * boot["warm"]["bytes"]  # a warm visit revalidates, it does not download
    assert 0 < figures["snapshot"]["brotli_bytes"] < figures["snapshot"]["bytes"]
    assert 0 <= figures["first_visits_within_window"] <= 1 and figures["machine_load"]["cores"] >= 1
    assert set(figures["reordered"]) == set(boot) and all(0 <= share <= 1 for share in figures["reordered"].values())
    for row in ("pyodide decide", "pyodide learn", "cpython decide", "cpython learn", "page round trip decide"):
        assert 0 < figures["latency_us"][row]["p50"] <= figures["latency_us"][row]["p99"]
    assert 0 < figures["snippet"]["gzip_bytes"] < figures["snippet"]["bytes"]


def test_login_flood_measures_the_server_at_rest_and_under_both_floods(tmp_path):
    figures = run_quick("login_flood", tmp_path)["figures"]
    assert set(figures) == {"at_rest", "one_address", "many_addresses"}
    for shape in figures.values():
        assert shape["rss_peak_mb"] >= shape["rss_before_mb"] > 0
        assert 0 < shape["healthz_ms"]["p50"] <= shape["healthz_ms"]["p99"] <= shape["healthz_ms"]["max"]
    assert figures["at_rest"]["sign_in_answers"] == {}
    assert "429" in figures["one_address"]["sign_in_answers"]  # refused at once, not hashed
    assert "503" in figures["many_addresses"]["sign_in_answers"]  # the server's queue is full


def test_federated_quality_compares_four_runs_on_four_sites(tmp_path):
    result = run_quick("federated_quality", tmp_path)
    figures, params = result["figures"], result["params"]
    assert set(params["sites"]) == {"shop", "news", "small", "shop, 5x"} and isinstance(figures["meets_goal"], bool)
    for name, site in params["sites"].items():
        runs = figures[name]
        assert set(runs["by_round"]) == {"local", "shared", "federated", "private"}
        assert all(len(curve) == site["rounds"] for curve in runs["by_round"].values())
        assert runs["private"]["epsilon"] <= params["target_epsilon"] and runs["federated"]["epsilon"] is None
        local, shared, private = (runs[r]["expected_ctr"] for r in ("local", "shared", "private"))
        assert runs["transfer_share"] == (private - local) / (shared - local) == runs["transfer_share_per_seed"][0]


def test_model_bytes_reports_each_form_and_coding_the_hash_space_and_the_database(tmp_path):
    result = run_quick("model_bytes", tmp_path)
    figures = result["figures"]
    assert set(figures["bytes_per_version"]) == set(figures["hash_space"])  # both shapes
    for name, wire in figures["bytes_per_version"].items():
        assert set(wire) == {f"{form}, {coding}" for form in ("json", "compact") for coding in ("identity", "gzip", "br")}
        # At the defaults a round publishes only buckets whose evidence stands above the noise, so a
        # version is small: every answer is within the goal of 100 KB a version.
        assert min(wire.values()) > 0 and max(wire.values()) <= 100_000
        smallest = min(wire["compact, br"], wire["compact, gzip"])
        assert figures["bytes_per_device_per_month"][name]["daily visitor"] == 30 * smallest
        published = figures["buckets_published_after_each_round"][name]
        assert len(published) == result["params"]["rounds"] and published[-1] > 0  # real devices' evidence was measured
        kept, everything = figures["database_bytes_after_each_round"][name].values()
        assert len(kept) == len(everything) == result["params"]["rounds"]
        assert figures["database_bytes_per_round"][name]["default retention"] == kept[-1] - kept[-2]
    for shape in figures["hash_space"].values():
        assert shape["2^24"]["features_sharing_a_bucket"] == 0 and shape["2^24"]["expected_ctr_vs_2^24"] == 1
        assert shape["2^10"]["buckets_used"] <= shape["2^14"]["buckets_used"] <= shape["2^24"]["buckets_used"]
    assert set(figures["build_ms"]) == {f"2^{result['params']['default_hash_bits']}", "2^18"}
    assert set(figures["bytes_every_bucket_published"]) == set(figures["build_ms"])


def test_poisoning_measures_each_attack_on_real_devices_evidence_against_its_bound(tmp_path):
    result = run_quick("poisoning", tmp_path)
    figures, params = result["figures"], result["params"]
    rows = figures["shift"]
    assert len(rows) == 2 * len(params["shares"]) * 2 * 2  # aggregators × shares × targets × attacks
    often, rarely = figures["targets"]["often"], figures["targets"]["rarely"]
    assert often["devices_touching_per_round"][0] > rarely["devices_touching_per_round"][0] > 0
    for name, row in rows.items():
        assert row["bound_per_round"] > 0
        if name.endswith("gradient"):
            assert row["curvature_share_of_norm"] == 0
        if name.startswith("mean") and name.endswith("gradient"):
            # all of C on the gradient: the step moves the weight by η'·(info/P')·kC/H, never past the bound
            assert 0 <= row["largest_round_over_its_bound"] <= 1 + 1e-9
