"""``dashboard_step``: one step of the dashboard plus the redraw of every view it shows.

The issue's target: "a step plus redraw of all views on the default graph within 150 ms". The
page starts on the default scenario (``chip4model.dashboard.app.DEFAULT_SCENARIO``,
kor-aligns-collective: 156 weeks, its no-rules counterfactual stepped in lockstep) and a Step
advances one week (the page's default speed). Three cases, each in its own child process:

``views``
    In-process, no widgets: ``Session.step(1)`` and then every view the page builds after a
    step (:data:`PAGE_VIEWS`: the readout, the verdicts, every ECharts option of
    :mod:`chip4model.dashboard.charts` on the "Scenario run" tab the page opens on; the
    view tabs are lazy, so the hidden "With vs without rules" tab is not built),
    for each week 1..156 of several runs (``Session.reset()`` between them).
``render``
    In-process through Solara: ``solara.render(Page())``, then ``.click()`` on the Step button's
    widget, which steps the session and re-renders every component and updates every widget
    before it returns (the readout is checked after each click). The widgets' messages, which
    Solara drops outside a kernel, are serialized to JSON as the server would and counted.
    Wrapped timers split each click into the model step, building the views, and the rest
    (Solara/reacton, ipywidgets and the JSON of the messages).
``browser``
    End to end: a dashboard server on a free port, headless Chromium, and per step the time in
    the page (``performance.now()``) from the click on Step until the readout shows the next
    week, every visible chart has had its new option set, and two animation frames have passed
    (so the browser has painted). Also the WebSocket bytes the page received per step.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

from .common import ROOT, log, peak_rss_mb, stats

TARGET_MEDIAN_S = 0.150   # issue: a step plus redraw of all views within 150 ms
VIEWS_REPS = (3, 1)       # full, quick: runs of 156 weeks timed (after one warm-up run)
RENDER_CLICKS = (150, 40)
BROWSER_STEPS = (60, 20)
WARMUP_CLICKS = 3         # render and browser: steps before Reset and the timed steps
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}   # as the browser tests (tests/e2e)
ASSETS = Path(sys.prefix) / "share" / "solara" / "cdn"
NEEDED_ASSETS = ("@widgetti/solara-vuetify-app@10.1.1", "requirejs@2.3.6", "echarts@5.4.0")
# Chrome's counters of the page's main thread (CDP Performance.getMetrics), seconds: all tasks,
# of which layout and style recalculation (its ScriptDuration counts far less than the time
# measured around ECharts' setOption alone, so it is left out)
PAGE_METRICS = ("TaskDuration", "LayoutDuration", "RecalcStyleDuration")
SERVER_START_TIMEOUT_S = 180
PAGE_TIMEOUT_S = 120
STEP_TIMEOUT_S = 60

# What the page (chip4model/dashboard/app.py, views.py) builds after a step, in page order:
# (label, component that builds it). The view tabs are lazy: only the "Scenario run" tab the
# page opens on is built.
PAGE_VIEWS = (
    ("readout", "Readout"),
    ("verdict", "Verdict, Scenario run tab"),
    ("network with rules", "NetworkView, Scenario run tab"),
    ("loss", "PathViews"),
    ("intensity", "PathViews"),
    ("alignment", "PathViews"),
    ("firms", "PathViews"),
)


def _view_functions() -> list:
    """One callable of the session per entry of :data:`PAGE_VIEWS`, as the page calls it."""
    from chip4model.dashboard import charts, views

    fns = {
        "readout": views.readout,
        "verdict": lambda s: s.verdict(),
        "network with rules": lambda s: charts.network_option(s, "shortfall", "rules"),
        "loss": charts.loss_option,
        "intensity": charts.intensity_option,
        "alignment": charts.alignment_option,
        "firms": charts.firms_option,
    }
    return [fns[name] for name, _ in PAGE_VIEWS]


def _graph_info(session) -> dict:
    from chip4model.dashboard.charts import network_edges

    g = session.model.graph
    return {"nodes": int(g.n_nodes), "edges": int(g.n_edges),
            "edges_drawn": int(len(network_edges(g)))}


def _by_week(times: list[float], weeks: list[int]) -> list[dict]:
    """Median of ``times`` over each third of the weeks they were measured at: the series
    charts gain a point a week, so a step costs more late in a run."""
    lo, hi = min(weeks), max(weeks)
    edges = [lo + round(k * (hi - lo + 1) / 3) for k in range(4)]
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        sel = [x for x, w in zip(times, weeks, strict=True) if a <= w < b]
        if sel:
            out.append({"weeks": f"{a}-{b - 1}", "median": stats(sel)["median"], "n": len(sel)})
    return out


def _result(case: str, st: dict, **extra) -> dict:
    return {"benchmark": "dashboard_step", "case": case, "time": st,
            "target": {"metric": "median", "limit_s": TARGET_MEDIAN_S},
            "pass": st["median"] <= TARGET_MEDIAN_S, **extra, "peak_rss_mb": peak_rss_mb()}


def _error(case: str, message: str, **extra) -> dict:
    return {"benchmark": "dashboard_step", "case": case, "error": message, "pass": False,
            "target": {"metric": "median", "limit_s": TARGET_MEDIAN_S}, **extra,
            "peak_rss_mb": peak_rss_mb()}


# --------------------------------------------------------------------------- views


def bench_views(quick: bool) -> dict:
    from chip4model.dashboard.app import DEFAULT_SCENARIO
    from chip4model.dashboard.session import Session
    from chip4model.scenario import load_scenario

    reps = VIEWS_REPS[1 if quick else 0]
    s = Session(load_scenario(DEFAULT_SCENARIO))
    fns = _view_functions()
    names = [name for name, _ in PAGE_VIEWS]
    cpu: list[float] = []   # CPU seconds of each step_and_draw()

    def step_and_draw() -> list[float]:
        cpu.append(time.process_time())
        marks = [time.perf_counter()]
        if s.step(1) != 1:
            raise RuntimeError(f"Session.step(1) did not advance at week {s.week}")
        marks.append(time.perf_counter())
        for fn in fns:
            fn(s)
            marks.append(time.perf_counter())
        cpu[-1] = time.process_time() - cpu[-1]
        return marks

    # cold: this process's first step (numba loads its cached kernels) and first views (the
    # network layout, computed once per graph)
    marks = step_and_draw()
    first_s = marks[-1] - marks[0]
    first_step_s = marks[1] - marks[0]

    def json_sizes() -> dict:
        return {name: len(json.dumps(fn(s)).encode()) for name, fn in zip(names, fns,
                                                                          strict=True)}

    # warm-up: the rest of the run, untimed; the size of each view as JSON at the first and
    # last week (the series grow by a point a week)
    payload = {"week 1": json_sizes()}
    while not s.done:
        step_and_draw()
    payload[f"week {s.week}"] = json_sizes()
    log(f"  dashboard_step views: first step + views {first_s * 1e3:.0f} ms; timing {reps} "
        f"x {s.steps} weeks")
    totals, steps, views, weeks = [], [], [], []
    parts = defaultdict(list)
    cpu.clear()
    for _ in range(reps):
        s.reset()
        while not s.done:
            marks = step_and_draw()
            weeks.append(s.week)
            totals.append(marks[-1] - marks[0])
            steps.append(marks[1] - marks[0])
            views.append(marks[-1] - marks[1])
            for name, a, b in zip(names, marks[1:-1], marks[2:], strict=True):
                parts[name].append(b - a)
    return _result(
        "views", stats(totals), cpu_time=stats(cpu), scenario=DEFAULT_SCENARIO,
        weeks=s.steps, reps=reps,
        graph=_graph_info(s), first_s=first_s, first_step_s=first_step_s,
        step_time=stats(steps), views_time=stats(views),
        parts={name: stats(v) for name, v in parts.items()},
        view_sources=dict(PAGE_VIEWS), json_bytes=payload, by_week=_by_week(totals, weeks))


# --------------------------------------------------------------------------- render


def _texts(widget) -> str:
    """The text in a widget and its children (strings among the ``children``)."""
    out = []
    for c in getattr(widget, "children", None) or ():
        out.append(c if isinstance(c, str) else _texts(c))
    return "".join(out)


class _Timers:
    """Wrap the functions the page calls per step with timers (about a microsecond each), so
    that a click can be split into the model step, building the views and the rest."""

    def __init__(self):
        self.step_s = self.views_s = 0.0
        self.calls: dict[str, int] = defaultdict(int)
        self._undo = []

    def _wrap(self, owner, attr: str, kind: str) -> None:
        fn = getattr(owner, attr)
        timers = self

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                if kind == "step":
                    timers.step_s += dt
                else:
                    timers.views_s += dt
                timers.calls[attr] += 1

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, fn))

    def install(self) -> None:
        from chip4model.dashboard import charts, views
        from chip4model.dashboard.session import Session

        self._wrap(Session, "step", "step")
        self._wrap(Session, "verdict", "views")
        self._wrap(views, "readout", "views")
        for name in ("network_option", "loss_option", "intensity_option", "alignment_option",
                     "firms_option", "comparison_option"):
            self._wrap(charts, name, "views")

    def reset(self) -> None:
        self.step_s = self.views_s = 0.0
        self.calls.clear()


def _serialize_messages() -> dict | None:
    """Make the widgets' messages cost what they cost on the server: out of a kernel, Solara
    gives each widget a ``DummyComm`` that drops them; have it serialize each one to JSON (as
    the server does before sending it) and count them. None if comm is set up otherwise."""
    import solara.comm

    if not hasattr(solara.comm.DummyComm, "publish_msg"):
        return None
    sent = {"messages": 0, "bytes": 0}

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        sent["messages"] += 1
        sent["bytes"] += len(json.dumps({"msg_type": msg_type, "content": {
            "comm_id": self.comm_id, "data": data}, "metadata": metadata or {}}).encode())

    solara.comm.DummyComm.publish_msg = publish_msg
    return sent


def bench_render(quick: bool) -> dict:
    import ipyvuetify as v
    import solara

    from chip4model.dashboard.app import DEFAULT_SCENARIO, Page

    n = RENDER_CLICKS[1 if quick else 0]
    sent = _serialize_messages()
    timers = _Timers()
    timers.install()
    t0 = time.perf_counter()
    _, rc = solara.render(Page(), handle_error=False)
    render_s = time.perf_counter() - t0

    def button(cls: str):
        b = rc.find(v.Btn, class_=cls)
        b.assert_single()
        return b.widget

    def readout() -> str:
        r = rc.find(class_="chip4-readout")
        r.assert_single()
        return _texts(r.widget)

    first = readout()
    if not first.startswith("Week 0 of "):
        raise RuntimeError(f"unexpected readout before any step: {first!r}")
    weeks = int(first.split()[3])
    t0 = time.perf_counter()
    button("chip4-step").click()
    first_click_s = time.perf_counter() - t0
    for _ in range(WARMUP_CLICKS - 1):
        button("chip4-step").click()
    button("chip4-reset").click()
    if not readout().startswith(f"Week 0 of {weeks} "):
        raise RuntimeError(f"Reset did not go back to week 0: {readout()!r}")
    log(f"  dashboard_step render: first render {render_s * 1e3:.0f} ms, first click "
        f"{first_click_s * 1e3:.0f} ms; timing {n} clicks on Step")
    times, cpu, step_s, views_s, calls, messages, nbytes = [], [], [], [], [], [], []
    for i in range(1, n + 1):
        btn = button("chip4-step")
        timers.reset()
        m0, b0 = (sent["messages"], sent["bytes"]) if sent else (0, 0)
        c0 = time.process_time()
        t0 = time.perf_counter()
        btn.click()  # runs the handler, the re-render and the widget updates before returning
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        step_s.append(timers.step_s)
        views_s.append(timers.views_s)
        calls.append(dict(timers.calls))
        if sent:
            messages.append(sent["messages"] - m0)
            nbytes.append(sent["bytes"] - b0)
        text = readout()
        if not text.startswith(f"Week {i} of {weeks} "):
            raise RuntimeError(f"after click {i} the readout says {text!r}: the re-render did "
                               "not happen inside click()")
    rest = [a - b - c for a, b, c in zip(times, step_s, views_s, strict=True)]
    return _result(
        "render", stats(times), cpu_time=stats(cpu), scenario=DEFAULT_SCENARIO, weeks=weeks,
        clicks=n,
        warmup_clicks=WARMUP_CLICKS, first_render_s=render_s, first_s=first_click_s,
        step_time=stats(step_s), views_time=stats(views_s), rest_time=stats(rest),
        by_week=_by_week(times, list(range(1, n + 1))),
        calls_per_step=calls[-1], reacton_fast=os.environ.get("REACTON_FAST") == "1",
        messages=stats(messages) if messages else None,
        message_bytes=stats(nbytes) if nbytes else None)


# --------------------------------------------------------------------------- browser

# Installed once the charts have drawn: wrap each visible chart's setOption (the echarts.vue
# watcher calls it when a new option arrives) to count calls and note the time of the last.
_HOOK_JS = """() => {
  const els = [...document.querySelectorAll('.solara-echarts')]
      .filter(e => e.offsetParent !== null && e.__vue__ && e.__vue__.chart);
  const B = window.__chip4bench = {charts: [], onset: null};
  for (const el of els) {
    const chart = el.__vue__.chart, c = {name: el.className, n: 0, t: 0, ms: 0};
    const orig = chart.setOption;
    chart.setOption = function (...args) {
      const t = performance.now();
      const r = orig.apply(this, args);
      c.n += 1; c.t = performance.now(); c.ms += c.t - t;
      if (B.onset) B.onset();
      return r;
    };
    B.charts.push(c);
  }
  return B.charts.map(c => c.name);
}"""

# One step, timed in the page: click Step; wait until the readout shows the next week and every
# hooked chart has had setOption called since the click; then two animation frames (the second
# runs after the frame that painted the new state). Resolves to milliseconds since the click.
_STEP_JS = """([cls, timeoutMs]) => new Promise((resolve, reject) => {
  const B = window.__chip4bench;
  const ro = () => document.querySelector('.chip4-readout');
  const m = ro().textContent.match(/Week (\\d+) of (\\d+)/);
  const want = 'Week ' + (Number(m[1]) + 1) + ' of ' + m[2] + ' ';
  const n0 = B.charts.map(c => c.n), ms0 = B.charts.map(c => c.ms);
  let t0 = null, tReadout = null, waiting = true, obs = null, timer = null;
  const stop = () => { waiting = false; B.onset = null; obs.disconnect(); clearTimeout(timer); };
  const check = () => {
    if (!waiting) return;
    const r = ro();
    if (tReadout === null && r && r.textContent.startsWith(want)) tReadout = performance.now();
    if (tReadout === null || !B.charts.every((c, i) => c.n > n0[i])) return;
    stop();
    const tCharts = Math.max(...B.charts.map(c => c.t));
    requestAnimationFrame(() => requestAnimationFrame(() => resolve(
        {total: performance.now() - t0, readout: tReadout - t0, charts: tCharts - t0,
         set_option: B.charts.map((c, i) => c.ms - ms0[i])})));
  };
  obs = new MutationObserver(check);
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
  B.onset = check;
  timer = setTimeout(() => {
    if (!waiting) return;
    stop();
    reject(new Error('no redraw within ' + timeoutMs + ' ms: readout '
        + JSON.stringify(ro() && ro().textContent) + ', new setOption calls per chart '
        + JSON.stringify(B.charts.map((c, i) => c.n - n0[i]))));
  }, timeoutMs);
  t0 = performance.now();
  document.querySelector(cls).click();
})"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's process, before it execs: have Linux send it SIGTERM when the
    benchmark's process dies, even by SIGKILL (the parent kills a child that overruns), so that
    no server outlives the case."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _server_command(port: int) -> tuple[list[str], str]:
    """``chip4 app`` when the CLI has it, else the ``solara run`` it wraps."""
    import chip4model.cli as cli

    if hasattr(cli, "cmd_app"):
        return ([sys.executable, "-m", "chip4model.cli", "app", "--port", str(port)],
                f"chip4 app --port {port}")
    cmd = [sys.executable, "-m", "solara", "run", "chip4model.dashboard.app", "--host",
           "127.0.0.1", "--port", str(port), "--production", "--no-open", "--no-check-version"]
    return cmd, " ".join(["solara", *cmd[3:]])


