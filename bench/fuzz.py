"""Fuzzing a real server: schemathesis over `/openapi.json` (device API and admin API, signed
in with a session and its CSRF token), then random bodies for every admin form.

Four passes against one `python -m sync_server serve` process:

- `openapi_free`: schemathesis' examples, coverage and fuzzing phases with every parameter
  generated (mostly unknown sites and visitors: the refusals' paths);
- `openapi_anchored`: the same with the site, a registered visitor and that visitor's secret
  filled in, so generated bodies reach the checks behind them;
- `openapi_backend`: the site's backend endpoints (`decide`, `events`) with a server key of the
  site and a visitor who granted `sync`, so generated bodies reach the engine;
- `admin_forms`: random bodies (seeded) for every admin form, which the OpenAPI document does
  not describe (they are HTML forms): raw bytes sent as a form, and random fields, nasty
  values among them, with the session's CSRF token.

The figure that matters is `server_errors` (answers 500 and over), which must be 0; the rest
say how much was tried. The JUnit reports of the schemathesis passes go beside the results
(`bench/results/fuzz_*.junit.xml`). Limits are off for the fuzzing client (the limits have
tests of their own), so every request reaches the code behind them.
"""

from __future__ import annotations

import collections
import json
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench import Progress
from bench.live_server import SITE, LiveServer, live_server, sign_in
from bench.report import RESULTS

FORMS = ["/admin/login", "/admin/sites", f"/admin/sites/{SITE}/origins", f"/admin/sites/{SITE}/kill-switch",
         f"/admin/sites/{SITE}/rules", f"/admin/sites/{SITE}/federation", f"/admin/sites/{SITE}/catalog",
         f"/admin/sites/{SITE}/erase", f"/admin/sites/{SITE}/rotate-key", f"/admin/sites/{SITE}/delete"]
NASTY = ["", "0", "1", "-1", "1e300", "-1e300", "nan", "inf", "1" * 400, "[" * 2000, "{}", "null", "\x00",
         '{"slots": {"a": {"pin": {"b": 1e300}}}}', "http://[::1", "javascript:alert(1)", "%ff%fe"]
FIELDS = ["name", "password", "next", "site", "hash_bits", "origins", "on", "rules", "clip_norm",
          "noise_multiplier", "min_devices", "target_devices", "epsilon_budget", "new_key", "catalog", "url",
          "visitor", "confirm"]


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    examples = 10 if quick else 100
    form_bodies = 50 if quick else 400
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        options = ["--ip-rate", "0", "--visitor-rate", "1e6", "--visitor-burst", "1000000"]
        with live_server(work / "p13n.db", *options) as server, httpx.Client(base_url=server.url) as client:
            csrf = sign_in(client, server)
            session = client.cookies["p13n_admin"]
            visitor, secret = _registered_visitor(server)
            admin_headers = [f"Cookie: p13n_admin={session}", f"X-CSRF-Token: {csrf}"]
            anchors = {"path.site": SITE, "query.site": SITE, "path.visitor": visitor}
            passes = [("openapi_free", admin_headers, {}, []),
                      ("openapi_anchored", [*admin_headers, f"Authorization: Bearer {secret}"], anchors, []),
                      ("openapi_backend", [f"Authorization: Bearer {server.server_key}"], anchors,
                       ["--include-operation-id-regex", "^channel"])]
            for name, headers, parameters, only in progress(passes, desc="schemathesis"):
                figures[name] = _schemathesis(server, headers, parameters, examples, work / name, only)
                if not quick:  # the full run's reports are committed beside its results
                    shutil.copy(next((work / name).glob("*.xml")), RESULTS / f"fuzz_{name}.junit.xml")
            figures["admin_forms"] = _forms(client, server, csrf, form_bodies, progress)
    figures["total"] = {"requests": sum(f["requests"] for f in figures.values()),
                        "server_errors": sum(f["server_errors"] for f in figures.values())}
    return figures, {"max_examples": examples, "bodies_per_form": form_bodies, "checks": "not_a_server_error",
                     "schemathesis": _version(), "phases": "examples,coverage,fuzzing"}


def _registered_visitor(server: LiveServer) -> tuple[str, str]:
    visitor, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    body = {"visitor": visitor, "policy_version": "v1", "purposes": {"personalize": True, "improve": True, "sync": True}}
    answer = httpx.post(f"{server.url}/v1/consent", params={"site": SITE}, json=body,
                        headers={"authorization": f"Bearer {secret}"})
    answer.raise_for_status()
    return visitor, secret


def _schemathesis(server: LiveServer, headers: list[str], parameters: dict, examples: int, work: Path,
                 only: list[str]) -> dict:
    work.mkdir()
    config = work / "schemathesis.toml"
    config.write_text(("[parameters]\n" if parameters else "")
                      + "".join(f'"{key}" = "{value}"\n' for key, value in parameters.items()))
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
               f"{server.url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", str(examples),
               "--phases", "examples,coverage,fuzzing", "--workers", "1", "--report", "junit,ndjson",
               "--report-dir", str(work), "--no-color", "--seed", "13", *only]
    for header in headers:
        command += ["-H", header]
    finished = subprocess.run(command, capture_output=True, text=True)
    statuses = _statuses(next(work.glob("*.ndjson")))
    return {"requests": sum(statuses.values()), "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "schemathesis_exit_code": finished.returncode,
            "by_status": {str(s): n for s, n in sorted(statuses.items())}}


def _statuses(ndjson: Path) -> collections.Counter:
    """Answers by status code, from schemathesis' event stream."""
    statuses: collections.Counter = collections.Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished:
            for interaction in finished["recorder"].get("interactions", {}).values():
                response = interaction.get("response")
                if response:
                    statuses[response["status_code"]] += 1
    return statuses


def _forms(client: httpx.Client, server: LiveServer, csrf: str, bodies: int, progress: Progress) -> dict:
    """Random bodies for every admin form, signed in (the key's rotation last: it may succeed)."""
    rng = random.Random(13)
    statuses: collections.Counter = collections.Counter()
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    for path in progress(FORMS, desc="admin forms"):
        for i in range(bodies):
            if i % 2:
                answer = client.post(path, content=rng.randbytes(rng.randrange(200)), headers=form_type)
            else:
                fields = {rng.choice(FIELDS): _nasty(rng) for _ in range(rng.randrange(7))}
                answer = client.post(path, data={**fields, "csrf": csrf})
            statuses[answer.status_code] += 1
    return {"requests": sum(statuses.values()), "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "by_status": {str(s): n for s, n in sorted(statuses.items())}}


def _nasty(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(NASTY)
    return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0xD800)])) for _ in range(rng.randrange(40)))


def _version() -> str:
    from importlib.metadata import version

    return version("schemathesis")
