"""The server's interfaces over real HTTP: OpenAPI, metrics, origins (CORS), size and rate
limits, JSON for every refusal, and the command line."""

from __future__ import annotations

import subprocess
import time

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from sync_server.app import create_app
from sync_server.config import Settings
from sync_server.middleware.origins import ORIGINS_TTL_SECONDS
from sync_server.storage import connect
from tests.conftest import CLI, ROOT, TEST_ORIGIN, TEST_SITE, create_site, serving
from tests.server.federation import token
from tests.server.visitors import Visitor

OTHER_ORIGIN = "https://elsewhere.example"
OPERATIONS = {"get", "put", "post", "delete", "patch"}


def an_update(server, site: str = TEST_SITE) -> dict:
    version = httpx.get(f"{server.url}/v1/sites/{site}/model").json()["version"]
    return {"base_version": version, "samples": 3, "delta": {"intercept": 0.0, "idx": [1], "val": [0.1]},
            "token": token(server.url, TEST_SITE)}


def updates_stored(server) -> int:
    return server.db()["updates"].count_where("site = ?", [TEST_SITE])


# OpenAPI


@pytest.fixture(scope="module")
def document(server) -> dict:
    return httpx.get(f"{server.url}/openapi.json").json()


def test_the_openapi_document_is_valid_openapi(document):
    validate(document)


def test_the_openapi_document_describes_every_v1_route_and_method(document, tmp_path):
    app = create_app(Settings(db_path=tmp_path / "p13n.db", demo_dir=None, secret_key_path=tmp_path / "key"))
    served = set()
    for route in app.routes:
        if route.path.startswith("/v1/"):
            methods = route.methods or {m.upper() for m in OPERATIONS if hasattr(route.endpoint, m)}
            served |= {(route.path, method.lower()) for method in methods - {"HEAD"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item.keys() & OPERATIONS}
    assert served == documented


def assert_as_documented(document: dict, path: str, method: str, response: httpx.Response) -> None:
    """The answer has a status the document lists for the operation, and its body fits the schema."""
    answers = document["paths"][path][method]["responses"]
    assert str(response.status_code) in answers, f"{method} {path} answered an undocumented {response.status_code}"
    answer = answers[str(response.status_code)]
    if "$ref" in answer:
        answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": document["components"]},
                        cls=jsonschema.Draft202012Validator)


