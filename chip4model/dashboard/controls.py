"""The settings panel: pick or upload a scenario and edit what the analyst asks about.

Each control shows a value of the current scenario (:func:`params.current`) and, when moved,
hands a function of the scenario to ``on_edit``; the page applies it, validates the result
and starts a fresh run. Nothing here holds state of its own beyond the widgets.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets
import solara

from ..scenario import INSTRUMENTS, MEMBERS, RULE_TYPES, Scenario, builtin_names, edit
from . import params as P

Edit = Callable[[Callable[[Scenario], Scenario]], None]

NOTE = {"font-size": "0.8em", "color": "#666"}

MEMBER_NAMES = {"USA": "United States", "KOR": "South Korea", "JPN": "Japan", "TWN": "Taiwan"}


def _slider(kind, label: str, value, on_value, step=1, **kw):
    """A Solara slider with its current value printed after it (thumb labels only show while
    dragging, and always-on ones overlap the next control).

    A slider snaps its value to its step when it appears (0.239 on a 0.01 slider reports
    0.24): that is not the user's edit, so values within half a step of ``value`` are ignored.
    """
    def moved(v):
        if abs(v - value) >= step / 2:
            on_value(v)

    with solara.Row(style={"align-items": "center"}, gap="4px"):
        with solara.Column(style={"flex": "1 1 auto"}):
            kind(label, value=value, on_value=moved, step=step, **kw)
        text = f"{value:.2f}" if isinstance(value, float) else str(value)
        solara.Text(text, style={"min-width": "2.6em", "font-size": "0.9em", "color": "#333"})


@solara.component
def ScenarioPicker(name: str, on_builtin: Callable[[str], None],
                   on_upload: Callable[[str, bytes], None]):
    """A built-in scenario, or a scenario TOML file from the user's disk."""
    names = builtin_names()
    solara.Select(label="Built-in scenario", values=names,
                  value=name if name in names else None, on_value=on_builtin)

    upload_widget = solara.use_ref(None)

    def uploaded(value):
        if not value:
            return
        for f in value:
            on_upload(f["name"], bytes(f["content"]))
        # empty the widget: choosing the same file again is then a change it reports
        if upload_widget.current is not None:
            upload_widget.current.value = ()

    with solara.Row(style={"align-items": "center"}):
        upload = ipywidgets.FileUpload.element(accept=".toml", multiple=False,
                                               description="Upload TOML", on_value=uploaded)
        solara.Text("or pick a built-in above", style=NOTE)

    def keep_widget():
        upload_widget.current = solara.get_widget(upload)

    solara.use_effect(keep_widget, [])


@solara.component
def RunSettings(cur: dict, on_edit: Edit):
    """Seed and length of the run."""
    with solara.Row():
        solara.InputInt("Seed", value=cur["seed"],
                        on_value=lambda v: on_edit(lambda s: edit(s, {"seed": v})))
        solara.InputInt("Weeks", value=cur["steps"],
                        on_value=lambda v: on_edit(lambda s: edit(s, {"steps": v})))


@solara.component
def RetaliationSettings(cur: dict, on_edit: Edit):
    """Who is targeted and how: China's choice, or scripted shocks."""
    solara.Select(label="Target (the member China retaliates against)", values=list(MEMBERS),
                  value=cur["target"],
                  on_value=lambda v: on_edit(lambda s: P.set_target(s, v)))
    solara.Switch(label="China decides whether, how and how long to retaliate",
                  value=cur["china_decides"],
                  on_value=lambda v: on_edit(lambda s: P.set_china(s, decides=v)))
    if cur["china_decides"]:
        _slider(solara.SliderFloat, "China's resolve", value=cur["resolve"], min=0, max=1,
                step=0.05, thumb_label=True,
                on_value=lambda v: on_edit(lambda s: P.set_china(s, resolve=v)))
        solara.Text("China weighs the pain to the target against its own costs and the allies' "
                    "pledges, and picks instruments and intensity up to the maximum. The "
                    "provocation is the week the target joins the U.S. export controls.",
                    style=NOTE)
        solara.SelectMultiple("Instruments China may use", values=cur["instruments"],
                              all_values=list(INSTRUMENTS),
                              on_value=lambda v: on_edit(lambda s: P.set_china(s,
                                                                               instruments=v)))
        _slider(solara.SliderFloat, "Max intensity", value=cur["max_intensity"],
                           min=0.25, max=1, step=0.25, thumb_label=True,
                           on_value=lambda v: on_edit(lambda s: P.set_china(s,
                                                                            max_intensity=v)))
        if cur["provocation_week"] is not None:
            _slider(solara.SliderInt, "Provocation week",
                             value=cur["provocation_week"], min=0,
                             max=max(cur["steps"] - 1, 1), thumb_label=True,
                             on_value=lambda v: on_edit(lambda s: P.set_provocation_week(s, v)))
    for i, sh in enumerate(cur["shocks"]):
        ShockEditor(i, sh, cur["steps"], on_edit)
    with solara.Row(style={"align-items": "center"}):
        choice = solara.use_reactive(INSTRUMENTS[0])
        solara.Select(label="Add a shock", values=list(INSTRUMENTS), value=choice)
        solara.Button("Add", text=True, color="primary",
                      on_click=lambda: on_edit(lambda s: P.add_shock(s, choice.value)))


