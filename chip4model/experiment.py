"""Experiments: declarative TOML files describing many runs, validated on load.

An experiment names a base scenario, the factors to vary, how to sample them, how many
replications, which metrics to keep, and the claims (``[[expect]]``) its results must support.
With its seed it describes every run of a sweep completely.

>>> exp = load_experiment("experiments/rules_vs_none.toml")      # doctest: +SKIP
>>> d = design(exp)                                                # doctest: +SKIP
>>> d.n_runs == len(d.points) * exp.replications                   # doctest: +SKIP
True

The file format is described in ``docs/user-guide.md`` ("Experiments and sweeps").
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError, allowed
from .scenario import (
    MEMBERS,
    RULE_TYPES,
    Scenario,
    apply_sets,
    format_loc,
    load_scenario,
    read_toml_file,
    scenario_from_dict,
    set_path,
    validation_error,
)

SAMPLERS = ("full_factorial", "latin_hypercube", "sobol", "morris")
SENSITIVITY_COLUMNS = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"],
                       "morris": ["mu", "mu_star", "mu_star_conf", "sigma"]}
FACTOR_KINDS = ("set", "rules", "target")
TESTS = ("paired", "welch", "one_sample")
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
RESERVED = ("run_id", "point", "rep", "seed", "status", "error")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FactorSpec(Strict):
    """One dimension of the design.

    ``kind = "set"`` moves one or more scenario values (``set`` paths, as ``chip4 run --set``);
    ``kind = "rules"`` chooses the collective-resilience rules ("none", a rule name, several
    joined with "+", or "all"); ``kind = "target"`` chooses the member China's shocks hit.
    A factor has either ``values`` (a list) or ``range = [low, high]``.
    """

    name: Annotated[str, Field(pattern=NAME)]
    kind: Literal["set", "rules", "target"] = "set"
    set: list[str] = Field(default_factory=list)
    values: list[Any] | None = Field(default=None, min_length=1)
    range: tuple[float, float] | None = None
    levels: Annotated[int, Field(ge=2, le=1000)] | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _shape(self):
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of 'values' or 'range'")
        if self.range is not None:
            lo, hi = self.range
            if not lo < hi:
                raise ValueError(f"range low must be below high (got {list(self.range)})")
            if self.kind != "set":
                raise ValueError(f"a '{self.kind}' factor takes 'values', not 'range'")
        if self.kind == "set" and not self.set:
            raise ValueError("a 'set' factor needs 'set', the scenario path(s) it moves, "
                             "e.g. set = [\"china.resolve\"]")
        if self.kind != "set" and self.set:
            raise ValueError(f"a '{self.kind}' factor takes no 'set' paths")
        if self.kind == "rules":
            for v in self.values:
                rule_names(v)           # raises ValueError with the allowed names
        if self.kind == "target":
            for v in self.values:
                if v not in MEMBERS:
                    raise ValueError(f"unknown member {v!r} ({allowed(MEMBERS)})")
        return self

    @property
    def numeric(self) -> bool:
        """True if the factor's values are numbers (a range, or a list of numbers)."""
        if self.range is not None:
            return True
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values)

    def grid(self, levels: int | None = None) -> list:
        """The factor's values for a full factorial design."""
        if self.values is not None:
            return list(self.values)
        n = levels or self.levels
        if n is None:
            raise ValueError("a 'range' factor in a full factorial design needs 'levels'")
        pts = np.linspace(self.range[0], self.range[1], n)
        return [int(round(x)) for x in pts] if self.integer else [float(x) for x in pts]

    def from_unit(self, u: float):
        """Map a number in [0, 1) (from a sampler) to a value of this factor."""
        if self.range is not None:
            x = self.range[0] + u * (self.range[1] - self.range[0])
            return int(round(x)) if self.integer else float(x)
        k = min(int(u * len(self.values)), len(self.values) - 1)
        return self.values[k]


class SamplerSpec(Strict):
    """How points are drawn: a full factorial grid, or SALib's LHS, Saltelli (Sobol) or Morris.

    ``n`` is the number of LHS points, Saltelli's base sample size N (N * (k + 2) points, or
    N * (2k + 2) with ``second_order``) or the number of Morris trajectories (N * (k + 1)
    points)."""

    method: Literal["full_factorial", "latin_hypercube", "sobol", "morris"] = "full_factorial"
    n: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    levels: Annotated[int, Field(ge=2, le=100)] = 4
    second_order: bool = False

    @model_validator(mode="after")
    def _n(self):
        if self.method != "full_factorial" and self.n is None:
            raise ValueError(f"the {self.method} sampler needs 'n'")
        return self


