"""The dashboard's "Sweep results" view: open a ``chip4 sweep`` folder and see what it found.

A folder (typed, or picked from the sweeps found under ``root``) opens as: the experiment, its
question and design; its claims with a green PASS or red FAIL chip and what was measured; the
Sobol or Morris indices with their figures; the report's figures (heatmaps, means by rule set,
distributions, scatter plots) with their captions; and the mean of every metric per design
point. A folder without a report shows its tables at once and offers to write the report
(``chip4 report DIR``) for the figures. Opening and writing run in a thread behind a progress
bar; whatever cannot be shown (not a sweep, an interrupted sweep, unreadable files) is one red
line. State lives in the component, so every browser session is independent. The data side,
without Solara, is :mod:`chip4model.dashboard.sweep_data`.
"""

from __future__ import annotations

import math

import pandas as pd
import reacton.ipyvuetify as rv
import solara
from solara.lab import use_task

from .sweep_data import Figure, SweepView, find_sweeps, make_report, open_sweep

__all__ = ["SweepResults", "SweepPanel", "find_sweeps", "open_sweep", "SweepView"]

MAX_PLAIN_ROWS = 30       # tables up to this long are plain tables, longer ones paged
IMAGE_SCALE = 0.7         # figures are drawn at 110 dpi: two heatmaps side by side at 1400 px
CHIP_COLOURS = {"PASS": "success", "FAIL": "error"}


@solara.component
def SweepResults(root: str = "results"):
    """Pick a sweep folder (under ``root`` or any path), open it, and show its results."""
    path = solara.use_reactive("")
    listed = solara.use_reactive(0)             # bumped by Refresh: list the folders again
    request = solara.use_reactive(("", 0))      # (folder, n): Open and a new report bump n
    written = solara.use_reactive(("", True))   # what writing the report said: (message, ok)
    sweeps = solara.use_memo(lambda: [str(p) for p in find_sweeps(root)],
                             dependencies=[root, listed.value])

    def load() -> SweepView | None:
        folder = request.value[0]
        return open_sweep(folder) if folder else None

    opened = use_task(load, dependencies=[request.value], raise_error=False)

    def write() -> None:
        folder = request.value[0]
        ok, message = make_report(folder)
        written.set((message, ok))
        if request.value[0] == folder:                  # open it again, with the figures
            request.set((folder, request.value[1] + 1))

    writing = use_task(write, dependencies=None, raise_error=False)

    def open_folder() -> None:
        written.set(("", True))
        request.set((path.value.strip(), request.value[1] + 1))

    with solara.Column(style={"max-width": "1400px"}):
        solara.Markdown("## Sweep results")
        with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.InputText("Sweep folder", value=path, continuous_update=True,
                             style={"min-width": "24em"})
            solara.Select(f"Sweeps under {root}", values=sweeps,
                          value=path.value if path.value in sweeps else None,
                          on_value=lambda v: path.set(v or ""), style={"min-width": "20em"})
            solara.Button("Refresh", icon_name="mdi-refresh", text=True,
                          on_click=lambda: listed.set(listed.value + 1))
            solara.Button("Open", color="primary", on_click=open_folder,
                          disabled=not path.value.strip() or opened.pending or writing.pending)
        if not sweeps:
            solara.Text(f"No finished sweep folders under {root!r}: type a folder path, or "
                        "run chip4 sweep EXPERIMENT --out DIR.", style={"color": "grey"})
        solara.ProgressLinear(opened.pending or writing.pending)
        if opened.pending:
            solara.Text("Opening the sweep...")
        elif opened.error:
            solara.Error(f"Could not open the sweep: {opened.exception}")
        elif opened.value is not None:
            SweepPanel(opened.value, on_write=writing, writing=writing.pending,
                       written=written.value)


@solara.component
def SweepPanel(view: SweepView, on_write=None, writing: bool = False,
               written: tuple[str, bool] = ("", True)):
    """One opened sweep: header, claims, sensitivity, figures and points (or its error)."""
    message, ok = written
    if message:
        (solara.Success if ok else solara.Error)(message)
    if view.error:
        solara.Error(view.error)
    if view.design is not None:
        Header(view)
    if view.error:
        return
    for note in view.notes:
        solara.Text(note, style={"color": "grey"})
    Claims(view)
    if view.sensitivity is not None:
        Sensitivity(view)
    Figures(view, on_write, writing)
    if view.points is not None:
        with solara.Card("Design points"):
            solara.Text(f"Mean of each metric over the ok runs of each of the "
                        f"{len(view.points)} design points.")
            Table(view.points)