class _Server:
    """The dashboard server of the browser case; :meth:`stop` always ends it."""

    def __init__(self, log_path: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd, self.label = _server_command(self.port)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.peak_rss_mb: float | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", SOLARA_ASSETS_PROXY_CACHE_DIR=str(ASSETS),
                   SOLARA_TELEMETRY_MIXPANEL_ENABLE="false")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: "
                                   f"{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=10) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the server did not answer within {SERVER_START_TIMEOUT_S} s: "
                           f"{self.tail()}")

    def cpu_s(self) -> float | None:
        """CPU seconds the server has used so far (user + system, from /proc)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, AttributeError, IndexError, ValueError):
            return None

    def read_peak_rss(self) -> None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_mb = int(line.split()[1]) / 1024.0
        except (OSError, AttributeError):
            pass

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _browser_missing() -> str | None:
    """Why the browser case cannot run here, or None."""
    missing = [a for a in NEEDED_ASSETS if not (ASSETS / a).is_dir()]
    if missing:
        return (f"the dashboard's front-end assets are not in {ASSETS} (missing "
                f"{', '.join(missing)}): 'make test' (or 'make assets') installs them")
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: 'make test' (or 'make browser') installs Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed in this environment: 'make test' installs it"
    return None


def bench_browser(quick: bool) -> dict:
    missing = _browser_missing()
    if missing:
        return _error("browser", missing)
    from playwright.sync_api import sync_playwright

    n = BROWSER_STEPS[1 if quick else 0]
    with tempfile.TemporaryDirectory(prefix="chip4bench-app-") as tmp:
        server = _Server(Path(tmp) / "server.log")
        try:
            server.start()
            res = _drive(server, n, sync_playwright)
            server.read_peak_rss()
        except Exception as exc:
            log(f"  dashboard_step browser: {type(exc).__name__}: {exc}")
            return _error("browser", f"{type(exc).__name__}: {exc}"[:600],
                          server=server.label)
        finally:
            server.stop()
    return res | {"server": server.label, "server_peak_rss_mb": server.peak_rss_mb}


def _drive(server: _Server, n: int, sync_playwright) -> dict:
    frames = {"n": 0, "bytes": 0, "sizes": []}

    def on_frame(payload) -> None:
        size = len(payload.encode()) if isinstance(payload, str) else len(payload)
        frames["n"] += 1
        frames["bytes"] += size
        frames["sizes"].append(size)

    blocked = []

    def route(r) -> None:   # serve the page from this machine only, as the tests require
        host = r.request.url.split("/")[2].split(":")[0] if "://" in r.request.url else ""
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort("blockedbyclient")

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.context.route("**/*", route)
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            t0 = time.perf_counter()
            page.goto(server.url + "/", timeout=PAGE_TIMEOUT_S * 1000)
            page.wait_for_selector(".chip4-readout", timeout=PAGE_TIMEOUT_S * 1000)
            page.wait_for_function(
                """() => { const els = [...document.querySelectorAll('.solara-echarts')]
                            .filter(e => e.offsetParent !== null);
                           return els.length > 0 && els.every(e => e.querySelector('canvas')
                                  && e.__vue__ && e.__vue__.chart); }""",
                timeout=PAGE_TIMEOUT_S * 1000)
            load_s = time.perf_counter() - t0
            page.wait_for_timeout(500)   # let the first draw settle
            charts = page.evaluate(_HOOK_JS)
            weeks = int(page.inner_text(".chip4-readout").split()[3])

            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")

            def metrics() -> dict:
                return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")
                        ["metrics"] if m["name"] in PAGE_METRICS}

            def step() -> dict:
                n0, b0 = frames["n"], frames["bytes"]
                k0 = len(frames["sizes"])
                m0 = metrics()
                ms = page.evaluate(_STEP_JS, [".chip4-step", STEP_TIMEOUT_S * 1000])
                page.wait_for_timeout(30)   # frames still arriving belong to this step
                m1 = metrics()
                return ms | {"frames": frames["n"] - n0, "bytes": frames["bytes"] - b0,
                             "sizes": frames["sizes"][k0:],
                             "page": {k: m1[k] - m0[k] for k in m1 if k in m0}}

            first = step()
            for _ in range(WARMUP_CLICKS - 1):
                step()
            page.click(".chip4-reset")
            page.wait_for_function(
                "w => document.querySelector('.chip4-readout').textContent.startsWith(w)",
                arg=f"Week 0 of {weeks} ", timeout=STEP_TIMEOUT_S * 1000)
            page.wait_for_timeout(500)
            log(f"  dashboard_step browser ({server.label}): page ready in {load_s:.1f} s, "
                f"{len(charts)} charts visible, first step {first['total']:.0f} ms; timing "
                f"{n} steps")
            cpu0 = server.cpu_s()
            steps = [step() for _ in range(n)]
            cpu1 = server.cpu_s()
            text = page.inner_text(".chip4-readout")
            if not text.startswith(f"Week {n} of {weeks} "):
                raise RuntimeError(f"after {n} steps the readout says {text!r}")
        finally:
            browser.close()
    finally:
        pw.stop()
    sec = [s["total"] / 1e3 for s in steps]
    chart_names = [c.replace("solara-echarts chip4-chart ", "").replace("chip4-chart-", "")
                   for c in charts]
    # a typical step: the median number of frames, and of those the median bytes
    nf = round(stats([s["frames"] for s in steps])["median"])
    typical = sorted((s for s in steps if s["frames"] == nf), key=lambda s: s["bytes"]) or steps
    mid = typical[len(typical) // 2]
    return _result(
        "browser", stats(sec), weeks=weeks, steps=n, warmup_clicks=WARMUP_CLICKS,
        by_week=_by_week(sec, list(range(1, n + 1))),
        page_load_s=load_s, first_s=first["total"] / 1e3, charts_visible=len(charts),
        chart_names=chart_names,
        readout_time=stats([s["readout"] / 1e3 for s in steps]),
        charts_time=stats([s["charts"] / 1e3 for s in steps]),
        set_option_time={name: stats([s["set_option"][i] / 1e3 for s in steps])
                         for i, name in enumerate(chart_names)},
        ws_frames=stats([s["frames"] for s in steps]),
        ws_bytes=stats([s["bytes"] for s in steps]),
        ws_frame_sizes_median_step=sorted(mid["sizes"], reverse=True),
        page_main_thread={k: stats([s["page"][k] for s in steps if k in s["page"]])
                          for k in PAGE_METRICS},
        server_cpu_per_step_s=(cpu1 - cpu0) / n if cpu0 is not None and cpu1 is not None
        else None,
        blocked_requests=len(blocked))


def bench_dashboard_step(case: str, quick: bool) -> dict:
    if case == "views":
        return bench_views(quick)
    if case == "render":
        return bench_render(quick)
    if case == "browser":
        return bench_browser(quick)
    raise ValueError(f"unknown dashboard_step case {case!r}")
