"""The dashboard page (chip4model.dashboard.app) driven like a user would: Solara renders it
in-process and the tests click its buttons, move its controls, upload files and read what it
shows (readout, notices, errors, chart options, downloads).

Widgets are found by what the page gives them: the player buttons by their ``chip4-*`` CSS
class, the controls by their label, the charts by their ``chip4-chart-<name>`` class.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
import tomllib
from collections.abc import Callable

import ipyvuetify as v
import ipywidgets
import pytest
import solara
from solara.components.echarts import EchartsWidget
from solara.components.file_download import FileDownloadWidget

import chip4model.dashboard.charts as charts_module
import chip4model.dashboard.session as session_module
from chip4model.dashboard.app import PLAY_INTERVAL_S, SPEEDS, Explore, Page
from chip4model.dashboard.params import RULE_LABELS
from chip4model.dashboard.session import Session, edit
from chip4model.scenario import builtin_dir, load_scenario

TARGET_LABEL = "Target (the member China retaliates against)"
BUILTIN_LABEL = "Built-in scenario"
NO_RULES_INFO = "This scenario has no collective-resilience rules"
CHARTS = ("network-rules", "loss", "intensity", "alignment", "firms", "comparison")
TIMEOUT = 60.0     # generous: only ever a bound on waiting, never asserted on


# --- driving the page -------------------------------------------------------------------------
def settle(timeout: float = TIMEOUT) -> None:
    """Wait until no Solara ``use_thread`` worker (the play loop, a download) runs any more.

    A worker re-renders the page when it changes state; a click made meanwhile leaves its
    render to that worker, so the page may show the click's effect only a moment later. A
    worker that ends may start another (short) one: look again until none is left. A worker
    that does not end (a play loop that ignores Pause) fails the test.
    """
    while True:
        alive = [t for t in threading.enumerate()
                 if t is not threading.current_thread() and "(runner)" in t.name]
        if not alive:
            return
        for t in alive:
            t.join(timeout)
            assert not t.is_alive(), f"{t.name} still running after {timeout} s"


@pytest.fixture
def explore():
    """A fresh Explore tab (one browser session); closed afterwards (stops its threads)."""
    _, rc = solara.render(Explore(), handle_error=False)
    settle()
    yield rc
    rc.close()
    settle()


def wait_until(predicate: Callable[[], object], timeout: float = TIMEOUT, what: str = ""):
    """Poll ``predicate`` until it is true; fail with ``what`` if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def readout(rc) -> str:
    """The one-line readout above the charts."""
    return rc.find(v.Html, class_="chip4-readout").widget.children[0].children[0]


def week(rc) -> int:
    m = re.match(r"Week (\d+) of (\d+)", readout(rc))
    assert m, readout(rc)
    return int(m.group(1))


def steps(rc) -> int:
    return int(re.match(r"Week \d+ of (\d+)", readout(rc)).group(1))


def verdict(rc) -> str:
    # the verdict appears in both tabs ("Scenario run" and "With vs without rules")
    texts = {w.children[0].children[0] for w in rc.find(v.Html, class_="chip4-verdict").widgets}
    assert len(texts) == 1, texts
    return texts.pop()


def button(rc, cls: str) -> v.Btn:
    return rc.find(v.Btn, class_=f"chip4-{cls}").widget


def click(rc, cls: str) -> None:
    """Click a player button and wait for the page to show what it did."""
    button(rc, cls).click()
    settle()


def alert_texts(rc, cls: str) -> list[str]:
    return [a.children[0] for a in rc.find(v.Alert, class_=cls).widgets]


def errors(rc) -> list[str]:
    return alert_texts(rc, "chip4-error")


def notices(rc) -> list[str]:
    return alert_texts(rc, "chip4-notice")


def infos(rc) -> list[str]:
    return [a.children[0] for a in rc.find(v.Alert).widgets
            if a.class_ == "" and a.children and isinstance(a.children[0], str)]


