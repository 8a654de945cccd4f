"""What the page shows of a run: a readout, the network, the paths, the comparison.

Every view is a function of the :class:`~.session.Session` at its current week. The session
is mutable, so each view also takes ``week`` (and the page passes ``session.week``): Solara
re-renders a component only when its arguments change. The charts are ECharts options
built in :mod:`.charts`.
"""

from __future__ import annotations

import traceback

import solara

from . import charts
from .session import Session


@solara.component
def Chart(build, args: tuple, week: int, name: str, height: int = 340):
    """An ECharts figure of ``build(*args)``, its container carrying ``chip4-chart-<name>``
    (tests find it). A chart that fails to build shows why, and the rest of the page stays.

    The option is built here, in its own component, and not by the view that places the
    chart: a parent then passes only ``(build, args, week)`` down, and re-rendering the
    containers above does not compare the large option dicts over and over.
    """
    try:
        option = build(*args)
    except Exception as exc:
        traceback.print_exc()
        option = charts.empty_option(f"This chart failed: {type(exc).__name__}: {exc}")
    solara.FigureEcharts(option=option, attributes={"style": f"height: {height}px;",
                                                    "class": f"chip4-chart chip4-chart-{name}"})


def readout(session: Session) -> dict:
    """The numbers the page prints above the charts (also read by the browser tests)."""
    result = session.result()
    r, cf = result.summary, result.counterfactual
    target = r["target"]
    out = {"week": session.week, "steps": session.steps, "target": target,
           "intensity": session.model.retaliation_intensity() if session.week else 0.0}
    if target:
        out["target_net_loss_pct"] = r["countries"][target]["net_loss_pct"]
        out["target_net_loss_pct_without"] = (cf.summary["countries"][target]["net_loss_pct"]
                                              if cf is not None else None)
    return out


@solara.component
def Readout(session: Session, week: int):
    """Week, China's intensity and the target's loss so far, in one line."""
    ro = readout(session)
    parts = [f"Week {ro['week']} of {ro['steps']}",
             f"China's retaliation intensity {ro['intensity']:.2f}"]
    if ro["target"]:
        loss = f"{ro['target']} net loss {ro['target_net_loss_pct']:.4f}% of GDP"
        if ro["target_net_loss_pct_without"] is not None:
            loss += f" (without rules {ro['target_net_loss_pct_without']:.4f}%)"
        parts.append(loss)
    solara.Div(children=[solara.Text(" · ".join(parts))], classes=["chip4-readout"],
               style={"font-size": "1.05em", "margin": "4px 0"})


@solara.component
def Verdict(session: Session, week: int):
    """Absorption and deterrence, in words."""
    text = session.verdict() if session.week else \
        "Press Step, Play or Run to start the scenario."
    solara.Div(children=[solara.Text(text)], classes=["chip4-verdict"],
               style={"font-size": "1.05em", "padding": "8px 12px", "margin": "4px 0",
                      "background": "#f3f6fa", "border-left": "4px solid #1f5fa8"})


@solara.component
def NetworkView(session: Session, week: int, which: str = "rules", height: int = 460,
                compact: bool = False):
    """The supply-chain network this week, coloured by shortfall or utilisation."""
    color_by = solara.use_reactive("shortfall")
    with solara.Row(style={"align-items": "center"}):
        solara.ToggleButtonsSingle(value=color_by, values=["shortfall", "utilisation"],
                                   dense=True)
    Chart(charts.network_option, (session, color_by.value, which, compact), week,
          f"network-{which}", height)


@solara.component
def PathViews(session: Session, week: int):
    """Loss per country, alignment and credibility, China's intensity, firm revenues."""
    measure = solara.use_reactive("output")   # or "value added"
    with solara.Columns([1, 1]):
        with solara.Column(gap="0px"):
            solara.ToggleButtonsSingle(value=measure, values=["output", "value added"],
                                       dense=True)
            Chart(charts.loss_option, (session, measure.value.replace(" ", "_")), week, "loss")
        Chart(charts.intensity_option, (session,), week, "intensity")
    with solara.Columns([1, 1]):
        Chart(charts.alignment_option, (session,), week, "alignment")
        Chart(charts.firms_option, (session,), week, "firms")


@solara.component
def ComparisonView(session: Session, week: int):
    """The same scenario and seed with and without the rules, side by side."""
    Verdict(session, week)
    if not session.has_rules:
        solara.Info("This scenario has no collective-resilience rules: switch some on in "
                    "the settings to compare.")
    Chart(charts.comparison_option, (session,), week, "comparison", 320)
    if session.has_rules:
        with solara.Columns([1, 1]):
            with solara.Column():
                solara.Text("With the rules", style={"font-weight": "bold"})
                NetworkView(session, week, "rules", 400, compact=True)
            with solara.Column():
                solara.Text("Without the rules", style={"font-weight": "bold"})
                NetworkView(session, week, "no_rules", 400, compact=True)
