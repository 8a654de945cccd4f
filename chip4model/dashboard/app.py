"""The chip4model dashboard page (Solara).

An analyst picks who China targets and how, switches the collective-resilience rules on and
off, and watches the shock travel through the supply chain, China's choice, the members'
alignment and who pays, beside the same scenario and seed without the rules. A second tab
opens the results of ``chip4 sweep``.

Each browser tab renders its own :func:`Page`, so it holds its own scenario and
:class:`~.session.Session`: two tabs never share state. Bad input (an invalid value, a
malformed upload, a model error) is shown as a message and leaves the last good run as it was.

Start with ``chip4 app`` or ``solara run app.py``; it listens on http://127.0.0.1:8765.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

import solara
import solara.lab
import solara.server.settings

from ..errors import InputError
from ..scenario import Scenario, load_scenario
from .controls import Settings
from .session import Session, parse_scenario_toml
from .sweeps import SweepResults
from .views import ComparisonView, NetworkView, PathViews, Readout, Verdict

# The page works offline: no usage telemetry from Solara (checked per event, so this also holds
# under a plain ``solara run app.py``; ``chip4 app`` sets it in the environment as well).
solara.server.settings.telemetry.mixpanel_enable = False

DEFAULT_SCENARIO = "kor-aligns-collective"
PLAY_INTERVAL_S = 0.25   # pause between frames while playing
SPEEDS = ["1", "2", "4", "8"]  # weeks per frame


def _message(exc: Exception) -> str:
    """One line for the page: the InputError as the CLI prints it, else the exception."""
    if isinstance(exc, InputError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


class Run:
    """A session plus the lock that keeps the play thread and the buttons from stepping it at
    the same time."""

    def __init__(self, session: Session):
        self.session = session
        self.lock = threading.Lock()

    def step(self, n: int) -> int:
        with self.lock:
            return self.session.step(n)

    def reset(self) -> None:
        with self.lock:
            self.session.reset()


@solara.component
def Player(run: Run, week: int, playing: solara.Reactive[bool], speed: solara.Reactive[str],
           on_change: Callable[[], None], on_error: Callable[[str], None]):
    """Run, Step, Play/Pause, Reset, and how many weeks a frame advances."""
    s = run.session

    def guarded(fn):
        def go():
            try:
                fn()
            except Exception as exc:   # never let a model error take the page down
                traceback.print_exc()
                on_error(_message(exc))
            on_change()
        return go

    busy = s.done or playing.value
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.Button("Run", icon_name="mdi-fast-forward", color="primary", disabled=busy,
                      classes=["chip4-run"], on_click=guarded(lambda: run.step(s.steps)))
        solara.Button("Step", icon_name="mdi-step-forward", disabled=busy,
                      classes=["chip4-step"], on_click=guarded(lambda: run.step(int(speed.value))))
        if playing.value:
            solara.Button("Pause", icon_name="mdi-pause", classes=["chip4-pause"],
                          on_click=lambda: playing.set(False))
        else:
            solara.Button("Play", icon_name="mdi-play", disabled=s.done, classes=["chip4-play"],
                          on_click=lambda: playing.set(True))
        solara.Button("Reset", icon_name="mdi-restore", classes=["chip4-reset"],
                      on_click=guarded(lambda: (playing.set(False), run.reset())))
        solara.ToggleButtonsSingle(value=speed, values=SPEEDS, dense=True)
        solara.Text("weeks per step", style={"font-size": "0.85em", "color": "#666"})


def use_play_loop(run: Run, playing: solara.Reactive[bool], speed: solara.Reactive[str],
                  on_change: Callable[[], None], on_error: Callable[[str], None]) -> None:
    """While ``playing``, step the run a frame at a time in a thread and redraw after each."""

    def loop(cancel: threading.Event):
        if not playing.value:
            return
        try:
            while not cancel.is_set() and not run.session.done:
                run.step(int(speed.value))
                on_change()
                cancel.wait(PLAY_INTERVAL_S)
        except Exception as exc:
            traceback.print_exc()
            on_error(_message(exc))
        playing.set(False)

    solara.use_thread(loop, dependencies=[playing.value, run], intrusive_cancel=False)


@solara.component
def Downloads(run: Run, week: int):
    """The settings as a scenario TOML (``chip4 run`` reproduces it) and the results as CSV."""
    s = run.session
    name = s.scenario.name or "scenario"
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.FileDownload(s.to_toml, filename=f"{name}.toml", label="Scenario TOML",
                            mime_type="application/toml")
        solara.FileDownload(s.to_csv, filename=f"{name}-week{s.week}.csv",
                            label="Results CSV", mime_type="text/csv")
        solara.Text(f"chip4 run {name}.toml reproduces this run at week {s.steps}.",
                    style={"font-size": "0.8em", "color": "#666"})


@solara.component
def Explore():
    """Settings on the left; the run, its views and the comparison on the right."""
    first = solara.use_memo(lambda: Run(Session(load_scenario(DEFAULT_SCENARIO))), [])
    scenario = solara.use_reactive(first.session.scenario)
    builtin = solara.use_reactive(DEFAULT_SCENARIO)
    error = solara.use_reactive(None)
    notice = solara.use_reactive(None)
    run = solara.use_reactive(first)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive("1")
    tick = solara.use_reactive(0)

    def redraw():
        tick.set(tick.value + 1)

    def start(s: Scenario, what: str | None = None, name: str | None = None) -> None:
        """Validate ``s``, build its models, and make it the page's run; else show why not."""
        try:
            new = Run(Session(s))
        except Exception as exc:
            error.set(_message(exc))
            return
        playing.set(False)
        scenario.set(s)
        run.set(new)
        if name is not None:
            builtin.set(name)
        error.set(None)
        notice.set(what)

    def on_edit(fn: Callable[[Scenario], Scenario]) -> None:
        try:
            s = fn(scenario.value)
        except Exception as exc:
            error.set(_message(exc))
            return
        start(s, "Settings changed: the run restarted at week 0.")

    def on_builtin(name: str) -> None:
        if name:
            try:
                s = load_scenario(name)
            except Exception as exc:
                error.set(_message(exc))
                return
            start(s, f"Loaded the built-in scenario {name}.", name)

    def on_upload(filename: str, content: bytes) -> None:
        try:
            s = parse_scenario_toml(content, filename)
        except Exception as exc:
            error.set(_message(exc))
            return
        start(s, f"Loaded {filename}.", "")

    use_play_loop(run.value, playing, speed, redraw, error.set)
    session = run.value.session
    _ = tick.value   # a step bumps it: re-render

    with solara.Columns([1, 3]):
        with solara.Column(classes=["chip4-settings"]):
            Settings(scenario.value, builtin.value, on_builtin, on_upload, on_edit)
        with solara.Column():
            if error.value:
                solara.Error(error.value, classes=["chip4-error"], dense=True)
            elif notice.value:
                solara.Info(notice.value, dense=True, classes=["chip4-notice"])
            week = session.week
            Player(run.value, week, playing, speed, redraw, error.set)
            Readout(session, week)
            with solara.lab.Tabs():
                with solara.lab.Tab("Scenario run"):
                    Verdict(session, week)
                    NetworkView(session, week, "rules")
                    PathViews(session, week)
                with solara.lab.Tab("With vs without rules"):
                    ComparisonView(session, week)
            Downloads(run.value, week)


@solara.component
def Page():
    solara.Title("chip4model")
    with solara.AppBarTitle():
        solara.Text("chip4model: the Chip 4 alliance under Chinese retaliation")
    with solara.lab.Tabs():
        with solara.lab.Tab("Explore a scenario"):
            Explore()
        with solara.lab.Tab("Sweep results"):
            SweepResults()
