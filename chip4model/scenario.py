"""Scenarios: declarative TOML files, validated on load.

A scenario says which shocks hit, which collective-resilience rules are in force, how the
agents are parameterised, and for how many weeks. With a seed it describes a run completely.

>>> s = load_scenario("thaad-2017")
>>> s.shocks[0].type, s.shocks[0].target
('consumer_boycott', 'KOR')
>>> apply_sets(s, ["china.resolve=0.8"]).china.resolve
0.8
"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, allowed

MEMBERS = ("USA", "KOR", "JPN", "TWN")
COUNTRIES = (*MEMBERS, "CHN")
REGIONS = (*COUNTRIES, "EUR", "SEA", "ROW")
INSTRUMENTS = ("import_ban", "export_restriction", "firm_sanction", "consumer_boycott")
Country = Literal["USA", "KOR", "JPN", "TWN", "CHN"]
Member = Literal["USA", "KOR", "JPN", "TWN"]
Region = Literal["USA", "KOR", "JPN", "TWN", "CHN", "EUR", "SEA", "ROW"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Weeks = Annotated[int, Field(ge=0, le=5200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- shocks ----------------------------------------------------------------------------------
class _ShockBase(Strict):
    intensity: Fraction
    onset: Weeks = 0
    duration: Annotated[int, Field(ge=1, le=5200)] | None = None


class ImportBanSpec(_ShockBase):
    type: Literal["import_ban"]
    issuer: Region = "CHN"
    target: Region
    segments: list[str] = Field(min_length=1)


class ExportRestrictionSpec(_ShockBase):
    type: Literal["export_restriction"]
    issuer: Region = "CHN"
    targets: list[Region] = Field(min_length=1)
    inputs: list[str] = Field(min_length=1)


class FirmSanctionSpec(_ShockBase):
    type: Literal["firm_sanction"]
    issuer: Region = "CHN"
    firm: str
    mode: Literal["operations", "sales", "both"] = "both"


class ConsumerBoycottSpec(_ShockBase):
    type: Literal["consumer_boycott"]
    issuer: Region = "CHN"
    target: Region
    segments: list[str] = Field(default_factory=lambda: ["tourism", "consumer_goods"],
                                min_length=1)


class DisruptionSpec(_ShockBase):
    type: Literal["disruption"]
    nodes: list[str] | None = None
    country: Region | None = None
    segment: str | None = None
    firm: str | None = None


ShockSpec = Annotated[
    ImportBanSpec | ExportRestrictionSpec | FirmSanctionSpec | ConsumerBoycottSpec | DisruptionSpec,
    Field(discriminator="type"),
]


# --- rules -----------------------------------------------------------------------------------
class _RuleBase(Strict):
    commitment: Fraction = 0.5
    delay: Weeks = 8
    credibility: Fraction = 0.8
    trigger: Literal["automatic", "vote"] = "automatic"


class MarketAbsorptionSpec(_RuleBase):
    type: Literal["market_absorption"]
    premium: Annotated[float, Field(ge=0, le=5)] = 0.15
    max_share: Fraction = 0.3


class InputSharingSpec(_RuleBase):
    type: Literal["input_sharing"]
    stockpile_weeks: Annotated[float, Field(ge=0, le=520)] = 8.0
    release_weeks: Annotated[float, Field(gt=0, le=520)] = 4.0


class CounterRetaliationSpec(_RuleBase):
    type: Literal["counter_retaliation"]
    threshold: Fraction | None = None


class CompensationFundSpec(_RuleBase):
    type: Literal["compensation_fund"]


RuleSpec = Annotated[
    MarketAbsorptionSpec | InputSharingSpec | CounterRetaliationSpec | CompensationFundSpec,
    Field(discriminator="type"),
]
RULE_TYPES = ("market_absorption", "input_sharing", "counter_retaliation", "compensation_fund")
RULE_SPECS = {"market_absorption": MarketAbsorptionSpec, "input_sharing": InputSharingSpec,
              "counter_retaliation": CounterRetaliationSpec,
              "compensation_fund": CompensationFundSpec}


# --- agents and levers -----------------------------------------------------------------------
class CountrySpec(Strict):
    threat_perception: Fraction | None = None
    alliance_benefit: Fraction | None = None
    cost_tolerance_pct_gdp: Annotated[float, Field(ge=0, le=100)] | None = None
    china_trade_share: Fraction | None = None
    initial_alignment: Fraction | None = None


class ChinaSpec(Strict):
    decides: bool = False
    resolve: Fraction | None = None
    instruments: list[Literal["import_ban", "export_restriction", "firm_sanction",
                              "consumer_boycott"]] = list(INSTRUMENTS)
    intensities: list[Fraction] = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0],
                                        min_length=1)
    cost_sensitivity: Annotated[float, Field(ge=0, le=100)] = 1.0
    escalation: Annotated[float, Field(ge=0, le=10)] = 0.5
    dependence_threshold: Fraction | None = None
    counter_cost_multiplier: Annotated[float, Field(ge=0, le=100)] | None = None
    review_weeks: Annotated[int, Field(ge=1, le=520)] | None = None
    max_instruments: Annotated[int, Field(ge=1, le=4)] = 2
    decision_lag: Weeks = 2
    signal_halflife_weeks: Annotated[float, Field(gt=0, le=5200)] = 26.0
    noise: Annotated[float, Field(ge=0, le=1)] = 0.1


class USASpec(Strict):
    stringency: Fraction = 0.6
    pressure: Fraction = 0.3
    assurance: Fraction = 0.2


class FirmSpec(Strict):
    compliance: Fraction | None = None
    diversification_rate: Annotated[float, Field(ge=0, le=1)] | None = None


class Levers(Strict):
    """The workshop report's recommendations, each from 0 (absent) to 1 (fully in place)."""

    dialogue: Fraction = 0.0            # policy-coordination dialogues: trust, faster response
    contingency_plans: Fraction = 0.0   # pre-agreed triggers: shorter delays
    diversification: Fraction = 0.0     # diversify trade partners: exposure falls, at a cost
    joint_rnd: Fraction = 0.0           # joint R&D / common standards: alliance benefits
    us_clarity: Fraction = 0.0          # clearer U.S. intentions: less uncertainty
    private_sector: Fraction = 0.0      # firms in the dialogues: less domestic pushback


