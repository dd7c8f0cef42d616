"""A small, bounded schemathesis pass in the suite: generated requests for every operation of
`/openapi.json` (the admin API signed in, with its CSRF token) never make a real server answer
5xx. Derandomized, so a run is the same every time; `python -m bench fuzz` runs the long one."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from tests.admin.conftest import create_admin, sign_in


@pytest.fixture(scope="module")
def admin_headers(server) -> dict[str, str]:
    """The cookie and CSRF token of a signed-in admin session on the test server."""
    admin = create_admin(server, "fuzzer")
    with httpx.Client(base_url=server.url) as client:
        assert sign_in(client, admin).status_code == 303
        token = client.get("/admin").text.split('name="csrf-token" content="')[1].split('"')[0]
        return {"cookie": f"p13n_admin={client.cookies['p13n_admin']}", "x-csrf-token": token}


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, admin_headers):
    case.call_and_validate(headers=admin_headers, checks=[not_a_server_error], timeout=30)
