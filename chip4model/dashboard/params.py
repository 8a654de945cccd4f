"""The dashboard's controls as edits of a scenario.

Every control on the page reads its value from the current
:class:`~chip4model.scenario.Scenario` with :func:`current` and changes it through one of the
functions here, which return a new, validated scenario (or raise a one-line
:class:`~chip4model.errors.InputError`). The page therefore never holds settings the scenario
TOML cannot express, and the TOML it downloads is the whole truth of a run.

>>> from chip4model.scenario import load_scenario
>>> s = set_target(load_scenario("thaad-2017"), "JPN")
>>> s.target, {sh.target for sh in s.shocks}
('JPN', {'JPN'})
>>> set_rule(s, "compensation_fund", on=True, commitment=0.4).rules[0].commitment
0.4
"""

from __future__ import annotations

import copy

from ..errors import InputError, allowed
from ..experiment import retarget
from ..graph import countries as country_table
from ..scenario import (
    INSTRUMENTS,
    MEMBERS,
    RULE_SPECS,
    RULE_TYPES,
    Scenario,
    edit,
    scenario_from_dict,
)

#: What each instrument hits when added from the page (China against the target member).
DEFAULT_SHOCKS = {
    "import_ban": {"segments": ["memory"]},
    "export_restriction": {"inputs": ["gallium", "germanium", "graphite",
                                      "rare_earth_magnets"]},
    "firm_sanction": {"mode": "both"},
    "consumer_boycott": {"segments": ["tourism", "consumer_goods"]},
}
#: The largest firm headquartered in each member, the default target of a firm sanction.
DEFAULT_FIRM = {"KOR": "Samsung Electronics", "TWN": "TSMC", "USA": "Micron", "JPN": "Kioxia"}

RULE_LABELS = {
    "market_absorption": "Market absorption (allies buy the target's blocked exports)",
    "input_sharing": "Input sharing (allies release stockpiled critical inputs)",
    "counter_retaliation": "Counter-retaliation pledge (joint measures against China)",
    "compensation_fund": "Compensation fund (allies pay part of the target's loss)",
}
INSTRUMENT_LABELS = {
    "import_ban": "Import ban on the target's chips",
    "export_restriction": "Export restriction on critical inputs",
    "firm_sanction": "Sanction on the target's largest firm",
    "consumer_boycott": "Consumer and tourism boycott",
}
MEMBER_FIELDS = ("threat_perception", "china_trade_share")
CHINA_INTENSITIES = (0.25, 0.5, 0.75, 1.0)


def _rebuild(s: Scenario, data: dict) -> Scenario:
    return scenario_from_dict(data, s.source)


def current(s: Scenario) -> dict:
    """The values the controls show: the scenario's, or the calibrated defaults it leaves."""
    table = country_table()
    members = {}
    for iso in MEMBERS:
        spec = s.countries.get(iso)
        members[iso] = {f: (getattr(spec, f) if spec is not None and getattr(spec, f)
                            is not None else float(table[iso][f])) for f in MEMBER_FIELDS}
    have = {r.type: r for r in s.rules}
    rules = {}
    for t in RULE_TYPES:
        spec = have.get(t) or RULE_SPECS[t](type=t)
        rules[t] = {"on": t in have, "commitment": spec.commitment, "delay": spec.delay,
                    "credibility": spec.credibility}
    resolve = s.china.resolve if s.china.resolve is not None else \
        float(table["CHN"].get("resolve", 0.6))
    join = next((e for e in s.events if e.type == "join_controls"), None)
    return {
        "target": s.target or _shock_target(s) or "KOR",
        "seed": s.seed if s.seed is not None else 0,
        "steps": s.steps,
        "china_decides": s.china.decides,
        "resolve": resolve,
        "instruments": list(s.china.instruments),
        "max_intensity": max(s.china.intensities),
        "provocation_week": join.week if join is not None else None,
        "shocks": [{"type": sh.type, "intensity": sh.intensity, "onset": sh.onset,
                    "duration": sh.duration, "issuer": sh.issuer} for sh in s.shocks],
        "rules": rules,
        "members": members,
    }


def _shock_target(s: Scenario) -> str | None:
    for sh in s.shocks:
        t = getattr(sh, "target", None) or (getattr(sh, "targets", None) or [None])[0]
        if t in MEMBERS:
            return t
    return None


# --- edits ---------------------------------------------------------------------------------
def set_target(s: Scenario, member: str) -> Scenario:
    """Point China's shocks, the joining event and the focal country at ``member``."""
    if member not in MEMBERS:
        raise InputError(s.source, "target", f"unknown member {member!r} ({allowed(MEMBERS)})")
    data = copy.deepcopy(s.to_dict())
    retarget(data, member)
    for sh in data.get("shocks", []):   # a firm sanction follows the target's largest firm
        if sh["type"] == "firm_sanction" and sh.get("issuer", "CHN") == "CHN":
            sh["firm"] = DEFAULT_FIRM[member]
    return _rebuild(s, data)