class EventSpec(Strict):
    type: Literal["join_controls", "leave_controls", "us_request"]
    week: Weeks
    member: Member | None = None


class Scenario(Strict):
    name: str = "custom"
    description: str = ""
    steps: Annotated[int, Field(ge=1, le=5200)] = 156
    seed: int | None = None
    target: Member | None = None
    rationing: Literal["proportional", "domestic_first", "allied_first"] = "proportional"
    graph: str | None = None
    china: ChinaSpec = Field(default_factory=ChinaSpec)
    usa: USASpec = Field(default_factory=USASpec)
    countries: dict[Country, CountrySpec] = Field(default_factory=dict)
    firms: dict[str, FirmSpec] = Field(default_factory=dict)
    levers: Levers = Field(default_factory=Levers)
    events: list[EventSpec] = Field(default_factory=list)
    shocks: list[ShockSpec] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)

    # where the scenario came from, for error messages (not part of the file)
    _source: str = "<scenario>"

    @property
    def source(self) -> str:
        return self._source

    def with_rules(self, names: list[str]) -> Scenario:
        """A copy with exactly the named rules (``["none"]`` for none); parameters of rules the
        scenario already has are kept, the others take their defaults."""
        names = [n for n in names if n]
        if "none" in names:
            if len(names) > 1:
                raise InputError(self.source, "--rule", "'none' cannot be combined with rules")
            names = []
        for n in names:
            if n not in RULE_TYPES:
                raise InputError(self.source, "--rule", f"unknown rule {n!r} "
                                 f"({allowed((*RULE_TYPES, 'none'))})")
        have = {r.type: r for r in self.rules}
        rules = [have[n] if n in have else RULE_SPECS[n](type=n) for n in dict.fromkeys(names)]
        out = self.model_copy(update={"rules": rules})
        out._source = self._source
        return out

    def without_rules(self) -> Scenario:
        return self.with_rules(["none"])

    def to_dict(self) -> dict:
        d = self.model_dump(mode="json", exclude_none=True)
        return d


