"""An email click reported by the site's backend reaches the web: in real Chromium, the visitor's
other device takes the synced profile with their sync code, and its next decision leads with what
they clicked in the email."""

from __future__ import annotations

import subprocess

import httpx

from edge.features import Hasher
from sync_server.sites import DEFAULT_HASH_BITS
from tests.browser.test_other_device import USED, sync_code, use_code
from tests.browser.test_preferences import open_panel, switch, visitor_record
from tests.browser.test_walking_skeleton import open_demo, picks_order
from tests.conftest import CLI, ROOT
from tests.server.federation import token, update


def test_an_email_click_changes_the_next_web_decision_after_sync(page, other_device, fast_server):
    # The global model learned that visitors who like camping click camping.
    bucket = Hasher(DEFAULT_HASH_BITS)("likes:topic:camping & topic:camping")
    sent = httpx.post(f"{fast_server.url}/v1/sites/demo/updates",
                      json={**update([bucket], [0.3]), "token": token(fast_server.url, "demo")})
    assert sent.status_code == 202
    key = subprocess.run([*CLI, "create-server-key", "demo", "newsletter", "--db", str(fast_server.db_path)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    open_demo(page, fast_server)
    open_panel(page)
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        switch(page, "Sync my profile").check()
    visitor = visitor_record(page)

    # The newsletter's link was followed: the backend reports the click.
    email_click = {"type": "click", "features": ["topic:camping", "price:high"], "channel": "email"}
    reported = httpx.post(f"{fast_server.url}/v1/sites/demo/events", headers={"authorization": f"Bearer {key}"},
                          json={"visitor": visitor["id"], "events": [email_click]})
    assert reported.status_code == 200, reported.text

    open_demo(other_device, fast_server)
    use_code(other_device, sync_code(visitor["id"], visitor["secret"])).get_by_text(USED).wait_for()
    assert picks_order(other_device)[0] == "tent"
