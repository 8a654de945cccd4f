"""``run``: one pure function from (scenario, seed, overrides) to a :class:`RunResult`.

Same inputs and seed give identical results. When the scenario has collective-resilience
rules, the same scenario and seed is also run without them, and the absorption ratio and
deterrence are measured against that counterfactual.

>>> r = run("baseline", seed=1, steps=10)
>>> r.summary["countries"]["KOR"]["gdp_loss_pct"] == 0.0
True
"""

from __future__ import annotations

from .model import Chip4Model
from .results import Recorder, RunResult, names_of, summarise
from .scenario import Scenario, apply_sets, load_scenario


def prepare(scenario="kor-aligns-collective", *, rules=None, sets=None,
            steps: int | None = None) -> Scenario:
    """Load and override a scenario: everything that can fail on bad input, before running."""
    s = load_scenario(scenario)
    if rules is not None:
        s = s.with_rules([rules] if isinstance(rules, str) else list(rules))
    s = apply_sets(s, list(sets or []))
    if steps is not None:
        s = apply_sets(s, [f"steps={int(steps)}"])
    return s


def result_of(s: Scenario, seed, model: Chip4Model, rec: Recorder,
              counterfactual: RunResult | None) -> RunResult:
    """The :class:`RunResult` of ``model`` after the weeks ``rec`` holds (all of them for
    ``run()``; the weeks so far for the dashboard's session)."""
    summary = summarise(model, rec, counterfactual)
    summary["seed"] = seed
    return RunResult(scenario=s, seed=seed, steps=s.steps, summary=summary, rec=rec,
                     names=names_of(model), counterfactual=counterfactual)


def _simulate(s: Scenario, seed, counterfactual: RunResult | None) -> RunResult:
    model = Chip4Model(s, rng=seed, collect=False)
    rec = Recorder(model, s.steps)
    for _ in range(s.steps):
        model.advance()   # = model.step() without Mesa's clock bookkeeping
        rec.capture(model)
    return result_of(s, seed, model, rec, counterfactual)


def run(scenario="kor-aligns-collective", *, seed: int | None = None, rules=None, sets=None,
        steps: int | None = None, counterfactual: bool = True) -> RunResult:
    """Run a scenario (name, TOML path or :class:`Scenario`) and return its results.

    Parameters
    ----------
    seed : int, optional
        Random seed; defaults to the scenario's ``seed``, else 0.
    rules : list[str], optional
        Replace the scenario's rules (``["none"]`` removes them all).
    sets : list[str], optional
        ``key.path=value`` overrides, e.g. ``["china.resolve=0.8"]``.
    steps : int, optional
        Weeks to simulate (default: the scenario's, 156 unless it says otherwise).
    counterfactual : bool
        Also run without the rules to measure absorption and deterrence.
    """
    s = prepare(scenario, rules=rules, sets=sets, steps=steps)
    if seed is None:
        seed = s.seed if s.seed is not None else 0
    cf = None
    if counterfactual and s.rules:
        cf = _simulate(s.without_rules(), seed, None)
    return _simulate(s, seed, cf)
