#!/usr/bin/env python
"""Take the screenshots of docs/dashboard.md: a guided tour of the chip4model dashboard.

What it does, in order:

1. sweeps the ``rules_vs_none`` experiment in quick mode and writes its report
   (``chip4 reproduce --quick``), into a scratch folder;
2. starts its own ``chip4 app`` on a free port of 127.0.0.1 (``tests/e2e``'s start_dashboard);
3. drives the page in headless Chromium (/usr/bin/chromium, 1500 px wide) as an analyst would:
   the default scenario (kor-aligns-collective, seed 1) at week 0 and its settings; the
   player and the network at week 12, coloured by shortfall and by utilisation; the paths,
   the comparison and the downloads at the end of the run; a malformed upload; thaad-2017
   with a firm sanction added (the shock editor, and a red ring in the network); the sweep
   opened in the "Sweep results" tab; the Members section (in a second page);
4. saves one PNG per view into ``--out`` (default docs/img/dashboard) and prints their names.

Rerun it from the repository root, after ``make demo`` or ``make test`` (the venv, the
dashboard's front-end files and Chromium):

    .venv/bin/python scripts/dashboard_tour.py [--out docs/img/dashboard]

The pictures are deterministic: the same scenario, seed and steps give the same charts
(ECharts animation is off), each shot waits until the chart shows the week it should and
then until two consecutive captures are identical, and the sweep always lives in the same
scratch folder (``<tmp>/chip4-dashboard-tour``, removed at the end, even on error), so the
path the page shows does not change from run to run. Do not run two tours at once.
Exits non-zero, with the server's log, if any step fails.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))   # the browser tests' helpers: tests/e2e

from e2e import start_dashboard, wait_for_echarts, wait_for_solara  # noqa: E402
from e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

VIEWPORT = {"width": 1500, "height": 2300}   # tall: every view fits without scrolling
FIRST_VIEW = 1000                            # what a 1500 x 1000 screen shows at first
SCRATCH = Path(tempfile.gettempdir()) / "chip4-dashboard-tour"
EXPERIMENT = REPO_ROOT / "experiments" / "rules_vs_none.toml"
WEEK_NETWORK = 12            # China is retaliating against Korea by then
TIMEOUT_MS = 120_000
BROKEN_TOML = b'name = "my-scenario"\nsteps = 52\n\n[[rules]]\ntype = "market_absorbtion"\n'


# --- waiting ---------------------------------------------------------------------------------
# The option a chart drew (solara.FigureEcharts keeps its ECharts instance on the Vue
# component): its title and subtitle, and the week of the last point of its first series.
_CHART_STATE = """([name, text, week]) => {
    for (const el of document.querySelectorAll('.chip4-chart-' + name)) {
        if (!el.offsetParent || !el.__vue__ || !el.__vue__.chart) continue;   // hidden or new
        const o = el.__vue__.chart.getOption();
        const t = (o.title || [])[0] || {};
        if (text && !`${t.text} ${t.subtext}`.includes(text)) continue;
        const data = ((o.series || [])[0] || {}).data || [];
        const last = data.length ? data[data.length - 1] : null;
        if (week !== null && !(Array.isArray(last) && last[0] === week)) continue;
        return true;
    }
    return false;
}"""


def frames(page, n: int = 2) -> None:
    """Wait for ``n`` animation frames, so that whatever changed has been painted."""
    for _ in range(n):
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")


def wait_week(page, week: int) -> None:
    page.wait_for_function(
        "w => { const r = document.querySelector('.chip4-readout');"
        " return r && r.innerText.startsWith(`Week ${w} of`); }", arg=week, timeout=TIMEOUT_MS)


def wait_chart(page, name: str, text: str | None = None, week: int | None = None) -> None:
    """Wait until the visible chart ``chip4-chart-<name>`` has drawn an option whose title
    contains ``text`` and/or whose first series ends at ``week``."""
    page.wait_for_function(_CHART_STATE, arg=[name, text, week], timeout=TIMEOUT_MS)


def calm(page) -> None:
    """No hover, focus or ripple left on the page: the mouse in a corner, focus dropped."""
    page.mouse.move(1, 1)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    frames(page)


# --- driving the page ------------------------------------------------------------------------
def click(page, locator) -> None:
    locator.click()
    calm(page)


def player(page, name: str) -> None:
    """Press Run, Step, Play, Pause or Reset."""
    click(page, page.locator(f"button.chip4-{name}"))


def set_speed(page, weeks: int) -> None:
    click(page, page.locator(".v-btn-toggle button",
                             has_text=re.compile(rf"^\s*{weeks}\s*$")).first)


def open_tab(page, label: str, shows: str, hides: str) -> None:
    """Open the tab ``label`` and wait until its content (``shows``) has replaced the
    previous tab's (``hides``)."""
    click(page, page.locator(".v-tab", has_text=label).first)
    page.locator(shows).locator("visible=true").first.wait_for()
    page.locator(hides).first.wait_for(state="hidden")
    page.wait_for_function("() => !document.querySelector('.v-window__container--is-active')")
    frames(page)


