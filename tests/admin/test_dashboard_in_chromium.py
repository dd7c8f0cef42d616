"""The admin dashboard in real Chromium: sign in through the form, and the charts draw the rounds."""

from __future__ import annotations

from tests.admin.conftest import ROUNDS, SIMULATED, SITE

INKED_PIXELS = """canvas => {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
    return inked;
}"""


def test_an_admin_signs_in_and_sees_charts_of_the_rounds(page, admin_server, admin, tmp_path):
    page.goto(f"{admin_server.url}/admin/sites/{SITE}")
    assert page.url.startswith(f"{admin_server.url}/admin/login")  # anonymous: the sign-in form first
    page.fill('input[name="name"]', admin.name)
    page.fill('input[name="password"]', admin.password)
    page.click("button:text('Sign in')")
    page.wait_for_selector("body[data-charts=drawn]")
    assert page.url == f"{admin_server.url}/admin/sites/{SITE}"

    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000
    charts = page.query_selector_all(".chart canvas")
    assert len(charts) == 3  # the model's history, and the slot's CTR and uplift
    for canvas in charts:
        assert canvas.evaluate(INKED_PIXELS) > 1_000
    history_rows = page.query_selector_all('[data-chart="history"] + table tbody tr')
    assert len(history_rows) == ROUNDS
    assert [m for m in page.console_messages_seen if m[0] in ("error", "pageerror")] == []


def test_a_site_filled_by_simulated_devices_draws_every_slot_and_its_replay(page, admin_server, admin, tmp_path):
    page.goto(f"{admin_server.url}/admin/login?next=/admin/sites/{SIMULATED}")
    page.fill('input[name="name"]', admin.name)
    page.fill('input[name="password"]', admin.password)
    page.click("button:text('Sign in')")
    page.wait_for_selector("body[data-charts=drawn]")
    page.screenshot(path=tmp_path / "simulated.png", full_page=True)
    charts = page.query_selector_all(".chart canvas")
    assert len(charts) == 5  # the model's history, and CTR and uplift for the hero and the picks
    assert all(canvas.evaluate(INKED_PIXELS) > 1_000 for canvas in charts)
    assert page.is_visible("h3:text('Offline replay') + p + table")


def test_a_wrong_password_keeps_the_browser_out(page, admin_server, admin):
    page.goto(f"{admin_server.url}/admin")
    page.fill('input[name="name"]', admin.name)
    page.fill('input[name="password"]', "not the password")
    page.click("button:text('Sign in')")
    assert page.is_visible("text=Wrong name or password.")
    page.goto(f"{admin_server.url}/admin")
    assert page.url.startswith(f"{admin_server.url}/admin/login")