def chart(rc, name: str) -> dict:
    """The ECharts option of the first chart named ``name`` (the network view is drawn in
    both tabs; the first is the "Scenario run" one)."""
    found = [w for w in rc.find(EchartsWidget).widgets
             if f"chip4-chart-{name}" in w.attributes.get("class", "").split()]
    assert found, f"no chip4-chart-{name}"
    return found[0].option


def chart_names(rc) -> set[str]:
    names = set()
    for w in rc.find(EchartsWidget).widgets:
        names |= {c.removeprefix("chip4-chart-") for c in w.attributes.get("class", "").split()
                  if c.startswith("chip4-chart-")}
    return names


def series(option: dict, name: str) -> list:
    return next(s["data"] for s in option["series"] if s.get("name") == name)


def node_colours(rc) -> list[str]:
    graph = next(s for s in chart(rc, "network-rules")["series"] if s["type"] == "graph")
    return [d["itemStyle"]["color"] for d in graph["data"]]


def markdown(rc) -> str:
    """The text of the page's Markdown blocks (the scenario's name and description)."""
    texts = []
    for w in rc.find(v.VuetifyTemplate).widgets:
        t = w.template if isinstance(w.template, str) else getattr(w.template, "template", "")
        m = re.search(r'<div class="solara-markdown [^>]*>(.*?)</div>', t or "", re.S)
        if m:
            texts.append(re.sub(r"<[^>]+>", "", m.group(1)))
    return "\n".join(texts)


def set_input_int(rc, label: str, value) -> None:
    """Type ``value`` into an InputInt and leave the field (it commits on blur)."""
    field = rc.find(v.TextField, label=label).widget
    field.v_model = str(value)
    field.fire_event("focusout", None)
    settle()


def select(rc, label: str, value) -> None:
    rc.find(v.Select, label=label).widget.v_model = value
    settle()


def switch(rc, label: str, on: bool) -> None:
    rc.find(v.Switch, label=label).widget.v_model = on
    settle()


def toggle(rc, values: list[str], value: str) -> None:
    """Pick ``value`` on the toggle buttons offering exactly ``values``."""
    toggles = [t for t in rc.find(v.BtnToggle).widgets
               if [b.children[0] for b in t.children] == values]
    assert toggles, f"no toggle offering {values}"
    toggles[0].v_model = values.index(value)
    settle()


def set_speed(rc, weeks_per_step: str) -> None:
    toggle(rc, SPEEDS, weeks_per_step)


def open_tab(rc, title: str) -> None:
    tab = rc.find(v.Tab, children=[title]).widget
    tabs = next(t for t in rc.find(v.Tabs).widgets if tab in t.children)
    tabs.v_model = [c for c in tabs.children if isinstance(c, v.Tab)].index(tab)
    settle()


def download(rc, suffix: str) -> bytes:
    """Click the download whose file name ends with ``suffix`` and return what the browser
    would save (the widget's bytes, filled in by a thread after the click)."""
    def widget():
        found = [w for w in rc.find(FileDownloadWidget).widgets if w.filename.endswith(suffix)]
        assert len(found) == 1, [w.filename for w in rc.find(FileDownloadWidget).widgets]
        return found[0]

    settle()
    widget().request_download = False     # as the browser does once a download is saved
    settle()
    widget().request_download = True      # the click
    settle()
    content = widget().bytes
    assert content, f"nothing to download for {suffix}"
    return content


def download_names(rc) -> list[str]:
    return [w.filename for w in rc.find(FileDownloadWidget).widgets]


def upload(rc, filename: str, content: bytes) -> None:
    """Upload one file as ipywidgets 8's FileUpload hands it over."""
    rc.find(ipywidgets.FileUpload).widget.value = ({
        "name": filename, "type": "application/toml", "size": len(content),
        "content": memoryview(content),
        "last_modified": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    },)
    settle()


