"""A small, bounded schemathesis pass in the suite: generated requests for every operation of
`/openapi.json` (the admin API signed in, with its CSRF token) never make a real server answer
5xx. Derandomized, so a run is the same every time; `python -m bench fuzz` runs the long one."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
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


def test_no_generated_request_makes_a_server_error(server, admin_headers):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # the device API and the admin API
    for operation in operations:
        _fuzz(operation, admin_headers)


def _fuzz(operation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=15, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def no_server_error(case) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

    no_server_error()