@solara.component
def Header(view: SweepView):
    """Experiment name, question, description and design."""
    d = view.design
    solara.Markdown(f"### {view.name}")
    if view.question:
        solara.Text(view.question, style={"font-weight": "bold"})
    if view.description:
        solara.Text(view.description)
    solara.Text(d.line())
    if d.factors:
        solara.Text(f"Factors: {', '.join(d.factors)}. Metrics: {', '.join(d.metrics)}.",
                    style={"color": "grey"})
    solara.Text(f"Folder: {view.folder}", style={"color": "grey", "font-size": "0.85em"})


@solara.component
def Claims(view: SweepView):
    """The claims table: a PASS / FAIL chip, the claim and its check, what was measured."""
    with solara.Card("Claims"):
        if view.claims.empty:
            solara.Text(view.claims_note or "No claims.")
            return
        solara.Text(f"{view.passed} of {len(view.claims)} claims hold")
        with rv.SimpleTable(dense=True):
            _head(["", "claim", "measured", "detail"])
            with rv.Html(tag="tbody"):
                for r in view.claims.itertuples(index=False):
                    with rv.Html(tag="tr"):
                        with rv.Html(tag="td"):
                            rv.Chip(children=[r.status], small=True, label=True,
                                    text_color="white", color=CHIP_COLOURS.get(r.status, "grey"))
                        with rv.Html(tag="td"):
                            rv.Html(tag="div", children=[r.claim])
                            rv.Html(tag="code", children=[r.check],
                                    style_="font-size: 0.8em")
                        rv.Html(tag="td", children=[r.measured])
                        rv.Html(tag="td", children=[r.detail])


@solara.component
def Sensitivity(view: SweepView):
    """The Sobol or Morris indices per metric and factor, and their figures."""
    with solara.Card("Sensitivity indices"):
        if view.sensitivity.empty:
            solara.Text("No indices (every metric was skipped; see the notes).")
        else:
            Table(view.sensitivity)
        Images([f for f in view.figures if f.sensitivity])


@solara.component
def Figures(view: SweepView, on_write=None, writing: bool = False):
    """The report's figures, or the button that writes the report."""
    with solara.Card("Figures"):
        if not view.has_report:
            with solara.Column(style={"align-items": "flex-start"}):
                solara.Text(f"No report in {view.report} yet: write it (tables, figures and "
                            "summary.md, as chip4 report does) to see the figures.")
                solara.Button("Write report (figures)", color="primary", on_click=on_write,
                              disabled=on_write is None or writing)
                if writing:
                    solara.Text("Writing the report (drawing figures takes a few seconds)...")
            return
        figs = [f for f in view.figures if not f.sensitivity]
        if not figs:
            solara.Text("The figures of this design are the sensitivity indices' (above)."
                        if view.figures else "The report has no figures for this design.")
        Images(figs)


@solara.component
def Images(figs: list[Figure]):
    """Figures at 70% of their pixel size (at most the page's width), side by side where
    they fit, each with its title and caption."""
    with solara.Row(style={"flex-wrap": "wrap", "align-items": "flex-start"}):
        for f in figs:
            width = f"{round(f.width * IMAGE_SCALE)}px" if f.width else "100%"
            with solara.Column(gap="4px", style={"width": width, "max-width": "100%"}):
                solara.Text(f.title, style={"font-weight": "bold"})
                solara.Image(f.data, width="100%")
                solara.Text(f.caption, style={"font-size": "0.85em", "color": "grey"})


@solara.component
def Table(df: pd.DataFrame):
    """A short table as plain rows, a long one as a paged table; numbers to 4 digits."""
    shown = df.apply(lambda col: col.map(_cell))
    if len(shown) > MAX_PLAIN_ROWS:
        solara.DataFrame(shown, items_per_page=20, scrollable=True)
        return
    with rv.SimpleTable(dense=True):
        _head([str(c) for c in shown.columns])
        with rv.Html(tag="tbody"):
            for row in shown.itertuples(index=False):
                with rv.Html(tag="tr"):
                    for cell in row:
                        rv.Html(tag="td", children=[cell])


def _head(names: list[str]) -> None:
    with rv.Html(tag="thead"):
        with rv.Html(tag="tr"):
            for n in names:
                rv.Html(tag="th", children=[n])


def _cell(x) -> str:
    """A table cell as text: floats to 4 significant digits, NaN as n/a."""
    if isinstance(x, float):
        return "n/a" if math.isnan(x) else f"{x:.4g}"
    return str(x)