class QuickSpec(Strict):
    """What ``--quick`` shrinks: sampler n, replications, weeks, levels of range factors."""

    n: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    replications: Annotated[int, Field(ge=1, le=100_000)] | None = None
    steps: Annotated[int, Field(ge=1, le=5200)] | None = None
    levels: Annotated[int, Field(ge=2, le=1000)] | None = None


class ClaimSpec(Strict):
    """A statement the results must support, e.g.::

        [[expect]]
        claim = "Compensation takes on part of Korea's weekly loss"
        check = "mean(shock_absorption | rules=compensation_fund) > 0"
        test = "paired"

    ``check`` is evaluated by :mod:`chip4model.claims`; ``tolerance`` is the slack allowed in
    the comparison; ``test`` adds a one-sided test over replications at level ``alpha``.
    With ``on = "sensitivity"`` the check reads the sensitivity indices instead of the runs
    (Sobol and Morris designs): one row per metric and factor, columns ``metric``, ``factor``
    and the indices (``S1``, ``S1_conf``, ``ST``, ``ST_conf``; or ``mu``, ``mu_star``,
    ``mu_star_conf``, ``sigma``), e.g.
    ``argmax(mean(ST | metric=KOR.net_loss_pct) by factor) == china_resolve``.
    """

    claim: Annotated[str, Field(min_length=1)]
    check: Annotated[str, Field(min_length=3)]
    on: Literal["runs", "sensitivity"] = "runs"
    tolerance: Annotated[float, Field(ge=0)] = 0.0
    test: Literal["paired", "welch", "one_sample"] | None = None
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05