def visible(page, selector: str, **kw):
    """The first visible element matching ``selector`` (inactive tabs keep hidden copies)."""
    return page.locator(selector, **kw).locator("visible=true").first


def panel(page, title: str):
    """The collapsible section of the settings called ``title``."""
    return page.locator(".chip4-settings .v-expansion-panel", has=page.locator(
        ".v-expansion-panel-header", has_text=title)).first


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the drop-down list labelled ``label``."""
    field = page.locator(".v-select", has=page.locator("label", has_text=label)).first
    field.locator(".v-select__slot").click()
    item = page.locator(".menuable__content__active .v-list-item",
                        has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first
    item.wait_for()
    frames(page)   # the menu has opened
    click(page, item)
    field.locator(".v-select__selection", has_text=option).wait_for()


def upload(page, name: str, content: bytes) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("button", has_text="Upload TOML").click()
    chooser.value.set_files({"name": name, "mimeType": "application/toml", "buffer": content})
    calm(page)


# --- screenshots -----------------------------------------------------------------------------
class Shots:
    """Saves the tour's PNGs into ``out`` and remembers what it wrote."""

    def __init__(self, page, out: Path):
        self.page, self.out, self.written = page, out, []

    def _save(self, name: str, capture, page=None) -> None:
        """Capture until two consecutive pictures are identical, then save the last."""
        page = page or self.page
        frames(page)
        last = capture()
        for _ in range(20):
            time.sleep(0.25)
            frames(page)
            now = capture()
            if now == last:
                break
            last = now
        path = self.out / name
        path.write_bytes(last)
        self.written.append(path)
        print(f"  {path}  ({len(last) // 1024} KB)", flush=True)

    def element(self, name: str, locator, page=None) -> None:
        locator.scroll_into_view_if_needed()
        self._save(name, lambda: locator.screenshot(animations="disabled"), page)

    def region(self, name: str, locators, pad: int = 8, bottom: float | None = None) -> None:
        """The smallest rectangle around ``locators`` (plus ``pad`` pixels), down to
        ``bottom`` (a page y) if given."""
        locators[0].scroll_into_view_if_needed()
        boxes = None
        for _ in range(50):   # until the layout has settled
            now = [loc.bounding_box() for loc in locators]
            if now == boxes:
                break
            boxes = now
            frames(self.page)
        x0 = max(min(b["x"] for b in boxes) - pad, 0)
        y0 = max(min(b["y"] for b in boxes) - pad, 0)
        x1 = min(max(b["x"] + b["width"] for b in boxes) + pad, VIEWPORT["width"])
        y1 = bottom if bottom is not None else max(b["y"] + b["height"] for b in boxes) + pad
        clip = {"x": x0, "y": y0, "width": x1 - x0, "height": min(y1, VIEWPORT["height"]) - y0}
        self._save(name, lambda: self.page.screenshot(clip=clip, animations="disabled"))


# --- the tour --------------------------------------------------------------------------------
def open_page(page, url: str) -> None:
    page.goto(url + "/")
    wait_for_solara(page)
    page.wait_for_selector(".chip4-readout")
    wait_for_echarts(page, 5)
    wait_chart(page, "network-rules", text="week 0")
    # the tabs size their underline from the text's width: measure again with the web fonts
    page.evaluate("() => document.fonts.ready")
    page.evaluate("() => window.dispatchEvent(new Event('resize'))")
    calm(page)


def tour_start(page, shots: Shots) -> None:
    """Week 0: the page as it opens, and its settings panel."""
    shots.region("01-start.png", [page.locator(".v-app-bar, header").first], pad=0,
                 bottom=FIRST_VIEW)
    shots.element("02-settings.png", page.locator(".chip4-settings"))


