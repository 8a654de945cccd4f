"""The dashboard driven as an analyst drives it, in headless Chromium against ``chip4 app``.

Each test opens its own page (its own Solara session). Screenshots go to results/e2e/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from . import (
    REPO_ROOT,
    assert_no_console_errors,
    assert_offline,
    screenshot,
    wait_for_echarts,
    wait_for_solara,
)

READOUT = ".chip4-readout"


def open_dashboard(new_page, url):
    page = new_page()
    page.goto(url + "/")
    wait_for_solara(page)
    page.wait_for_selector(READOUT)
    wait_for_echarts(page, 5)
    return page


def readout(page) -> str:
    return page.inner_text(READOUT)


def week_of(page) -> int:
    return int(re.search(r"Week (\d+) of", readout(page)).group(1))


def settled_week(page) -> int:
    """The week once the readout has stopped changing for a second."""
    last = week_of(page)
    while True:
        page.wait_for_timeout(1000)
        now = week_of(page)
        if now == last:
            return now
        last = now


def wait_week(page, week: int) -> None:
    page.wait_for_function(
        "([sel, w]) => document.querySelector(sel).innerText.startsWith(`Week ${w} of`)",
        arg=[READOUT, week])


def click(page, name: str) -> None:
    page.click(f"button.chip4-{name}")


def chart_png(page, name: str) -> bytes:
    """A screenshot of one chart's container (after a frame, so ECharts has drawn)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                  "requestAnimationFrame(r)))")
    return page.locator(f".chip4-chart-{name}").first.screenshot()


def set_speed(page, weeks: int) -> None:
    page.locator(".v-btn-toggle button", has_text=re.compile(rf"^\s*{weeks}\s*$")).first.click()


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Vuetify select labelled ``label``."""
    field = page.locator(".v-select", has=page.locator("label", has_text=label)).first
    field.locator(".v-select__slot").click()
    page.locator(".menuable__content__active .v-list-item",
                 has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first.click()


def type_into(page, label: str, value: str) -> None:
    """Type into the text field labelled ``label`` and commit it with Enter."""
    field = page.locator(".v-text-field", has=page.locator("label", has_text=label)).first
    box = field.locator("input").first
    box.fill(value)
    box.press("Enter")


def test_steps_change_the_network_and_the_paths(dashboard_url, new_page):
    page = open_dashboard(new_page, dashboard_url)
    assert readout(page).startswith("Week 0 of 156")
    net0, loss0 = chart_png(page, "network-rules"), chart_png(page, "loss")
    screenshot(page, "dashboard-week0")

    click(page, "step")
    wait_week(page, 1)
    set_speed(page, 8)
    for week in (9, 17, 25):
        click(page, "step")
        wait_week(page, week)
    text = readout(page)
    assert "KOR net loss" in text and "without rules" in text
    assert float(re.search(r"KOR net loss ([\d.]+)%", text).group(1)) > 0
    net25, loss25 = chart_png(page, "network-rules"), chart_png(page, "loss")
    assert net25 != net0, "the network did not change as the shock propagated"
    assert loss25 != loss0, "the loss chart did not change"
    screenshot(page, "dashboard-week25")

    click(page, "reset")
    wait_week(page, 0)
    assert_offline(page)
    assert_no_console_errors(page)


def test_play_updates_the_views_until_paused(dashboard_url, new_page):
    page = open_dashboard(new_page, dashboard_url)
    click(page, "play")
    seen = set()
    page.wait_for_function(f"() => !document.querySelector('{READOUT}').innerText"
                           ".startsWith('Week 0 of')")
    while len(seen) < 3:   # the readout moves on by itself: the views update while playing
        seen.add(week_of(page))
        page.wait_for_timeout(100)
    click(page, "pause")
    page.wait_for_selector("button.chip4-play")
    stopped = settled_week(page)  # a frame under way when Pause came is still shown
    page.wait_for_timeout(1500)   # several play intervals: nothing more may happen
    assert week_of(page) == stopped
    assert stopped < 156
    screenshot(page, "dashboard-paused")


def test_changing_a_control_restarts_with_the_new_setting(dashboard_url, new_page):
    page = open_dashboard(new_page, dashboard_url)
    set_speed(page, 8)
    click(page, "step")
    wait_week(page, 8)
    choose(page, "Target", "JPN")
    page.wait_for_selector(".chip4-notice")
    assert "Settings changed" in page.inner_text(".chip4-notice")
    wait_week(page, 0)
    click(page, "step")
    wait_week(page, 8)
    assert "JPN net loss" in readout(page)
    screenshot(page, "dashboard-target-jpn")


def test_downloaded_toml_reproduces_the_page_with_chip4_run(dashboard_url, new_page,
                                                            tmp_path):
    page = open_dashboard(new_page, dashboard_url)
    type_into(page, "Seed", "7")
    page.wait_for_selector(".chip4-notice")
    page.locator(".v-input--switch", has_text="Counter-retaliation").locator(
        "input").first.click(force=True)
    page.wait_for_function("() => document.querySelectorAll('.chip4-settings .v-input--switch"
                           " input[aria-checked=true]').length === 4")
    click(page, "run")
    wait_week(page, 156)
    shown = readout(page)

    with page.expect_download() as dl:
        page.locator("button", has_text="Scenario TOML").click()
    toml_path = tmp_path / "page.toml"
    dl.value.save_as(toml_path)
    with page.expect_download() as dl:
        page.locator("button", has_text="Results CSV").click()
    csv_path = tmp_path / "page.csv"
    dl.value.save_as(csv_path)
    text = toml_path.read_text()
    assert "seed = 7" in text and "counter_retaliation" not in text

    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "chip4model.cli", "run", str(toml_path),
                           "--json", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    cli = json.loads(proc.stdout)
    loss = cli["countries"]["KOR"]["net_loss_pct"]
    assert f"KOR net loss {loss:.4f}% of GDP" in shown
    assert cli["seed"] == 7 and cli["steps"] == 156
    # the CSV carries every number the page drew: equal to chip4 run's, to the last digit
    page_ts = pd.read_csv(csv_path)
    mine = page_ts[page_ts.run == "rules"].drop(columns="run").reset_index(drop=True)
    theirs = pd.read_parquet(out / "timeseries.parquet")
    pd.testing.assert_frame_equal(mine, theirs, check_exact=True, check_dtype=False)


def upload(page, file: dict) -> None:
    """Click the Upload button and pick ``file`` in the browser's file chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator("button", has_text="Upload TOML").click()
    chooser.value.set_files(file)


