"""Sign-in, sessions and CSRF on a real server: nobody anonymous gets in, nothing forged gets through."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from sync_server.admin.routes import routes
from sync_server.app import create_app
from sync_server.config import Settings
from tests.admin.conftest import SITE, Admin, csrf_token, sign_in
from tests.conftest import CLI, ROOT, create_site, free_port, wait_until_healthy

PUBLIC = {"/admin/login"}  # the sign-in form and where it posts
# Every admin route and method, read from the route table, so a new one is covered as it is added.
ADMIN_ROUTES = [(method, route.path.replace("{site}", site)) for route in routes(ROOT / "dist") if isinstance(route, Route)
                and route.path not in PUBLIC for method in sorted(route.methods - {"HEAD"})
                for site in ([SITE, "nowhere"] if "{site}" in route.path else [SITE])]


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory) -> Iterator[TestClient]:
    """An anonymous browser against the real app, in this process, over a real SQLite file with SITE."""
    db_path = tmp_path_factory.mktemp("anonymous") / "p13n.db"
    create_site(db_path, SITE)
    with TestClient(create_app(Settings(db_path=db_path, demo_dir=None)), follow_redirects=False) as client:
        yield client


def test_the_route_table_lists_every_admin_form_and_api_call():
    assert {path for _, path in ADMIN_ROUTES} >= {"/admin", "/admin/logout", f"/admin/sites/{SITE}/rotate-key",
                                                   f"/v1/admin/sites/{SITE}/logged-sample"}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_no_admin_route_lets_an_anonymous_request_in(anonymous, method, path):
    answer = anonymous.request(method, path, data={"rules": "{}", "site": "x"} if method == "POST" else None)
    if path.startswith("/v1/"):
        assert (answer.status_code, answer.json()["error"]) == (401, "not_signed_in")
    else:
        assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login?next=")


def test_an_admin_signs_in_with_a_session_cookie_and_signs_out(client, admin):
    answer = sign_in(client, admin)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("p13n_admin="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain http here
    overview = client.get("/admin")
    assert overview.status_code == 200 and SITE in overview.text
    assert client.get(f"/v1/admin/sites/{SITE}/dashboard").json()["rounds"]

    assert client.post("/admin/logout", data={"csrf": csrf_token(overview)}).status_code == 303
    assert client.get("/admin").status_code == 303


def test_a_stolen_cookie_dies_with_its_session(client, admin):
    sign_in(client, admin)
    stolen = client.cookies["p13n_admin"]
    client.post("/admin/logout", data={"csrf": csrf_token(client.get("/admin"))})
    with httpx.Client(base_url=str(client.base_url), cookies={"p13n_admin": stolen}) as thief:
        assert thief.get("/admin").status_code == 303


@pytest.mark.parametrize("password", ["wrong password!", ""])
def test_a_wrong_password_is_refused(client, admin, password):
    answer = sign_in(client, Admin(admin.name, password))
    assert answer.status_code == 401 and "Wrong name or password" in answer.text
    assert "p13n_admin" not in client.cookies
    assert client.get("/admin").status_code == 303


def test_an_unknown_name_is_refused_the_same_way(client):
    answer = sign_in(client, Admin("nobody", "whatever password"))
    assert answer.status_code == 401 and "Wrong name or password" in answer.text


def test_the_sign_in_form_needs_its_own_token(client, admin):
    client.get("/admin/login")  # the token cookie, without the form's copy
    answer = client.post("/admin/login", data={"name": admin.name, "password": admin.password})
    assert answer.status_code == 403 and "p13n_admin" not in client.cookies


def test_guessing_is_slowed_down(client):
    answers = []
    while 429 not in answers and len(answers) < 60:  # the bucket refills slowly while we guess
        answers.append(sign_in(client, Admin("mallory", f"guess number {len(answers)}")).status_code)
    assert answers[-1] == 429 and set(answers[:-1]) == {401} and len(answers) > 20  # 20 at once, then slowly


def test_a_form_without_the_csrf_token_changes_nothing(signed_in, admin_server):
    page = signed_in.get(f"/admin/sites/{SITE}")
    rules = json.dumps({"kill_switch": True})
    for form, headers in [({"rules": rules}, {}),
                          ({"rules": rules, "csrf": "forged"}, {}),
                          ({"rules": rules, "csrf": csrf_token(page)}, {"origin": "https://evil.example"}),
                          ({"rules": rules, "csrf": csrf_token(page)}, {"sec-fetch-site": "cross-site"})]:
        answer = signed_in.post(f"/admin/sites/{SITE}/rules", data=form, headers=headers)
        assert answer.status_code == 403
    assert signed_in.get(f"/v1/admin/sites/{SITE}/dashboard").json()["rules"]["document"].get("kill_switch") is not True

    answer = signed_in.post(f"/admin/sites/{SITE}/rules", data={"rules": rules, "csrf": csrf_token(page)})
    assert answer.status_code == 303
    assert signed_in.get(f"/v1/admin/sites/{SITE}/dashboard").json()["rules"]["document"]["kill_switch"] is True
    signed_in.post(f"/admin/sites/{SITE}/rules", data={"rules": "{}", "csrf": csrf_token(page)})


def test_the_api_needs_the_csrf_header_to_write(signed_in):
    token = csrf_token(signed_in.get("/admin"))
    rules = {"slots": {"picks": {"exclude": ["tent"]}}}
    url = f"/v1/admin/sites/{SITE}/rules"
    assert signed_in.put(url, json=rules).json()["error"] == "csrf_failed"
    assert signed_in.put(url, json=rules, headers={"x-csrf-token": "forged"}).status_code == 403
    written = signed_in.put(url, json=rules, headers={"x-csrf-token": token})
    assert written.status_code == 200 and written.json()["document"]["slots"]["picks"]["exclude"] == ["tent"]
    signed_in.put(url, json={}, headers={"x-csrf-token": token})


def test_the_demo_prints_a_demo_admin_who_can_sign_in(tmp_path):
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port), "--db", str(tmp_path / "p13n.db"),
                                "--log-level", "warning"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        printed = ""
        while "password" not in printed:
            line = process.stdout.readline()
            assert line, f"the server printed no demo admin: {printed!r}"
            printed += line
        name, password = re.search(r"sign in as '(.+)' with password '(.+)'", printed).groups()
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        with httpx.Client(base_url=url) as client:
            assert sign_in(client, Admin(name, password)).status_code == 303
            assert "demo" in client.get("/admin").text
    finally:
        process.terminate()
        process.wait(timeout=10)