def thaad_text(name: str = "my-thaad", steps: int = 20) -> str:
    text = (builtin_dir() / "thaad-2017.toml").read_text(encoding="utf-8")
    text = text.replace('name = "thaad-2017"', f'name = "{name}"')
    return text.replace("steps = 156", f"steps = {steps}")


# --- 1. the page ------------------------------------------------------------------------------
def test_page_renders_week_zero_with_network_and_path_charts():
    _, rc = solara.render(Page(), handle_error=False)
    settle()
    try:
        assert readout(rc).startswith("Week 0 of 156")
        assert "KOR net loss 0.0000% of GDP (without rules 0.0000%)" in readout(rc)
        assert verdict(rc) == "Press Step, Play or Run to start the scenario."
        assert set(CHARTS) - {"comparison"} <= chart_names(rc)
        assert "network-no_rules" not in chart_names(rc)   # lazy tabs: only the one on screen
        # the network shows every node, before the first step all within 1% of baseline
        assert set(node_colours(rc)) <= {"#e0e0e0", "#bdbdbd"}
        assert series(chart(rc, "loss"), "KOR") == []
        rc.find(v.Tab, children=["Sweep results"]).assert_single()
        assert "kor-aligns-collective" in markdown(rc)
        assert not errors(rc)
        assert not button(rc, "run").disabled and not button(rc, "step").disabled
    finally:
        rc.close()
        settle()


# --- 2. the player ----------------------------------------------------------------------------
def test_step_speed_run_and_reset(explore):
    rc = explore
    set_input_int(rc, "Weeks", 30)
    assert readout(rc).startswith("Week 0 of 30")

    click(rc, "step")
    assert week(rc) == 1
    assert len(series(chart(rc, "loss"), "KOR")) == 1
    assert verdict(rc).startswith("China has not retaliated (week 1 of 30, so far).")
    assert download_names(rc)[1].endswith("-week1.csv")

    set_speed(rc, "2")
    click(rc, "step")
    assert week(rc) == 3
    set_speed(rc, "8")
    click(rc, "step")
    assert week(rc) == 11
    assert [p[0] for p in series(chart(rc, "loss"), "KOR")] == list(range(1, 12))

    click(rc, "run")
    assert week(rc) == 30
    assert len(series(chart(rc, "loss"), "KOR")) == 30
    assert all(len(s["data"]) == 30 for s in chart(rc, "intensity")["series"])
    assert button(rc, "run").disabled
    assert button(rc, "step").disabled
    assert button(rc, "play").disabled
    assert not button(rc, "reset").disabled
    assert "so far" not in verdict(rc)

    click(rc, "reset")
    assert week(rc) == 0
    assert series(chart(rc, "loss"), "KOR") == []
    assert all(s["data"] == [] for s in chart(rc, "intensity")["series"])
    assert verdict(rc) == "Press Step, Play or Run to start the scenario."
    assert not any(b.disabled for b in (button(rc, "run"), button(rc, "step"),
                                        button(rc, "play")))
    click(rc, "step")              # the speed is still 8 weeks per step
    assert week(rc) == 8


def test_step_never_goes_past_the_last_week(explore):
    rc = explore
    set_input_int(rc, "Weeks", 5)
    set_speed(rc, "4")
    click(rc, "step")
    click(rc, "step")
    assert readout(rc).startswith("Week 5 of 5")
    assert button(rc, "step").disabled


# --- 3. play and pause ------------------------------------------------------------------------
def test_play_advances_and_pause_stops(explore):
    rc = explore
    set_input_int(rc, "Weeks", 60)
    button(rc, "play").click()      # not click(): that waits for the play loop to end
    rc.find(v.Btn, class_="chip4-pause").assert_single()
    rc.find(v.Btn, class_="chip4-play").assert_empty()
    assert button(rc, "run").disabled and button(rc, "step").disabled

    wait_until(lambda: week(rc) >= 2, what="Play to advance two weeks")
    button(rc, "pause").click()
    rc.find(v.Btn, class_="chip4-play").wait_for(timeout=TIMEOUT)
    rc.find(v.Btn, class_="chip4-pause").assert_empty()
    settle()     # the play loop ends (a frame in progress at the click may still complete)
    paused_at = week(rc)
    assert 2 <= paused_at < 60
    time.sleep(4 * PLAY_INTERVAL_S)   # several frames' worth of time: nothing may happen
    assert week(rc) == paused_at
    assert not button(rc, "step").disabled and not button(rc, "run").disabled
    assert len(series(chart(rc, "loss"), "KOR")) == paused_at

    click(rc, "step")               # the buttons drive the same run again
    assert week(rc) == paused_at + 1