# --- loading ---------------------------------------------------------------------------------
def builtin_dir() -> Path:
    return Path(str(resources.files("chip4model") / "scenarios"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def format_loc(loc) -> str:
    """A pydantic error location as a field path: ``("shocks", 0, "target")`` ->
    ``shocks[0].target``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _fields_at(model_cls, loc) -> list[str]:
    """The allowed keys of the pydantic model reached by following ``loc``."""
    cls = model_cls
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in RULE_TYPES or part in ("import_ban", "export_restriction", "firm_sanction",
                                          "consumer_boycott", "disruption"):
            cls = RULE_SPECS.get(part) or {  # a discriminated union names the type
                "import_ban": ImportBanSpec, "export_restriction": ExportRestrictionSpec,
                "firm_sanction": FirmSanctionSpec, "consumer_boycott": ConsumerBoycottSpec,
                "disruption": DisruptionSpec}[part]
            continue
        if cls is None:
            continue
        f = getattr(cls, "model_fields", {}).get(part)
        if f is None:
            if part in COUNTRIES and cls is Scenario:
                cls = CountrySpec
            continue
        ann = f.annotation
        for cand in (ChinaSpec, USASpec, Levers, CountrySpec, FirmSpec, EventSpec):
            if ann is cand or cand.__name__ in repr(ann):
                cls = cand
                break
        else:
            cls = None
    return sorted(getattr(cls, "model_fields", {})) if cls else []


def validation_error(exc: ValidationError, source: str) -> InputError:
    """Turn pydantic's first error into one line: file, field, what is allowed."""
    err = exc.errors()[0]
    loc = err.get("loc", ())
    field = format_loc(loc)
    if err["type"] == "extra_forbidden":
        keys = _fields_at(Scenario, loc)
        msg = f"unknown key ({allowed(keys)})" if keys else "unknown key"
    elif err["type"] == "union_tag_invalid":
        msg = err["msg"].replace("Input tag", "type").replace(" found using 'type'", "")
    elif err["type"] == "literal_error":
        allowed_values = err["msg"].replace("Input should be ", "allowed: ")
        msg = f"{err.get('input')!r} is not allowed ({allowed_values})"
    else:
        got = err.get("input")
        msg = err["msg"] + (f" (got {got!r})" if not isinstance(got, dict | list) else "")
    return InputError(source, field, msg)


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    try:
        s = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source) from None
    s._source = source
    return s


def read_toml_file(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, "toml", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(path, "file", exc.strerror or str(exc)) from None


def load_scenario(name_or_path: str | Path | Scenario) -> Scenario:
    """Load a built-in scenario by name, or a scenario TOML file by path."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise InputError(p, "file", "no such file")
        return scenario_from_dict(read_toml_file(p), str(p))
    name = str(name_or_path)
    if name not in builtin_names():
        raise InputError(name, "scenario", f"unknown scenario ({allowed(builtin_names())}), "
                         "or give a path to a .toml file")
    path = builtin_dir() / f"{name}.toml"
    return scenario_from_dict(read_toml_file(path), f"{name}.toml")


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value as a TOML literal; fall back to a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(data: dict, dotted: str, value: Any, source: str) -> None:
    """Set ``a.b.c`` in nested dicts; list items by index or by their ``type``."""
    parts = dotted.split(".")
    if not all(parts):
        raise InputError(source, f"--set {dotted}", "expected KEY=VALUE with a dotted key, e.g. "
                         "china.resolve=0.8")
    cur: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if not isinstance(cur, dict | list):
            raise InputError(source, f"--set {dotted}",
                             f"{'.'.join(parts[:i])} is a value, not a table")
        if isinstance(cur, list):
            if part.isdigit() and int(part) < len(cur):
                idx = int(part)
            else:
                matches = [k for k, item in enumerate(cur)
                           if isinstance(item, dict) and item.get("type") == part]
                if not matches:
                    have = [str(k) for k in range(len(cur))] + [
                        it["type"] for it in cur if isinstance(it, dict) and "type" in it]
                    raise InputError(source, f"--set {dotted}",
                                     f"no item {part!r} in {'.'.join(parts[:i])} "
                                     f"({allowed(have)})")
                idx = matches[0]
            if not last and not isinstance(cur[idx], dict):
                raise InputError(source, f"--set {dotted}",
                                 f"{'.'.join(parts[:i + 1])} is a value, not a table")
            if last:
                cur[idx] = value
            else:
                cur = cur[idx]
            continue
        if last:
            cur[part] = value
        else:
            cur = cur.setdefault(part, {} if not parts[i + 1].isdigit() else [])


def _drop(data: dict, dotted: str) -> None:
    """Remove ``a.b.c`` from nested dicts (list items by index or by their ``type``), so that
    the field takes its default; a path that leads nowhere is left alone."""
    *parents, last = dotted.split(".")
    cur: Any = data
    for part in parents:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list):
            cur = (cur[int(part)] if part.isdigit() and int(part) < len(cur) else
                   next((x for x in cur if isinstance(x, dict) and x.get("type") == part),
                        None))
        else:
            return
    if isinstance(cur, dict):
        cur.pop(last, None)


def edit(scenario: Scenario, changes) -> Scenario:
    """A copy of ``scenario`` with ``changes`` (a dict, or ``(path, value)`` pairs applied in
    order) set at their dotted paths and validated again; a value of None removes the key, so
    that it takes its default.

    >>> s = edit(load_scenario("kor-aligns"), {"china.resolve": 0.9, "seed": 7})
    >>> s.china.resolve, s.seed
    (0.9, 7)
    """
    data = copy.deepcopy(scenario.to_dict())
    for path, value in (changes.items() if isinstance(changes, dict) else changes):
        if value is None:
            _drop(data, path)
        else:
            set_path(data, path, value, scenario.source)
    return scenario_from_dict(data, scenario.source)


def apply_sets(scenario: Scenario, sets: list[str]) -> Scenario:
    """A copy of ``scenario`` with ``key.path=value`` overrides applied, validated again."""
    if not sets:
        return scenario
    changes = []
    for item in sets:
        if "=" not in item:
            raise InputError(scenario.source, f"--set {item}", "expected KEY=VALUE, e.g. "
                             "china.resolve=0.8")
        key, _, value = item.partition("=")
        changes.append((key.strip(), parse_value(value.strip())))
    return edit(scenario, changes)


def graph_path(s: Scenario) -> str | None:
    """The scenario's ``graph`` path, relative paths taken from the scenario file's folder."""
    if not s.graph:
        return None
    p = Path(s.graph)
    if not p.is_absolute() and s.source.endswith(".toml") and Path(s.source).exists():
        cand = Path(s.source).parent / p
        if cand.exists():
            return str(cand.resolve())
    return str(p.resolve()) if p.exists() else s.graph


def check_against_graph(s: Scenario, g) -> None:
    """Check the names a scenario uses (segments, firms, nodes) exist in the compiled graph."""
    segs, firms = set(g.segments) - {"final_demand"}, set(g.firms)

    def need(values, pool, field, what):
        for v in values or []:
            if v not in pool:
                raise InputError(s.source, field, f"unknown {what} {v!r} ({allowed(pool)})")

    for i, sh in enumerate(s.shocks):
        f = f"shocks[{i}]"
        if sh.type in ("import_ban", "consumer_boycott"):
            need(sh.segments, segs, f"{f}.segments", "segment")
        elif sh.type == "export_restriction":
            need(sh.inputs, segs, f"{f}.inputs", "input")
        elif sh.type == "firm_sanction":
            need([sh.firm], firms, f"{f}.firm", "firm")
        elif sh.type == "disruption":
            need(sh.nodes, set(g.node_ids), f"{f}.nodes", "node")
            need([sh.segment] if sh.segment else [], segs, f"{f}.segment", "segment")
            need([sh.firm] if sh.firm else [], firms, f"{f}.firm", "firm")
            if not (sh.nodes or sh.country or sh.segment or sh.firm):
                raise InputError(s.source, f, "a disruption needs nodes, country, segment or firm")
    need(list(s.firms), firms, "firms", "firm")
