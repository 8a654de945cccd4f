"""The chip4model dashboard page (Solara).

An analyst picks who China targets and how, switches the collective-resilience rules on and
off, and watches the shock travel through the supply chain, China's choice, the members'
alignment and who pays, beside the same scenario and seed without the rules. A second tab
opens the results of ``chip4 sweep``.

Each browser tab renders its own :func:`Page`, so it holds its own scenario and
:class:`~.session.Session`: two tabs never share state. Within a tab, the Play thread and the
buttons share the session, which serialises its steps and results with a lock. Bad input (an
invalid value, a malformed upload, a model error) is shown as a message and leaves the last
good run as it was.

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
from .session import Session, caveats, file_stem, parse_scenario_toml
from .sweeps import SweepResults
from .views import ComparisonView, NetworkView, PathViews, Readout, Verdict

# The page works offline: no usage telemetry from Solara (checked per event, so this also holds
# under a plain ``solara run app.py``; ``chip4 app`` sets it in the environment as well).
solara.server.settings.telemetry.mixpanel_enable = False
solara.server.settings.theme.show_banner = False   # it would cover the lower-right chart

DEFAULT_SCENARIO = "kor-aligns-collective"
PLAY_INTERVAL_S = 0.25   # pause between frames while playing
SPEEDS = ["1", "2", "4", "8"]  # weeks per frame


def _message(exc: Exception) -> str:
    """One line for the page: the InputError as the CLI prints it, else the exception."""
    if isinstance(exc, InputError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


@solara.component
def Player(session: Session, week: int, playing: solara.Reactive[bool],
           speed: solara.Reactive[str], on_change: Callable[[], None],
           on_error: Callable[[str | None], None], on_reset: Callable[[], None]):
    """Run, Step, Play/Pause, Reset, and how many weeks a frame advances."""

    def guarded(fn):
        def go():
            on_error(None)
            try:
                fn()
            except Exception as exc:   # never let a model error take the page down
                traceback.print_exc()
                on_error(_message(exc))
            on_change()
        return go

    busy = session.done or playing.value
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.Button("Run", icon_name="mdi-fast-forward", color="primary", disabled=busy,
                      classes=["chip4-run"], on_click=guarded(session.run_to_end))
        solara.Button("Step", icon_name="mdi-step-forward", disabled=busy,
                      classes=["chip4-step"],
                      on_click=guarded(lambda: session.step(int(speed.value))))
        if playing.value:
            solara.Button("Pause", icon_name="mdi-pause", classes=["chip4-pause"],
                          on_click=lambda: playing.set(False))
        else:
            solara.Button("Play", icon_name="mdi-play", disabled=session.done,
                          classes=["chip4-play"], on_click=lambda: playing.set(True))
        solara.Button("Reset", icon_name="mdi-restore", classes=["chip4-reset"],
                      on_click=guarded(on_reset))
        solara.ToggleButtonsSingle(value=speed, values=SPEEDS, dense=True)
        solara.Text("weeks per step", style={"font-size": "0.85em", "color": "#666"})


def use_play_loop(session: Session, playing: solara.Reactive[bool],
                  speed: solara.Reactive[str], on_change: Callable[[], None],
                  on_error: Callable[[str | None], None]) -> None:
    """While ``playing``, step the session a frame at a time in a thread and redraw after
    each. Pausing, a reset or a new scenario cancels the thread (it ends after its frame)."""

    def loop(cancel: threading.Event):
        if not playing.value:
            return
        on_error(None)
        try:
            while not cancel.is_set() and not session.done:
                session.step(int(speed.value))
                on_change()
                cancel.wait(PLAY_INTERVAL_S)
        except Exception as exc:
            traceback.print_exc()
            on_error(_message(exc))
        if not cancel.is_set():    # ended by itself: at the last week, or by an error
            playing.set(False)

    solara.use_thread(loop, dependencies=[playing.value, session], intrusive_cancel=False)


@solara.component
def Downloads(session: Session, week: int):
    """The settings as a scenario TOML (``chip4 run`` reproduces it) and the results as CSV."""
    stem = file_stem(session.scenario.name)
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.FileDownload(session.to_toml, filename=f"{stem}.toml", label="Scenario TOML",
                            mime_type="application/toml")
        solara.FileDownload(session.to_csv, filename=f"{stem}-week{week}.csv",
                            label="Results CSV", mime_type="text/csv")
        solara.Text(f"chip4 run {stem}.toml reproduces this run at week {session.steps}.",
                    style={"font-size": "0.8em", "color": "#666"})


@solara.component
def Explore():
    """Settings on the left; the run, its views and the comparison on the right."""
    first = solara.use_memo(lambda: Session(load_scenario(DEFAULT_SCENARIO)), [])
    scenario = solara.use_reactive(first.scenario)
    builtin = solara.use_reactive(DEFAULT_SCENARIO)
    error = solara.use_reactive(None)
    notice = solara.use_reactive(None)
    current = solara.use_reactive(first)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive("1")
    tick = solara.use_reactive(0)
    rejected = solara.use_reactive(0)   # bumped when an edit is refused: controls reload
    tab = solara.use_reactive(0)        # the view tab on screen, kept across new runs

    def redraw():
        tick.set(tick.value + 1)

    def refuse(exc: Exception) -> None:
        error.set(_message(exc))
        rejected.set(rejected.value + 1)

    def start(s: Scenario, what: str | None = None, name: str | None = None) -> None:
        """Validate ``s``, build its models, and make it the page's run; else show why not."""
        try:
            new = Session(s)
        except Exception as exc:
            refuse(exc)
            return
        playing.set(False)
        scenario.set(s)
        current.set(new)
        if name is not None:
            builtin.set(name)
        error.set(None)
        notice.set(what)

    def reset() -> None:
        """A fresh session of the same scenario (the play thread may still hold the old one,
        so it is replaced, not reset in place)."""
        playing.set(False)
        current.set(Session(scenario.value))

    def on_edit(fn: Callable[[Scenario], Scenario]) -> None:
        try:
            s = fn(scenario.value)
        except Exception as exc:
            refuse(exc)
            return
        start(s, "Settings changed: the run restarted at week 0.")

    def on_builtin(name: str) -> None:
        if name:
            try:
                s = load_scenario(name)
            except Exception as exc:
                refuse(exc)
                return
            start(s, f"Loaded the built-in scenario {name}.", name)

    def on_upload(filename: str, content: bytes) -> None:
        try:
            s = parse_scenario_toml(content, filename)
        except Exception as exc:
            refuse(exc)
            return
        start(s, f"Loaded {filename}.", "")

    # The handlers only reach state through the reactive objects above, which stay the same
    # from render to render: keep the first ones, so that the settings panel's arguments do
    # not change after each step (a changed argument would re-render its ~200 components).
    handlers = solara.use_memo(lambda: (on_builtin, on_upload, on_edit), [])
    session = current.value
    use_play_loop(session, playing, speed, redraw, error.set)
    _ = tick.value   # a step bumps it: re-render

    with solara.Columns([1, 3]):
        with solara.Column(classes=["chip4-settings"]):
            Settings(scenario.value, builtin.value, *handlers).key(f"settings-{rejected.value}")
        with solara.Column():
            if error.value:
                solara.Error(error.value, classes=["chip4-error"], dense=True)
            elif notice.value:
                solara.Info(notice.value, dense=True, classes=["chip4-notice"])
            for text in caveats(session):
                solara.Warning(text, dense=True, classes=["chip4-caveat"])
            week = session.week
            Player(session, week, playing, speed, redraw, error.set, reset)
            Readout(session, week)
            # lazy: only the tab on screen is built and sent after each step
            with solara.lab.Tabs(value=tab, lazy=True):
                with solara.lab.Tab("Scenario run"):
                    Verdict(session, week)
                    NetworkView(session, week, "rules")
                    PathViews(session, week)
                with solara.lab.Tab("With vs without rules"):
                    ComparisonView(session, week)
            Downloads(session, week)


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