def test_play_runs_to_the_end_and_stops(explore):
    rc = explore
    set_input_int(rc, "Weeks", 6)
    set_speed(rc, "2")
    click(rc, "play")               # waits for the play loop to end by itself
    assert week(rc) == 6
    rc.find(v.Btn, class_="chip4-play").assert_single()
    assert button(rc, "play").disabled and button(rc, "run").disabled


def test_reset_while_playing_stops_at_week_zero(explore):
    rc = explore
    set_input_int(rc, "Weeks", 60)
    button(rc, "play").click()
    wait_until(lambda: week(rc) >= 1, what="Play to advance")
    click(rc, "reset")              # waits for the play loop to end
    assert week(rc) == 0
    rc.find(v.Btn, class_="chip4-play").assert_single()
    time.sleep(4 * PLAY_INTERVAL_S)
    assert week(rc) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_reset_while_the_play_thread_renders(monkeypatch):
    """Pins one interleaving that happens by chance in a browser (and in the test above, about
    one run in five here): Reset is clicked while the play thread renders the charts."""
    _, rc = solara.render(Explore(), handle_error=False)
    try:
        settle()
        _reset_while_the_play_thread_renders(rc, monkeypatch)
    finally:
        rc.close()                  # inside the test: with the bug, closing fails as well
        settle()


def _reset_while_the_play_thread_renders(rc, monkeypatch):
    set_input_int(rc, "Weeks", 60)
    in_render, mid_reset, render_done = (threading.Event() for _ in range(3))
    real_loss, real_recorder = charts_module.loss_option, session_module.Recorder
    recorders = []

    def loss_option(session, *args):    # the play thread's render, just before the loss chart
        if threading.current_thread() is not threading.main_thread() and not in_render.is_set():
            in_render.set()
            mid_reset.wait(10)
            try:
                return real_loss(session, *args)
            finally:
                render_done.set()
        return real_loss(session, *args)

    def recorder(model, steps):         # Session.reset(), between cf_model and cf_rec
        rec = real_recorder(model, steps)
        if in_render.is_set() and threading.current_thread() is threading.main_thread():
            recorders.append(rec)
            if len(recorders) == 2:
                mid_reset.set()
                render_done.wait(10)
        return rec

    monkeypatch.setattr(charts_module, "loss_option", loss_option)
    monkeypatch.setattr(session_module, "Recorder", recorder)
    button(rc, "play").click()
    assert in_render.wait(TIMEOUT)
    click(rc, "reset")
    assert render_done.is_set()
    assert errors(rc) == []
    assert week(rc) == 0


# --- 4. the charts follow the run -------------------------------------------------------------
def test_charts_follow_the_shock_and_match_an_independent_session(explore):
    rc = explore
    set_input_int(rc, "Weeks", 30)
    colours_0 = node_colours(rc)
    click(rc, "step")
    colours_1 = node_colours(rc)
    click(rc, "run")
    assert week(rc) == 30
    colours_30 = node_colours(rc)
    assert len(colours_0) == len(colours_1) == len(colours_30) > 50
    assert colours_1 == colours_0          # nothing has happened in week 1
    changed = sum(a != b for a, b in zip(colours_1, colours_30, strict=True))
    assert changed >= 5, changed            # the shock has travelled through the network

    # the same scenario, stepped outside the page
    s = Session(edit(load_scenario("kor-aligns-collective"), {"steps": 30}))
    assert s.step(30) == 30
    rec, countries = s.result().rec, list(s.model.graph.countries)
    i = countries.index("KOR")
    expected = 100.0 * (1 - rec.output[29, i] / s.model.x0_country[i])   # output loss (default)
    kor = series(chart(rc, "loss"), "KOR")
    assert len(kor) == 30
    assert kor[-1][0] == 30
    assert kor[-1][1] == pytest.approx(expected, rel=1e-3)
    assert kor[-1][1] != 0
    net = s.result().summary["countries"]["KOR"]["net_loss_pct"]
    assert f"KOR net loss {net:.4f}% of GDP" in readout(rc)
    assert verdict(rc) == s.verdict()