def test_real_answers_match_the_openapi_document(document, server):
    visitor = Visitor(server)
    profile_path = "/v1/profiles/{visitor}"
    calls = [
        ("/v1/sites/{site}/model", "get", httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model")),
        ("/v1/sites/{site}/updates", "post", httpx.post(f"{server.url}/v1/sites/{TEST_SITE}/updates",
                                                         json=an_update(server))),
        ("/v1/sites/{site}/updates", "post", httpx.post(f"{server.url}/v1/sites/{TEST_SITE}/updates", json={})),
        ("/v1/sites/{site}/model", "get", httpx.get(f"{server.url}/v1/sites/nope/model")),
        ("/v1/consent", "post", visitor.consent(secret="")),
        ("/v1/consent", "post", visitor.consent(sync=True)),
        (profile_path, "put", visitor.put_profile({"interests": ["golf"]})),
        (profile_path, "put", visitor.put_profile([])),
        (profile_path, "get", visitor.export()),
        (profile_path, "delete", visitor.erase()),
        (profile_path, "get", visitor.export()),
        ("/v1/consent", "post", visitor.consent(headers={"origin": OTHER_ORIGIN})),
    ]
    assert [response.status_code for *_, response in calls] == [200, 202, 422, 404, 401, 201, 200, 422, 200, 200,
                                                                401, 403]
    for path, method, response in calls:
        assert_as_documented(document, path, method, response)


# Metrics


def metric(server, name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 if there is none yet)."""
    for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and sample.labels.items() >= labels.items():
                return sample.value
    return 0.0


def test_metrics_count_accepted_and_refused_updates_by_reason(server):
    route = "/v1/sites/{site}/updates"
    accepted = metric(server, "p13n_updates_accepted_total", site=TEST_SITE)
    invalid = metric(server, "p13n_refused_requests_total", route=route, reason="invalid_update")
    unknown = metric(server, "p13n_refused_requests_total", route=route, reason="unknown_site")
    assert httpx.post(f"{server.url}/v1/sites/{TEST_SITE}/updates", json=an_update(server)).status_code == 202
    httpx.post(f"{server.url}/v1/sites/{TEST_SITE}/updates", json={"samples": 1})
    httpx.post(f"{server.url}/v1/sites/{TEST_SITE}/updates", json={"samples": 1})
    httpx.post(f"{server.url}/v1/sites/no-such-site/updates", json=an_update(server))
    assert metric(server, "p13n_updates_accepted_total", site=TEST_SITE) == accepted + 1
    assert metric(server, "p13n_refused_requests_total", route=route, reason="invalid_update") == invalid + 2
    assert metric(server, "p13n_refused_requests_total", route=route, reason="unknown_site") == unknown + 1


def test_metrics_time_requests_by_route_template_never_by_raw_path(server):
    visitor = Visitor(server)
    labels = {"route": "/v1/profiles/{visitor}", "method": "GET", "status": "401"}
    before = metric(server, "p13n_request_duration_seconds_count", **labels)
    visitor.export()
    assert metric(server, "p13n_request_duration_seconds_count", **labels) == before + 1
    response = httpx.get(f"{server.url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert visitor.id not in response.text


# Origins (CORS)


def preflight(server, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(f"{server.url}{path}", headers={
        "origin": origin, "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type"})


def test_a_preflight_from_an_allowed_origin_is_answered_with_the_cors_headers(server):
    response = preflight(server, f"/v1/profiles/abcdefghijklmnopqr?site={TEST_SITE}", TEST_ORIGIN, "PUT")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == TEST_ORIGIN
    assert "PUT" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("path", [f"/v1/consent?site={TEST_SITE}", f"/v1/sites/{TEST_SITE}/updates"])
def test_a_preflight_from_another_origin_is_refused(server, path):
    response = preflight(server, path, OTHER_ORIGIN)
    assert response.status_code == 403
    assert response.json() == {"error": "origin_not_allowed",
                               "detail": f"site {TEST_SITE!r} does not allow requests from {OTHER_ORIGIN!r}"}
    assert "access-control-allow-origin" not in response.headers


def test_a_request_from_an_allowed_origin_gets_an_answer_the_page_may_read(server):
    visitor = Visitor(server)
    response = visitor.consent(headers={"origin": TEST_ORIGIN})
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == TEST_ORIGIN
    refused = visitor.consent(secret="x" * 40, headers={"origin": TEST_ORIGIN})
    assert refused.status_code == 401  # errors too, so the page can show why
    assert refused.headers["access-control-allow-origin"] == TEST_ORIGIN


def test_a_request_from_another_origin_is_refused_and_changes_nothing(server):
    visitor = Visitor(server)
    assert visitor.consent(headers={"origin": OTHER_ORIGIN}).status_code == 403
    assert visitor.rows("visitors") == [] and visitor.rows("consents") == []
    before = updates_stored(server)
    response = httpx.post(f"{server.url}/v1/sites/{TEST_SITE}/updates", json=an_update(server),
                          headers={"origin": OTHER_ORIGIN})
    assert (response.status_code, response.json()["error"]) == (403, "origin_not_allowed")
    assert updates_stored(server) == before


def test_the_servers_own_origin_is_always_allowed(server):
    response = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model", headers={"origin": server.url})
    assert response.status_code == 200


def test_a_cross_origin_request_must_name_a_site(server):
    response = httpx.get(f"{server.url}/v1/whatever", headers={"origin": TEST_ORIGIN})
    assert (response.status_code, response.json()["error"]) == (403, "origin_not_allowed")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True)


def test_set_origins_changes_who_may_call_a_running_server(server):
    create_site(server.db_path, "cors-site", "--origin", "https://a.example")
    model = f"{server.url}/v1/sites/cors-site/model"
    assert httpx.get(model, headers={"origin": "https://a.example"}).status_code == 200
    assert httpx.get(model, headers={"origin": "https://b.example"}).status_code == 403
    done = cli("set-origins", "cors-site", "https://B.example:443", "--db", str(server.db_path))
    assert done.returncode == 0 and "https://b.example" in done.stdout
    time.sleep(ORIGINS_TTL_SECONDS)  # the server reads a site's origins again after this long
    assert httpx.get(model, headers={"origin": "https://a.example"}).status_code == 403
    assert httpx.get(model, headers={"origin": "https://b.example"}).status_code == 200


# Size limits


def test_a_body_over_the_limit_is_refused_before_it_is_read_on_every_endpoint(server):
    visitor = Visitor(server)
    visitor.consent(sync=True)
    huge = b"{" + b" " * 1_000_000 + b"}"
    for method, path in [("POST", "/v1/consent"), ("PUT", f"/v1/profiles/{visitor.id}")]:
        response = visitor.call(method, path, content=huge, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json() == {"error": "too_large", "detail": "the body is 1000002 bytes; the limit is 1000000"}
    assert len(visitor.rows("consents")) == 1 and visitor.rows("profiles") == []


def test_a_chunked_body_is_refused_once_it_grows_over_the_limit(server):
    visitor = Visitor(server)
    chunks = (b" " * 100_000 for _ in range(11))  # no Content-Length: sent chunked
    response = visitor.call("POST", "/v1/consent", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"] == "the body is over the limit of 1000000 bytes"
    assert visitor.rows("visitors") == []


# Every refusal is JSON


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/v1/nothing-here", 404, "not_found"),
    ("DELETE", f"/v1/sites/{TEST_SITE}/model", 405, "method_not_allowed"),
    ("PATCH", "/v1/profiles/abcdefghijklmnopqr", 405, "method_not_allowed"),
])
def test_unknown_paths_and_methods_are_json_errors(server, method, path, status, code):
    response = httpx.request(method, f"{server.url}{path}")
    assert response.status_code == status
    assert response.json()["error"] == code


# Rate limits, on a server of their own with tight limits


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("limited") / "p13n.db"
    create_site(db_path, TEST_SITE)
    options = ["--no-demo", "--ip-rate", "0.01", "--ip-burst", "5", "--visitor-rate", "0.01", "--visitor-burst", "3"]
    with serving(db_path, *options) as running:
        yield running


def from_address(address: str) -> dict:
    # uvicorn takes the client address from X-Forwarded-For when the peer is a trusted proxy (loopback).
    return {"x-forwarded-for": address}


def assert_rate_limited(response: httpx.Response, whose: str) -> None:
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert whose in response.json()["detail"]
    assert int(response.headers["retry-after"]) >= 1


def test_each_client_address_has_its_own_request_budget(limited):
    model, headers = f"{limited.url}/v1/sites/{TEST_SITE}/model", from_address("203.0.113.7")
    assert [httpx.get(model, headers=headers).status_code for _ in range(5)] == [200] * 5
    assert_rate_limited(httpx.get(model, headers=headers), "from this address")
    response = httpx.post(f"{limited.url}/v1/sites/{TEST_SITE}/updates", json=an_update(limited), headers=headers)
    assert_rate_limited(response, "from this address")
    assert updates_stored(limited) == 0
    assert httpx.get(model, headers=from_address("203.0.113.8")).status_code == 200


def test_each_visitor_has_their_own_request_budget(limited):
    visitor, other = Visitor(limited), Visitor(limited)
    headers = from_address("198.51.100.1")
    assert [visitor.consent(headers=headers).status_code for _ in range(3)] == [201] * 3
    assert_rate_limited(visitor.consent(sync=True, headers=from_address("198.51.100.2")), "for this visitor")
    assert len(visitor.rows("consents")) == 3
    assert other.consent(headers=from_address("198.51.100.3")).status_code == 201


# The command line


def test_the_cli_manages_sites_and_their_origins(tmp_path):
    db = str(tmp_path / "p13n.db")
    done = cli("create-site", "shop", "--origin", "https://shop.example", "--origin", "http://localhost:3000",
               "--db", db)
    assert done.returncode == 0, done.stderr
    cli("create-site", "blog", "--db", db)
    listing = cli("list-sites", "--db", db).stdout.splitlines()
    assert listing == ["blog\thash_bits=14\torigins: its own origin only (the demo pages)",
                       "shop\thash_bits=14\torigins: http://localhost:3000, https://shop.example"]


@pytest.mark.parametrize("args, problem", [
    (["create-site", "my shop"], "a site key is 1 to 64 letters, digits, '-' or '_'"),
    (["create-site", "shop", "--origin", "https://shop.example/path"], "an origin is scheme://host[:port]"),
    (["create-site", "shop", "--origin", "shop.example"], "an origin is scheme://host[:port]"),
    (["set-origins", "no-such-site", "https://shop.example"], "no site 'no-such-site'"),
])
def test_the_cli_refuses_bad_input_naming_the_problem(tmp_path, args, problem):
    db = tmp_path / "p13n.db"
    done = cli(*args, "--db", str(db))
    assert done.returncode != 0
    assert problem in done.stderr
    stored = connect(db)
    assert "sites" not in stored.table_names() or stored["sites"].count == 0
