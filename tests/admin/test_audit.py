"""Every change is in the audit log with who made it and how; erasures are counted without ids;
destructive actions want the site key (or `erase`) typed again."""

from __future__ import annotations

import getpass
import subprocess

import httpx

from tests.admin.conftest import csrf_token
from tests.conftest import CLI, ROOT, create_site
from tests.server.visitors import Visitor


def cli(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "--db", str(server.db_path)], check=False, cwd=ROOT, capture_output=True, text=True)


def audit_rows(client: httpx.Client, site: str) -> list[list[str]]:
    page = client.get(f"/admin/sites/{site}").text
    log = page.split("<h2>Audit log</h2>")[1].split("</table>")[0]
    return [[cell.split("</td>")[0] for cell in row.split("<td>")[1:]] for row in log.split("<tr>")[2:]]


def test_the_audit_log_lists_a_cli_change_and_an_erasure_without_the_id(signed_in, admin_server):
    create_site(admin_server.db_path, "ledger")
    visitor = Visitor(admin_server, site="ledger")
    assert visitor.consent(sync=True).status_code == 201 and visitor.put_profile({"a": 1}).status_code == 200
    assert visitor.erase().status_code == 200
    assert cli(admin_server, "set-holdout", "ledger", "0.1").returncode == 0
    rows = audit_rows(signed_in, "ledger")
    who = getpass.getuser()
    assert [who, "cli", "holdout 0.1 (rules v1)"] == rows[0][1:4]
    assert rows[1][1:4] == ["a visitor", "visitor request", "erasure"] and "&quot;profile&quot;: true" in rows[1][4]
    assert [who, "cli", "site created"] == rows[2][1:4]
    assert visitor.id not in signed_in.get("/admin/sites/ledger").text
    assert httpx.get(f"{admin_server.url}/v1/sites/ledger/model").json()["settings"]["rules"]["holdout"] == 0.1


def test_an_admin_erases_a_visitor_once_they_typed_erase(signed_in, admin_server):
    create_site(admin_server.db_path, "forgetful")
    visitor = Visitor(admin_server, site="forgetful")
    assert visitor.consent(sync=True).status_code == 201
    page = "/admin/sites/forgetful"
    form = {"csrf": csrf_token(signed_in.get(page)), "visitor": visitor.id}
    refused = signed_in.post(f"{page}/erase", data={**form, "confirm": "yes"})
    assert refused.status_code == 422 and "type &#x27;erase&#x27; to confirm" in refused.text
    assert visitor.rows("consents")
    assert signed_in.post(f"{page}/erase", data={**form, "confirm": "erase"}).status_code == 303
    assert visitor.rows("consents") == [] and visitor.rows("visitors") == []
    rows = audit_rows(signed_in, "forgetful")
    assert rows[0][1:4] == ["alice", "dashboard", "visitor erased"] and visitor.id not in str(rows)


def test_destructive_commands_want_the_site_key_typed_again(signed_in, admin_server):
    create_site(admin_server.db_path, "doomed")
    visitor = Visitor(admin_server, site="doomed")
    visitor.consent()
    assert "not confirmed" in cli(admin_server, "erase-visitor", "doomed", visitor.id).stderr
    assert "not confirmed" in cli(admin_server, "rotate-key", "doomed", "doomed-2", "--confirm", "nope").stderr
    assert "not confirmed" in cli(admin_server, "delete-site", "doomed").stderr
    assert visitor.rows("consents") and admin_server.db()["sites"].count_where("site = ?", ["doomed"]) == 1
    assert cli(admin_server, "erase-visitor", "doomed", visitor.id, "--confirm", "doomed").returncode == 0
    assert visitor.rows("consents") == []
    page = "/admin/sites/doomed"
    form = {"csrf": csrf_token(signed_in.get(page))}
    assert signed_in.post(f"{page}/delete", data={**form, "confirm": "Doomed"}).status_code == 422
    assert signed_in.post(f"{page}/delete", data={**form, "confirm": "doomed"}).status_code == 303
    assert httpx.get(f"{admin_server.url}/v1/sites/doomed/model").status_code == 404
    kept = list(admin_server.db()["admin_audit"].rows_where("site = ?", ["doomed"], order_by="id"))
    assert [r["action"] for r in kept] == ["site created", "visitor erased", "site deleted"]