def test_colour_by_utilisation_changes_the_network(explore):
    rc = explore
    before = node_colours(rc)
    toggle(rc, ["shortfall", "utilisation"], "utilisation")
    assert node_colours(rc) != before


# --- 5. editing a control restarts the run ---------------------------------------------------
def test_switching_off_a_rule_restarts_and_changes_the_download(explore):
    rc = explore
    set_input_int(rc, "Weeks", 30)
    click(rc, "step")
    assert week(rc) == 1
    before = tomllib.loads(download(rc, ".toml").decode())
    assert "counter_retaliation" in [r["type"] for r in before["rules"]]

    assert rc.find(v.Switch, label=RULE_LABELS["counter_retaliation"]).widget.v_model is True
    switch(rc, RULE_LABELS["counter_retaliation"], False)
    assert notices(rc) == ["Settings changed: the run restarted at week 0."]
    assert week(rc) == 0 and steps(rc) == 30
    text = download(rc, ".toml").decode()
    assert "counter_retaliation" not in text
    after = tomllib.loads(text)
    assert [r["type"] for r in after["rules"]] == ["market_absorption", "input_sharing",
                                                   "compensation_fund"]
    assert after["steps"] == 30
    assert rc.find(v.Switch, label=RULE_LABELS["counter_retaliation"]).widget.v_model is False
    # its sliders are gone with it
    assert len(rc.find(v.Slider, label="Commitment").widgets) == 3


def test_changing_the_target_retargets_the_run(explore):
    rc = explore
    set_input_int(rc, "Weeks", 30)
    click(rc, "step")
    select(rc, TARGET_LABEL, "JPN")
    assert notices(rc) == ["Settings changed: the run restarted at week 0."]
    assert week(rc) == 0
    click(rc, "step")
    assert week(rc) == 1
    assert "JPN net loss" in readout(rc) and "KOR" not in readout(rc)
    assert [s["name"] for s in chart(rc, "loss")["series"]][-1] == "JPN without rules"
    saved = tomllib.loads(download(rc, ".toml").decode())
    assert saved["target"] == "JPN"
    assert {e["member"] for e in saved["events"] if e["type"] == "join_controls"} == {"JPN"}


# --- 6. invalid values ------------------------------------------------------------------------
def test_invalid_value_shows_message_and_keeps_the_run(explore):
    rc = explore
    click(rc, "step")
    set_input_int(rc, "Weeks", 0)
    errs = errors(rc)
    assert len(errs) == 1 and "\n" not in errs[0]
    assert errs[0].startswith("kor-aligns-collective.toml: steps: ")
    assert "(got 0)" in errs[0]
    assert readout(rc).startswith("Week 1 of 156")    # the last good run, where it was
    assert "steps = 156" in download(rc, ".toml").decode()
    click(rc, "step")                                   # the page keeps working
    assert readout(rc).startswith("Week 2 of 156")
    set_input_int(rc, "Weeks", 12)                      # a good value clears the message
    assert not errors(rc)
    assert readout(rc).startswith("Week 0 of 12")