class Experiment(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    question: str = ""
    scenario: str = "kor-aligns-collective"
    set: list[str] = Field(default_factory=list)
    steps: Annotated[int, Field(ge=1, le=5200)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    replications: Annotated[int, Field(ge=1, le=100_000)] = 1
    counterfactual: bool = True
    factors: list[FactorSpec] = Field(default_factory=list)
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    metrics: list[str] = Field(min_length=1)
    timeseries: list[str] = Field(default_factory=list)
    quick: QuickSpec = Field(default_factory=QuickSpec)
    expect: list[ClaimSpec] = Field(default_factory=list)

    # where the experiment came from (not part of the file)
    _source: str = "<experiment>"
    _digest: str = ""

    @property
    def source(self) -> str:
        return self._source

    @property
    def digest(self) -> str:
        """SHA-256 of the experiment file's bytes (or of its canonical form if built in code)."""
        return self._digest

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]


# --- rule sets -------------------------------------------------------------------------------
def rule_names(value) -> list[str]:
    """The rules a ``rules`` factor value stands for: "none", "all", "a" or "a+b".

    >>> rule_names("market_absorption+compensation_fund")
    ['market_absorption', 'compensation_fund']
    >>> rule_names("none")
    []
    """
    if not isinstance(value, str):
        raise ValueError(f"a rules value is a string, got {value!r}")
    if value == "none":
        return []
    if value == "all":
        return list(RULE_TYPES)
    names = [v.strip() for v in value.split("+")]
    for n in names:
        if n not in RULE_TYPES:
            raise ValueError(f"unknown rule {n!r} in {value!r} "
                             f"({allowed((*RULE_TYPES, 'none', 'all'))}; join rules with '+')")
    return names


# --- applying a design point -----------------------------------------------------------------
def retarget(data: dict, member: str) -> None:
    """Point the scenario (a dict) at ``member``: its target, China's shocks, the joining event.

    Shocks China issues against the old target, and ``join_controls`` events of the old target,
    are moved to the new one, so that "the same shock" hits each member in turn.
    """
    old = data.get("target")
    data["target"] = member
    for sh in data.get("shocks", []):
        if sh.get("issuer", "CHN") != "CHN":
            continue
        if "target" in sh and (old is None or sh["target"] == old):
            sh["target"] = member
        if "targets" in sh:
            sh["targets"] = [member if (old is None or t == old) else t for t in sh["targets"]]
    for ev in data.get("events", []):
        if ev.get("type") == "join_controls" and old is not None and ev.get("member") == old:
            ev["member"] = member


def _set_value(data: dict, path: str, value, source: str) -> None:
    """Set ``path`` in the scenario dict; a path into a rule the point does not have is skipped."""
    parts = path.split(".")
    if parts[0] == "rules" and len(parts) > 1 and not parts[1].isdigit():
        if parts[1] not in RULE_TYPES:
            raise InputError(source, f"--set {path}",
                             f"unknown rule {parts[1]!r} ({allowed(RULE_TYPES)})")
        if not any(r.get("type") == parts[1] for r in data.get("rules", [])):
            return
    set_path(data, path, value, source)


def apply_point(base: Scenario, factors: list[FactorSpec], values: dict) -> Scenario:
    """The scenario of one design point: ``base`` with each factor set to ``values[name]``."""
    s = base
    for f in factors:
        if f.kind == "rules":
            s = s.with_rules(rule_names(values[f.name]) or ["none"])
    data = copy.deepcopy(s.to_dict())
    for f in factors:
        v = values[f.name]
        if isinstance(v, np.generic):
            v = v.item()
        if f.kind == "target":
            retarget(data, v)
        elif f.kind == "set":
            for path in f.set:
                _set_value(data, path, v, base.source)
    return scenario_from_dict(data, base.source)


# --- loading ---------------------------------------------------------------------------------
def _base_path(exp: Experiment, source: Path | None) -> str:
    """The base scenario: a built-in name, or a path taken relative to the experiment file."""
    p = Path(exp.scenario)
    if p.suffix == ".toml" and not p.is_absolute() and source is not None:
        cand = source.parent / p
        if cand.exists():
            return str(cand)
    return exp.scenario


def base_scenario(exp: Experiment, steps: int | None = None) -> Scenario:
    """The experiment's base scenario with its ``set`` overrides and ``steps``."""
    src = Path(exp.source) if exp.source.endswith(".toml") else None
    try:
        s = load_scenario(_base_path(exp, src))
    except InputError as err:
        where = err.source if err.field in ("scenario", "file") else f"{err.source}: {err.field}"
        raise InputError(exp.source, "scenario", f"{where}: {err.message}") from None
    try:
        s = apply_sets(s, list(exp.set))
        n = steps or exp.steps
        if n is not None:
            s = apply_sets(s, [f"steps={int(n)}"])
    except InputError as err:
        raise InputError(exp.source, "set", f"{err.field.removeprefix('--set ')}: "
                         f"{err.message}") from None
    return s


def experiment_from_dict(data: dict, source: str = "<experiment>",
                         digest: str | None = None) -> Experiment:
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as exc:
        raise _experiment_error(exc, source) from None
    exp._source = source
    exp._digest = digest or hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()
    check_experiment(exp)
    return exp


def load_experiment(path: str | Path) -> Experiment:
    """Load and check an experiment TOML file; raises :class:`InputError` on any problem."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file", "no such file")
    if p.is_dir():
        raise InputError(p, "file", "is a folder (allowed: an experiment .toml file)")
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return experiment_from_dict(read_toml_file(p), str(p), digest)


def _experiment_error(exc: ValidationError, source: str) -> InputError:
    err = exc.errors()[0]
    if err["type"] == "extra_forbidden":
        loc = err["loc"]
        cls = {"factors": FactorSpec, "sampler": SamplerSpec, "quick": QuickSpec,
               "expect": ClaimSpec}.get(loc[0], Experiment) if len(loc) > 1 else Experiment
        return InputError(source, format_loc(loc), f"unknown key ({allowed(cls.model_fields)})")
    if err["type"] == "value_error":
        return InputError(source, format_loc(err["loc"]),
                          err["msg"].removeprefix("Value error, "))
    return validation_error(exc, source)


def check_experiment(exp: Experiment) -> None:
    """Everything that can be checked before running: names, the base scenario, every factor
    value applied to it, metrics and claims."""
    _check_factors(exp)
    base = base_scenario(exp)
    _check_rule_paths(exp, base)
    _probe_values(exp, base)
    _check_outputs(exp, base)
    _check_claims(exp)


def _check_factors(exp: Experiment) -> None:
    """Factor names are unique, not reserved, not metrics; the sampler can take the factors."""
    names = exp.factor_names
    for i, n in enumerate(names):
        if n in RESERVED or n in names[:i] or n in exp.metrics:
            why = ("is reserved" if n in RESERVED else "is used twice" if n in names[:i]
                   else "is also a metric")
            raise InputError(exp.source, f"factors[{i}].name",
                             f"{n!r} {why} (factor names must be unique, not a metric and not "
                             f"one of {', '.join(RESERVED)})")
    if exp.sampler.method == "full_factorial":
        for i, f in enumerate(exp.factors):
            if f.range is not None and f.levels is None:
                raise InputError(exp.source, f"factors[{i}].levels", "a range factor in a "
                                 "full factorial design needs levels (allowed: 2 to 1000)")
    elif not exp.factors:
        raise InputError(exp.source, "factors", f"the {exp.sampler.method} sampler needs at "
                         "least one factor")


def _rules_factors(exp: Experiment) -> list[FactorSpec]:
    return [g for g in exp.factors if g.kind == "rules"]


def _check_rule_paths(exp: Experiment, base: Scenario) -> None:
    """A set path into a rule is applied only where the point has that rule: refuse a path
    into an unknown rule, or into a rule that no point of the design has."""
    rules_fs = _rules_factors(exp)
    in_design = ({n for g in rules_fs for v in g.values for n in rule_names(v)} if rules_fs
                 else {r.type for r in base.rules})
    for i, f in enumerate(exp.factors):
        for path in f.set:
            parts = path.split(".")
            if parts[0] != "rules" or len(parts) < 2 or parts[1].isdigit():
                continue
            if parts[1] not in RULE_TYPES:
                raise InputError(exp.source, f"factors[{i}].set", f"{path!r}: unknown rule "
                                 f"{parts[1]!r} ({allowed(RULE_TYPES)})")
            if parts[1] not in in_design:
                raise InputError(exp.source, f"factors[{i}].set",
                                 f"{path!r} moves rule {parts[1]!r}, which no point of the "
                                 f"design has (rules in the design: "
                                 f"{', '.join(sorted(in_design)) or 'none'})")


def _probe_values(exp: Experiment, base: Scenario) -> None:
    """Apply every value of every factor (a range's two ends) to the base scenario, with every
    choice of rules, so that no run of the sweep fails on a value the scenario refuses."""
    rules_fs = _rules_factors(exp)
    choices = list(product(*(g.values for g in rules_fs)))
    for i, f in enumerate(exp.factors):
        probe = f.values if f.values is not None else [f.from_unit(0.0), f.from_unit(1.0)]
        for v in probe:
            for choice in (choices if f.kind != "rules" else [()]):
                vals = {g.name: _first(g) for g in exp.factors}
                vals.update(zip((g.name for g in rules_fs), choice, strict=False))
                vals[f.name] = v
                try:
                    apply_point(base, exp.factors, vals)
                except InputError as err:
                    where = "".join(f", {k} = {vals[k]!r}" for k, _ in
                                    zip((g.name for g in rules_fs), choice, strict=False))
                    raise InputError(exp.source, f"factors[{i}] ({f.name} = {v!r}{where})",
                                     f"{err.field}: {err.message}") from None


def _check_outputs(exp: Experiment, base: Scenario) -> None:
    """Metrics name things the runs report (firms and segments of the scenario's graph), once
    each; time-series variables exist."""
    from .metrics import TIMESERIES_VARIABLES, check_metric
    from .model import compiled_graph
    from .scenario import graph_path

    g = compiled_graph(graph_path(base))
    for i, m in enumerate(exp.metrics):
        check_metric(m, g, exp.source, f"metrics[{i}]")
    if len(set(exp.metrics)) != len(exp.metrics):
        dup = next(m for m in exp.metrics if exp.metrics.count(m) > 1)
        raise InputError(exp.source, "metrics", f"{dup!r} is listed twice")
    for i, v in enumerate(exp.timeseries):
        if v not in TIMESERIES_VARIABLES and not v.startswith("supplier_share:"):
            raise InputError(exp.source, f"timeseries[{i}]",
                             f"unknown variable {v!r} ({allowed(TIMESERIES_VARIABLES)})")


def _check_claims(exp: Experiment) -> None:
    """Every claim parses, names metrics and factors of this experiment (or, with
    ``on = "sensitivity"``, the indices of a Sobol or Morris design), and suits its test."""
    if not exp.expect:
        return
    from .claims import parse_check

    for i, c in enumerate(exp.expect):
        try:
            if c.on == "sensitivity":
                if exp.sampler.method not in SENSITIVITY_COLUMNS:
                    raise ValueError(f"claims on sensitivity need a sobol or morris sampler "
                                     f"(this experiment uses {exp.sampler.method})")
                parse_check(c.check, metrics=SENSITIVITY_COLUMNS[exp.sampler.method],
                            factors=["metric", "factor"], test=c.test)
            else:
                parse_check(c.check, metrics=exp.metrics, factors=exp.factor_names,
                            test=c.test)
        except ValueError as err:
            raise InputError(exp.source, f"expect[{i}].check", str(err)) from None


def _first(f: FactorSpec):
    return f.values[0] if f.values is not None else f.from_unit(0.0)


# --- the design ------------------------------------------------------------------------------
@dataclass
class Design:
    """The sampled points and the seeds of a sweep.

    ``points`` is a list of dicts (factor name -> value), ``unit`` the sampler's matrix in the
    factors' own units (SALib's X, for sensitivity analysis), ``seeds`` one seed per
    replication, shared by every point (common random numbers, so comparisons are paired).
    Run ``i`` is point ``i // replications``, replication ``i % replications``.
    """

    points: list[dict]
    unit: np.ndarray | None
    seeds: list[int]
    problem: dict | None
    steps: int | None

    @property
    def replications(self) -> int:
        return len(self.seeds)

    @property
    def n_runs(self) -> int:
        return len(self.points) * len(self.seeds)

    def run(self, run_id: int) -> tuple[dict, int, int, int]:
        """(point values, point index, replication, seed) of run ``run_id``."""
        p, r = divmod(run_id, len(self.seeds))
        return self.points[p], p, r, self.seeds[r]


def salib_problem(exp: Experiment) -> dict:
    """SALib's problem dict: numeric ranges as they are, lists as index ranges [0, k)."""
    bounds = [list(f.range) if f.range is not None else [0.0, float(len(f.values))]
              for f in exp.factors]
    return {"num_vars": len(exp.factors), "names": exp.factor_names, "bounds": bounds}


def seeds_for(exp: Experiment, replications: int) -> tuple[int, list[int]]:
    """(sampler seed, replication seeds) derived from the experiment seed by SeedSequence.

    The k-th replication seed does not depend on how many replications are drawn, so a quick
    run's replications are the first ones of the full run's.
    """
    root = np.random.SeedSequence(exp.seed)
    sampler_ss, reps_ss = root.spawn(2)
    sampler_seed = int(sampler_ss.generate_state(1, dtype=np.uint32)[0])
    seeds = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in reps_ss.spawn(replications)]
    return sampler_seed, seeds


def design(exp: Experiment, quick: bool = False) -> Design:
    """Sample the experiment's design (``quick`` uses the ``[quick]`` sizes)."""
    q = exp.quick if quick else QuickSpec()
    reps = q.replications or exp.replications
    steps = (q.steps if quick and q.steps else None) or exp.steps
    sampler_seed, seeds = seeds_for(exp, reps)
    method = exp.sampler.method
    if method == "full_factorial":
        grids = [f.grid(q.levels if (quick and q.levels and f.range is not None) else None)
                 for f in exp.factors]
        points = [dict(zip(exp.factor_names, combo, strict=True)) for combo in product(*grids)]
        return Design(points, None, seeds, None, steps)
    n = q.n or exp.sampler.n
    problem = salib_problem(exp)
    X = sample(method, problem, n, exp.sampler, sampler_seed)
    points = []
    for row in X:
        point = {}
        for f, x, (lo, hi) in zip(exp.factors, row, problem["bounds"], strict=True):
            point[f.name] = f.from_unit(min(max((x - lo) / (hi - lo), 0.0), 1.0 - 1e-12))
        points.append(point)
    return Design(points, X, seeds, problem, steps)


def sample(method: str, problem: dict, n: int, spec: SamplerSpec, seed: int) -> np.ndarray:
    """Draw SALib's sample matrix for ``method``."""
    if method == "latin_hypercube":
        from SALib.sample import latin

        return latin.sample(problem, n, seed=seed)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=spec.second_order, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=spec.levels, seed=seed)
    raise ValueError(f"unknown sampler {method!r}")


def label(value) -> str:
    """A factor value as text (for tables and figure axes)."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


__all__ = ["Experiment", "FactorSpec", "ClaimSpec", "Design", "load_experiment", "design",
           "apply_point", "rule_names", "retarget", "base_scenario", "seeds_for", "SAMPLERS"]