def set_rule(s: Scenario, rule: str, on: bool | None = None, **fields) -> Scenario:
    """Switch a rule on or off and/or set its commitment, delay, credibility."""
    if rule not in RULE_TYPES:
        raise InputError(s.source, "rules", f"unknown rule {rule!r} ({allowed(RULE_TYPES)})")
    names = [r.type for r in s.rules]
    if on is True and rule not in names:
        names.append(rule)
    elif on is False and rule in names:
        names.remove(rule)
    out = s.with_rules(names or ["none"])
    if fields and rule in names:
        idx = names.index(rule)
        out = edit(out, {f"rules.{idx}.{k}": v for k, v in fields.items()})
    return out


def set_member(s: Scenario, iso: str, field: str, value: float) -> Scenario:
    """Set a member's ``threat_perception`` or exposure (``china_trade_share``)."""
    if iso not in MEMBERS:
        raise InputError(s.source, "countries", f"unknown member {iso!r} ({allowed(MEMBERS)})")
    if field not in MEMBER_FIELDS:
        raise InputError(s.source, f"countries.{iso}", f"unknown field {field!r} "
                         f"({allowed(MEMBER_FIELDS)})")
    return edit(s, {f"countries.{iso}.{field}": value})


def set_china(s: Scenario, **fields) -> Scenario:
    """China's ``decides``, ``resolve``, ``instruments`` or ``max_intensity`` (the highest
    intensity it may choose, from 0.25, 0.5, 0.75, 1)."""
    changes = {}
    for k, v in fields.items():
        if k == "max_intensity":
            levels = [x for x in CHINA_INTENSITIES if x <= float(v) + 1e-9] or [float(v)]
            changes["china.intensities"] = levels
        elif k == "instruments":
            if not v:
                raise InputError(s.source, "china.instruments",
                                 f"choose at least one instrument ({allowed(INSTRUMENTS)})")
            changes["china.instruments"] = list(v)
        else:
            changes[f"china.{k}"] = v
    return edit(s, changes)


def set_provocation_week(s: Scenario, week: int) -> Scenario:
    """The week the target joins the U.S. export controls (China's provocation)."""
    idx = next((i for i, e in enumerate(s.events) if e.type == "join_controls"), None)
    if idx is None:
        data = copy.deepcopy(s.to_dict())
        data.setdefault("events", []).append({"type": "join_controls", "week": int(week),
                                              "member": current(s)["target"]})
        return _rebuild(s, data)
    return edit(s, {f"events.{idx}.week": int(week)})


def set_shock(s: Scenario, index: int, **fields) -> Scenario:
    """Set ``intensity``, ``onset`` or ``duration`` (None: to the end) of shock ``index``."""
    if not 0 <= index < len(s.shocks):
        raise InputError(s.source, f"shocks[{index}]", f"no such shock ({len(s.shocks)} in "
                         "the scenario)")
    return edit(s, {f"shocks.{index}.{k}": v for k, v in fields.items()})


def add_shock(s: Scenario, instrument: str, intensity: float = 0.5, onset: int = 4,
              duration: int | None = 26) -> Scenario:
    """Add China's ``instrument`` against the current target."""
    if instrument not in INSTRUMENTS:
        raise InputError(s.source, "shocks", f"unknown instrument {instrument!r} "
                         f"({allowed(INSTRUMENTS)})")
    target = current(s)["target"]
    spec = {"type": instrument, "issuer": "CHN", "intensity": intensity, "onset": onset,
            **copy.deepcopy(DEFAULT_SHOCKS[instrument])}
    if duration is not None:
        spec["duration"] = duration
    if instrument == "export_restriction":
        spec["targets"] = [target]
    elif instrument == "firm_sanction":
        spec["firm"] = DEFAULT_FIRM[target]
    else:
        spec["target"] = target
    data = copy.deepcopy(s.to_dict())
    data.setdefault("shocks", []).append(spec)
    data["target"] = target
    return _rebuild(s, data)


def remove_shock(s: Scenario, index: int) -> Scenario:
    data = copy.deepcopy(s.to_dict())
    if not 0 <= index < len(data.get("shocks", [])):
        raise InputError(s.source, f"shocks[{index}]", "no such shock")
    data["shocks"].pop(index)
    return _rebuild(s, data)


__all__ = ["DEFAULT_SHOCKS", "INSTRUMENT_LABELS", "RULE_LABELS", "add_shock", "current",
           "remove_shock", "set_china", "set_member", "set_provocation_week", "set_rule",
           "set_shock", "set_target"]