def test_rejected_value_does_not_stay_in_its_control(explore):
    rc = explore
    set_input_int(rc, "Weeks", 0)
    assert errors(rc)
    select(rc, BUILTIN_LABEL, "thaad-2017")
    assert readout(rc).startswith("Week 0 of 156")
    assert rc.find(v.TextField, label="Weeks").widget.v_model == "156"


# --- 7. uploads -------------------------------------------------------------------------------
def test_upload_valid_then_malformed_keeps_the_last_good_run(explore):
    rc = explore
    upload(rc, "mine.toml", thaad_text("my-thaad", 20).encode())
    assert notices(rc) == ["Loaded mine.toml."]
    assert not errors(rc)
    assert readout(rc).startswith("Week 0 of 20")
    assert "(without rules" not in readout(rc)
    assert "my-thaad" in markdown(rc) and "tourism and consumer boycott" in markdown(rc)
    assert rc.find(v.Select, label=BUILTIN_LABEL).widget.v_model is None
    assert download_names(rc)[0] == "my-thaad.toml"
    click(rc, "step")
    assert week(rc) == 1

    upload(rc, "bad.toml", b"name = [oops\n")
    errs = errors(rc)
    assert len(errs) == 1
    assert errs[0].startswith("bad.toml: toml: not valid TOML")
    assert readout(rc).startswith("Week 1 of 20")      # kept, where it was
    assert "my-thaad" in markdown(rc)

    unknown = thaad_text("other", 20).replace("seed = 1", "seed = 1\nbogus = 3")
    upload(rc, "unknown.toml", unknown.encode())
    assert errors(rc) and errors(rc)[0].startswith("unknown.toml: bogus: unknown key")
    assert readout(rc).startswith("Week 1 of 20")
    assert "my-thaad" in markdown(rc) and "other" not in markdown(rc)

    bad_value = thaad_text("other", 20).replace("intensity = 0.6", "intensity = 7")
    upload(rc, "value.toml", bad_value.encode())
    assert errors(rc)[0].startswith("value.toml: shocks[0].")
    assert "intensity" in errors(rc)[0] and "(got 7)" in errors(rc)[0]
    assert readout(rc).startswith("Week 1 of 20")

    click(rc, "step")
    assert week(rc) == 2


def test_upload_of_binary_garbage_is_a_message(explore):
    rc = explore
    upload(rc, "picture.toml", b"\xff\xd8\xff\xe0 not text")
    assert errors(rc) == ["picture.toml: file: not a UTF-8 text file"]
    assert readout(rc).startswith("Week 0 of 156")


def test_uploading_the_same_file_again_reloads_it(explore):
    rc = explore
    content = thaad_text("my-thaad", 20).encode()
    upload(rc, "mine.toml", content)
    set_input_int(rc, "Weeks", 10)
    assert readout(rc).startswith("Week 0 of 10")
    upload(rc, "mine.toml", content)
    assert readout(rc).startswith("Week 0 of 20")


def test_download_names_match_the_reproduce_line(explore):
    rc = explore
    upload(rc, "mine.toml", thaad_text("my thaad/2", 20).encode())
    header = download(rc, ".toml").decode().splitlines()[1]
    assert header == "# Reproduce with: chip4 run my-thaad-2.toml"
    assert download_names(rc)[0] == "my-thaad-2.toml"


