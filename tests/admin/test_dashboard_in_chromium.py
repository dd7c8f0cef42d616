"""The admin dashboard in real Chromium: sign in through the form, and the charts draw the rounds."""

from __future__ import annotations

from sync_server.demo import traffic
from tests.admin.conftest import ROUNDS, SIMULATED, SITE
from tests.conftest import create_site

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
    assert len(charts) == 5  # the model's history, and CTR and uplift of the picks and the basket
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


def test_an_empty_site_explains_what_it_waits_for_and_a_filled_one_names_every_weight(page, admin_server, admin):
    create_site(admin_server.db_path, "brand-new")
    page.goto(f"{admin_server.url}/admin/login?next=/admin/sites/brand-new")
    page.fill('input[name="name"]', admin.name)
    page.fill('input[name="password"]', admin.password)
    page.click("button:text('Sign in')")
    waiting = page.inner_text("section.waiting")
    assert "Waiting for round 1" in waiting and "Nothing to chart yet" in waiting
    assert "0 of the 1,000 updates that close it" in waiting and "Holdout: 5%" in waiting
    assert page.query_selector_all(".chart") == []  # no empty charts

    page.goto(f"{admin_server.url}/admin/sites/{SIMULATED}")
    page.wait_for_selector("body[data-charts=drawn]")
    cells = page.locator("h3:text('Raise scores most') + table tbody td:first-child, "
                         "h3:text('Lower scores most') + table tbody td:first-child").all_inner_texts()
    titles = [v["title"] for variants in traffic.Shop.demo().catalog()["slots"].values() for v in variants]
    features = {f for item in traffic.Shop.demo().catalog()["slots"].values() for v in item for f in v["features"]}
    assert cells and all(any(word in cell for word in (*titles, *features)) for cell in cells)
    assert not any("bucket" in cell for cell in cells)
    lift = page.inner_text("p.lift >> nth=0")
    assert "95% confidence sequence" in lift
    assert [m for m in page.console_messages_seen if m[0] in ("error", "pageerror")] == []
