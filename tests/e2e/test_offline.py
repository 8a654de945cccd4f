"""The dashboard loads completely from this machine: no request leaves 127.0.0.1, every
front-end file (Solara's CDN proxy cache, filled by scripts/install-dashboard-assets.sh) is
served, and an ECharts chart draws."""

from __future__ import annotations

from . import (
    assert_no_console_errors,
    assert_offline,
    page_log,
    screenshot,
    wait_for_echarts,
    wait_for_solara,
)


def test_dashboard_renders_offline(dashboard_url, new_page):
    page = new_page()
    page.goto(dashboard_url + "/")
    wait_for_solara(page)
    wait_for_echarts(page)
    # ECharts has drawn into its canvas: it has a size
    box = page.locator(".solara-echarts canvas").first.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    # components load some files only once mounted (e.g. solara.Markdown: mermaid, KaTeX):
    # let the network go quiet before judging what was requested
    page.wait_for_load_state("networkidle")
    screenshot(page, "offline")
    assert_offline(page)
    assert_no_console_errors(page)
    assert not page_log(page).blocked