# --- 8. built-in scenarios and the comparison tab ---------------------------------------------
def test_builtin_select_and_comparison_without_rules(explore):
    rc = explore
    open_tab(rc, "With vs without rules")
    assert not any(NO_RULES_INFO in t for t in infos(rc))
    assert "network-no_rules" in chart_names(rc)
    click(rc, "step")

    select(rc, BUILTIN_LABEL, "thaad-2017")
    assert notices(rc) == ["Loaded the built-in scenario thaad-2017."]
    assert readout(rc).startswith("Week 0 of 156")
    assert "thaad-2017" in markdown(rc)
    assert "(without rules" not in readout(rc)
    assert [i for i in infos(rc) if NO_RULES_INFO in i] == [
        "This scenario has no collective-resilience rules: switch some on in the settings "
        "to compare."]
    assert "network-no_rules" not in chart_names(rc)
    assert "comparison" in chart_names(rc)
    assert all(not rc.find(v.Switch, label=label).widget.v_model
               for label in RULE_LABELS.values())
    assert download_names(rc)[0] == "thaad-2017.toml"

    click(rc, "step")
    click(rc, "step")
    click(rc, "step")
    assert week(rc) == 3
    assert "No collective-resilience rules are in force." in verdict(rc)
    assert readout(rc).startswith("Week 3 of 156 · China's retaliation intensity 0.")
    assert "intensity 0.00" not in readout(rc)           # the boycott began in week 2

    # a rule switched on brings the comparison back
    switch(rc, RULE_LABELS["compensation_fund"], True)
    assert not any(NO_RULES_INFO in t for t in infos(rc))
    assert "(without rules 0.0000%)" in readout(rc)
    assert "network-no_rules" in chart_names(rc)


# --- 9. sessions are independent --------------------------------------------------------------
def test_two_sessions_are_independent():
    _, rc1 = solara.render(Explore(), handle_error=False)
    _, rc2 = solara.render(Explore(), handle_error=False)
    settle()
    try:
        click(rc1, "step")
        assert week(rc1) == 1
        assert week(rc2) == 0
        select(rc2, TARGET_LABEL, "JPN")
        assert "JPN" in readout(rc2) and "KOR" in readout(rc1)
        assert week(rc1) == 1
        click(rc2, "step")
        click(rc2, "step")
        assert week(rc2) == 2 and week(rc1) == 1
        assert len(series(chart(rc1, "loss"), "KOR")) == 1
        assert notices(rc1) == [] and notices(rc2)
    finally:
        rc1.close()
        rc2.close()
        settle()


# --- 10. model errors -------------------------------------------------------------------------
def test_model_error_in_a_step_is_a_message(explore, monkeypatch):
    rc = explore
    click(rc, "step")

    def broken(self, n=1):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(session_module.Session, "step", broken)
    click(rc, "step")
    assert errors(rc) == ["RuntimeError: the engine broke"]
    assert week(rc) == 1
    monkeypatch.undo()

    click(rc, "step")
    assert week(rc) == 2
    click(rc, "reset")
    assert week(rc) == 0


def test_model_error_while_playing_stops_play(explore, monkeypatch):
    rc = explore
    set_input_int(rc, "Weeks", 40)
    real = session_module.Session.step
    calls = []

    def breaks_on_third(self, n=1):
        calls.append(n)
        if len(calls) == 3:
            raise RuntimeError("week three broke")
        return real(self, n)

    monkeypatch.setattr(session_module.Session, "step", breaks_on_third)
    click(rc, "play")               # waits for the play loop to end (here: by the error)
    assert errors(rc) == ["RuntimeError: week three broke"]
    rc.find(v.Btn, class_="chip4-play").assert_single()
    assert week(rc) == 2
    assert len(calls) == 3
    click(rc, "step")
    assert week(rc) == 3


def test_model_error_message_goes_once_the_model_steps_again(explore, monkeypatch):
    rc = explore

    def broken(self, n=1):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(session_module.Session, "step", broken)
    click(rc, "step")
    assert errors(rc)
    monkeypatch.undo()
    click(rc, "step")
    assert week(rc) == 1
    assert errors(rc) == []


def test_a_chart_that_fails_says_so_and_the_rest_of_the_page_works(monkeypatch):
    def broken(session, *args):
        raise ZeroDivisionError("no firms")

    monkeypatch.setattr(charts_module, "firms_option", broken)
    _, rc = solara.render(Explore(), handle_error=False)
    try:
        settle()
        click(rc, "step")
        assert week(rc) == 1
        assert "This chart failed: ZeroDivisionError: no firms" in chart(rc, "firms")["title"][
            "text"]
        assert series(chart(rc, "loss"), "KOR")   # the other charts still draw
    finally:
        rc.close()
        settle()