def tour_members(browser, url: str, shots: Shots) -> None:
    """The Members section, opened in a page (session) of its own: opening it mounts its
    sliders, which move calibrated values such as Korea's exposure 0.239 onto their 0.01 grid
    and so restart that page's run with changed settings; the main tour must not see that."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        open_page(page, url)
        members = panel(page, "Members")
        click(page, members.locator(".v-expansion-panel-header"))
        page.wait_for_selector("text=Exposure is China's share")
        shots.element("03-members.png", members, page)
    finally:
        page.close()


def tour_network(page, shots: Shots) -> None:
    """Week 12: China retaliates; the network by shortfall and by utilisation."""
    set_speed(page, 4)
    for week in range(4, WEEK_NETWORK + 1, 4):
        player(page, "step")
        wait_week(page, week)
    wait_chart(page, "network-rules", text=f"week {WEEK_NETWORK}")
    wait_chart(page, "loss", week=WEEK_NETWORK)
    shots.region("04-player.png",   # pad 4: the verdict's margin, not the buttons under it
                 [visible(page, "button.chip4-run"), page.locator(".chip4-readout"),
                  visible(page, ".chip4-verdict")], pad=4)
    network = visible(page, ".chip4-chart-network-rules")
    shots.element("05-network-shortfall.png", network)
    click(page, visible(page, ".v-btn-toggle button", has_text="utilisation"))
    wait_chart(page, "network-rules", text="output / capacity at baseline")
    shots.element("06-network-utilisation.png", network)
    click(page, visible(page, ".v-btn-toggle button", has_text="shortfall"))
    wait_chart(page, "network-rules", text="shortfall vs baseline output")


def tour_end(page, shots: Shots) -> int:
    """Run to the last week: the paths, the comparison and the downloads."""
    player(page, "run")
    text = page.inner_text(".chip4-readout")
    last = int(re.search(r"of (\d+)", text).group(1))
    wait_week(page, last)
    paths = ("loss", "intensity", "alignment", "firms")
    for name in paths:
        wait_chart(page, name, week=last)
    charts = [visible(page, f".chip4-chart-{name}") for name in paths]
    toggle = page.locator(".v-btn-toggle", has_text="value_added")   # the loss chart's measure
    shots.region("07-paths.png", charts + ([toggle.first] if toggle.count() else []))
    open_tab(page, "With vs without rules", shows=".chip4-chart-comparison",
             hides=".chip4-chart-loss")
    wait_chart(page, "comparison", text=f"week {last}")
    wait_chart(page, "network-no_rules", text=f"week {last}")
    shots.region("08-comparison.png",
                 [visible(page, ".v-tab", has_text="With vs without rules"),
                  visible(page, ".chip4-verdict"), visible(page, ".chip4-chart-comparison"),
                  visible(page, ".chip4-chart-network-no_rules"),
                  visible(page, ".chip4-chart-network-rules")])
    shots.region("09-downloads.png", [visible(page, "button", has_text="Scenario TOML"),
                                      visible(page, "text=reproduces this run")])
    return last


def tour_error(page, shots: Shots, week: int) -> None:
    """A malformed upload: one line in the page; the last good run stays."""
    upload(page, "my-scenario.toml", BROKEN_TOML)
    page.wait_for_selector(".chip4-error")
    wait_week(page, week)
    # (not the Upload button: the count it shows after a failed upload varies, 0 or 1)
    shots.region("10-bad-upload.png",
                 [page.locator(".chip4-error"), page.locator(".chip4-readout")])


def tour_scripted(page, shots: Shots) -> None:
    """thaad-2017 (scripted shocks) plus a sanction on Samsung: the shock editor, and the
    red ring of a plant whose capacity a shock cuts."""
    open_tab(page, "Scenario run", shows=".chip4-chart-loss", hides=".chip4-chart-comparison")
    choose(page, "Built-in scenario", "thaad-2017")
    page.wait_for_selector(".chip4-notice >> text=thaad-2017")
    choose(page, "Add a shock", "firm_sanction")
    click(page, page.locator(".chip4-settings button",
                             has_text=re.compile(r"^\s*Add\s*$")))
    page.wait_for_selector(".chip4-notice >> text=Settings changed")
    page.wait_for_selector("text=Sanction on the target's largest firm")
    shots.element("11-scripted-shocks.png", panel(page, "Retaliation"))
    set_speed(page, 8)
    player(page, "step")
    wait_week(page, 8)
    wait_chart(page, "network-rules", text="week 8")
    shots.element("12-network-shock-ring.png", visible(page, ".chip4-chart-network-rules"))


def tour_sweep(page, shots: Shots, folder: Path) -> None:
    """The sweep-results tab with the quick rules_vs_none sweep opened."""
    open_tab(page, "Sweep results", shows="text=Sweep folder", hides=".chip4-readout")
    field = page.locator(".v-text-field", has=page.locator("label", has_text="Sweep folder"))
    field.locator("input").first.fill(str(folder))
    click(page, page.locator("button", has_text="Open"))
    page.wait_for_selector("text=claims hold", timeout=TIMEOUT_MS)
    page.wait_for_function("() => [...document.images].every(i => i.complete)",
                           timeout=TIMEOUT_MS)
    claims = page.locator(".v-card", has=page.locator(".v-card__title", has_text="Claims"))
    shots.region("13-sweep-claims.png", [page.locator("h2", has_text="Sweep results"),
                                         claims.first])
    figures = page.locator(".v-card", has=page.locator(".v-card__title", has_text="Figures"))
    first = figures.first.locator("img").first
    caption_bottom = first.evaluate(   # the figure's column: title, image, caption
        "img => img.parentElement.parentElement.getBoundingClientRect().bottom")
    shots.region("14-sweep-figure.png", [figures.first.locator(".v-card__title"), first],
                 bottom=caption_bottom + 2)


# --- setting up and cleaning up --------------------------------------------------------------
def make_sweep(scratch: Path) -> Path:
    """Sweep rules_vs_none in quick mode and write its report; return the sweep folder."""
    cmd = [str(Path(sys.executable).with_name("chip4")), "reproduce", "--quick", "--out",
           str(scratch / "sweeps"), "--no-progress", str(EXPERIMENT)]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    folder = scratch / "sweeps" / "rules_vs_none-quick"
    if proc.returncode != 0 or not (folder / "report" / "summary.md").is_file():
        raise RuntimeError(f"the sweep failed (exit {proc.returncode}):\n{proc.stdout}"
                           f"{proc.stderr}")
    return folder


def fresh_scratch() -> Path:
    if SCRATCH.exists():                     # left behind by a tour that was killed
        shutil.rmtree(SCRATCH)
    SCRATCH.mkdir(parents=True)
    return SCRATCH


def keep_failure(page) -> None:
    """Save what the page showed when the tour failed (outside the scratch folder)."""
    if page is None:
        return
    path = Path(tempfile.gettempdir()) / "chip4-dashboard-tour-FAILED.png"
    try:
        page.screenshot(path=str(path), timeout=10_000)
        print(f"The page at the failure: {path}", file=sys.stderr)
    except Exception:  # noqa: BLE001 - a crashed page: the error says enough
        pass


def run_tour(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    with ExitStack() as stack:
        scratch = fresh_scratch()
        stack.callback(shutil.rmtree, scratch, True)
        sweep = make_sweep(scratch)
        print("Starting chip4 app ...", flush=True)
        server = start_dashboard(scratch / "server.log")
        stack.callback(server.stop)
        page = None
        try:
            pw = stack.enter_context(sync_playwright())
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)
            shots = Shots(page, out)
            print(f"Touring {server.url}; writing into {out}:", flush=True)
            open_page(page, server.url)
            tour_start(page, shots)
            tour_network(page, shots)
            last = tour_end(page, shots)
            tour_error(page, shots, last)
            tour_scripted(page, shots)
            tour_sweep(page, shots, sweep)
            tour_members(browser, server.url, shots)
            return shots.written
        except BaseException:
            keep_failure(page)
            print(f"--- chip4 app log ({server.log_path}), last lines:\n{server.log_tail(60)}",
                  file=sys.stderr)
            raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "img" / "dashboard",
                    help="folder for the PNGs (default: docs/img/dashboard)")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"dashboard_tour: {CHROMIUM} is missing (make browser)", file=sys.stderr)
        return 1
    # a plain kill (SIGTERM) unwinds like an error, so the server and scratch folder go too
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    out = args.out.resolve()
    started = time.monotonic()
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = run_tour(out)
    except KeyboardInterrupt:
        print("dashboard_tour: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - report it in one place, exit non-zero
        print(f"dashboard_tour: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {len(written)} screenshots into {out} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