def test_malformed_upload_shows_a_message_and_keeps_the_run(dashboard_url, new_page):
    page = open_dashboard(new_page, dashboard_url)
    click(page, "step")
    wait_week(page, 1)
    upload(page, {"name": "broken.toml", "mimeType": "application/toml",
                            "buffer": b"steps = 52\n[[rules]]\ntype = \"market_absorptionn\"\n"})
    page.wait_for_selector(".chip4-error")
    msg = page.inner_text(".chip4-error")
    assert "broken.toml" in msg and "rules[0]" in msg and "market_absorption" in msg
    assert readout(page).startswith("Week 1 of 156"), "the last good run was lost"
    screenshot(page, "dashboard-bad-upload")
    upload(page, {"name": "not-toml.toml", "mimeType": "application/toml",
                            "buffer": b"steps = [\n"})
    page.wait_for_function("() => document.querySelector('.chip4-error').innerText"
                           ".includes('not-toml.toml')")
    assert "not valid TOML" in page.inner_text(".chip4-error")

    good = (REPO_ROOT / "chip4model" / "scenarios" / "thaad-2017.toml").read_bytes()
    upload(page, {"name": "mine.toml", "mimeType": "application/toml",
                            "buffer": good.replace(b'name = "thaad-2017"', b'name = "mine"')})
    page.wait_for_selector(".chip4-notice")
    assert "mine.toml" in page.inner_text(".chip4-notice")
    assert page.locator(".chip4-error").count() == 0
    wait_week(page, 0)
    click(page, "step")
    wait_week(page, 1)   # the server survived both bad files and runs the new scenario


def test_two_pages_are_independent(dashboard_url, new_page):
    a = open_dashboard(new_page, dashboard_url)
    b = open_dashboard(new_page, dashboard_url)
    set_speed(a, 8)
    click(a, "step")
    wait_week(a, 8)
    b.wait_for_timeout(500)
    assert week_of(b) == 0
    choose(b, "Built-in scenario", "thaad-2017")
    b.wait_for_selector(".chip4-notice")
    click(b, "step")
    wait_week(b, 1)
    assert "thaad" not in a.inner_text(".chip4-settings")
    assert week_of(a) == 8
    screenshot(a, "dashboard-page-a")
    screenshot(b, "dashboard-page-b")


@pytest.mark.parametrize("tab", ["With vs without rules"])
def test_comparison_tab_states_absorption_and_deterrence(dashboard_url, new_page, tab):
    page = open_dashboard(new_page, dashboard_url)
    click(page, "run")
    wait_week(page, 156)
    page.locator(".v-tab", has_text=tab).click()
    # lazy tabs: the comparison's charts are built when the tab opens
    for name in ("comparison", "network-rules", "network-no_rules"):
        page.wait_for_selector(f".chip4-chart-{name} canvas")
    verdict = page.locator(".chip4-verdict").last.inner_text()
    assert "Absorption ratio" in verdict
    assert "deterred" in verdict
    assert page.locator(".chip4-chart-network-no_rules").count() == 1
    screenshot(page, "dashboard-comparison")