@solara.component
def ShockEditor(index: int, sh: dict, steps: int, on_edit: Edit):
    """Intensity, onset and duration of one scripted shock."""
    label = P.INSTRUMENT_LABELS.get(sh["type"], sh["type"])
    issuer = "" if sh["issuer"] == "CHN" else f" (by {sh['issuer']})"
    with solara.Card(subtitle=f"{label}{issuer}", margin=0, style={"margin-bottom": "6px"}):
        _slider(solara.SliderFloat, "Intensity", value=sh["intensity"], min=0, max=1, step=0.05,
                           thumb_label=True,
                           on_value=lambda v: on_edit(lambda s: P.set_shock(s, index,
                                                                            intensity=v)))
        with solara.Row():
            solara.InputInt("Onset (week)", value=sh["onset"],
                            on_value=lambda v: on_edit(lambda s: P.set_shock(s, index,
                                                                             onset=v)))
            solara.InputInt("Weeks (0: to the end)", value=sh["duration"] or 0,
                            on_value=lambda v: on_edit(lambda s: P.set_shock(
                                s, index, duration=(v or None))))
        solara.Button("Remove", text=True, small=True, color="error",
                      on_click=lambda: on_edit(lambda s: P.remove_shock(s, index)))


@solara.component
def RuleSettings(cur: dict, on_edit: Edit):
    """Each collective-resilience rule: on or off, commitment, delay, credibility."""
    for rule in RULE_TYPES:
        r = cur["rules"][rule]
        with solara.Card(margin=0, style={"margin-bottom": "6px"}):
            solara.Switch(label=P.RULE_LABELS[rule], value=r["on"],
                          on_value=lambda v, rule=rule: on_edit(lambda s: P.set_rule(s, rule,
                                                                                     on=v)))
            if r["on"]:
                for field, lo, hi, step in (("commitment", 0.0, 1.0, 0.05),
                                            ("credibility", 0.0, 1.0, 0.05)):
                    _slider(solara.SliderFloat, field.capitalize(), value=r[field], min=lo, max=hi,
                                       step=step, thumb_label=True,
                                       on_value=lambda v, rule=rule, field=field: on_edit(
                                           lambda s: P.set_rule(s, rule, **{field: v})))
                _slider(solara.SliderInt, "Delay (weeks)", value=r["delay"], min=0, max=52,
                                 thumb_label=True,
                                 on_value=lambda v, rule=rule: on_edit(
                                     lambda s: P.set_rule(s, rule, delay=v)))


@solara.component
def MemberSettings(cur: dict, on_edit: Edit):
    """Each member's threat perception of China and exposure to it (share of trade)."""
    solara.Text("Exposure is China's share of the member's goods trade; unset in the scenario, "
                "it is the calibrated value (docs/data.md). The United States leads and is "
                "always in the controls: its own values matter only to rules with trigger = "
                "\"vote\", which a scenario file can set.", style=NOTE)
    for iso in MEMBERS[1:]:   # the U.S. leads: always in the controls, it weighs no alignment
        m = cur["members"][iso]
        solara.Text(MEMBER_NAMES[iso], style={"font-weight": "bold"})
        _slider(solara.SliderFloat, "Threat perception", value=m["threat_perception"], min=0, max=1,
                           step=0.05, thumb_label=True,
                           on_value=lambda v, iso=iso: on_edit(
                               lambda s: P.set_member(s, iso, "threat_perception", v)))
        _slider(solara.SliderFloat, "Exposure",
                           value=m["china_trade_share"], min=0, max=0.6, step=0.01,
                           thumb_label=True,
                           on_value=lambda v, iso=iso: on_edit(
                               lambda s: P.set_member(s, iso, "china_trade_share", v)))


@solara.component
def Settings(scenario: Scenario, name: str, on_builtin, on_upload, on_edit: Edit):
    """The whole settings panel, in collapsible sections."""
    cur = P.current(scenario)
    ScenarioPicker(name, on_builtin, on_upload)
    solara.Markdown(f"**{scenario.name}**: {scenario.description or '(no description)'}",
                    style={"font-size": "0.9em"})
    RunSettings(cur, on_edit)
    with solara.Details("Retaliation", expand=True):
        RetaliationSettings(cur, on_edit)
    with solara.Details("Collective-resilience rules", expand=True):
        RuleSettings(cur, on_edit)
    with solara.Details("Members"):
        MemberSettings(cur, on_edit)
