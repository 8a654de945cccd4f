"""One dashboard session: a scenario stepped week by week, with and without its rules.

A :class:`Session` holds what one browser tab explores: the scenario (a validated
:class:`~chip4model.scenario.Scenario`), its seed, and two models stepped in lockstep, one
with the collective-resilience rules and one, from the same seed, without them. It knows
nothing about Solara, so it is tested and benchmarked on its own.

Stepping a session to its last week gives exactly what ``run()`` (and so ``chip4 run`` on the
TOML from :meth:`Session.to_toml`) gives:

>>> s = Session.from_name("thaad-2017")
>>> s.step(10)
10
>>> s.week, s.done
(10, False)
>>> s.run_to_end(), s.done
(146, True)
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import tomli_w

from ..errors import InputError
from ..model import Chip4Model
from ..results import Recorder, RunResult
from ..runner import result_of
from ..scenario import Scenario, edit, load_scenario, scenario_from_dict


class Session:
    """A scenario and seed, run one week at a time, with its no-rules counterfactual."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self._lock = threading.RLock()   # the page's Play thread and its buttons share a session
        self.scenario = scenario
        self.seed = int(seed if seed is not None else
                        (scenario.seed if scenario.seed is not None else 0))
        self.reset()

    @classmethod
    def from_name(cls, name_or_path, seed: int | None = None) -> Session:
        """A session on a built-in scenario name or a scenario TOML path."""
        return cls(load_scenario(name_or_path), seed)

    @classmethod
    def from_toml(cls, text: str | bytes, source: str = "<upload>") -> Session:
        """A session on the text of a scenario TOML file (e.g. an upload).

        Raises :class:`~chip4model.errors.InputError` with one line naming ``source``, the
        field and what is allowed, as ``chip4 run`` does.
        """
        return cls(parse_scenario_toml(text, source))

    # --- running ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to week 0 with fresh models (same scenario and seed)."""
        s = self.scenario
        model = Chip4Model(s, rng=self.seed, collect=False)
        rec = Recorder(model, s.steps)
        cf_model = cf_rec = None
        if s.rules:
            cf_model = Chip4Model(s.without_rules(), rng=self.seed, collect=False)
            cf_rec = Recorder(cf_model, s.steps)
        #: the members inside the U.S.-led controls at week 0
        start_in_controls = frozenset(m.iso3 for m in model.members if m.in_controls)
        with self._lock:
            self.model, self.rec, self.cf_model, self.cf_rec = model, rec, cf_model, cf_rec
            self.start_in_controls = start_in_controls
            self._result = None     # (week, RunResult) once computed

    @property
    def week(self) -> int:
        """Weeks run so far."""
        return self.rec.t

    @property
    def steps(self) -> int:
        return self.scenario.steps

    @property
    def done(self) -> bool:
        return self.rec.t >= self.scenario.steps

    @property
    def has_rules(self) -> bool:
        return self.cf_model is not None

    def step(self, n: int = 1) -> int:
        """Advance up to ``n`` weeks (not past the scenario's last); return weeks advanced."""
        with self._lock:
            k = max(0, min(int(n), self.steps - self.week))
            for _ in range(k):
                self.model.advance()
                self.rec.capture(self.model)
                if self.cf_model is not None:
                    self.cf_model.advance()
                    self.cf_rec.capture(self.cf_model)
            return k

    def run_to_end(self) -> int:
        with self._lock:
            return self.step(self.steps - self.week)

    # --- results ---------------------------------------------------------------------------
    def result(self) -> RunResult:
        """The results so far (all weeks once :attr:`done`), as ``run()`` returns them."""
        with self._lock:
            if self._result is None or self._result[0] != self.week:
                cf = None
                if self.cf_model is not None:
                    cf = result_of(self.scenario.without_rules(), self.seed, self.cf_model,
                                   self.cf_rec, None)
                self._result = (self.week, result_of(self.scenario, self.seed, self.model,
                                                     self.rec, cf))
            return self._result[1]

    def verdict(self) -> str:
        """What the rules did so far, in words: absorption and deterrence."""
        with self._lock:
            r = self.result()
            cf = r.counterfactual.summary if r.counterfactual is not None else None
            active = (self.model.retaliation_active,
                      self.cf_model.retaliation_active if self.cf_model is not None else False)
            return describe_outcome(r.summary, self.week, self.steps, cf, active)

    # --- export ----------------------------------------------------------------------------
    def to_toml(self) -> str:
        """The scenario as TOML, with this session's seed: ``chip4 run FILE`` reproduces it."""
        data = self.scenario.to_dict()
        data["seed"] = self.seed
        header = (f"# chip4model scenario exported from the dashboard.\n"
                  f"# Reproduce with: chip4 run {file_stem(data.get('name', 'scenario'))}.toml\n")
        return header + tomli_w.dumps(data)

    def to_csv(self) -> str:
        """Tidy results so far: ``run, week, entity, variable, value`` with run ``rules`` and,
        when the scenario has rules, ``no_rules``."""
        r = self.result()
        frames = [r.timeseries.assign(run="rules" if self.has_rules else "scenario")]
        if r.counterfactual is not None:
            frames.append(r.counterfactual.timeseries.assign(run="no_rules"))
        df = pd.concat(frames, ignore_index=True)[["run", "week", "entity", "variable", "value"]]
        buf = io.StringIO()
        df.to_csv(buf, index=False, float_format="%.17g")
        return buf.getvalue()


# --- scenarios from edits and uploads -----------------------------------------------------
def parse_scenario_toml(text: str | bytes, source: str = "<upload>") -> Scenario:
    """Validate the text of a scenario TOML file; one-line :class:`InputError` if bad."""
    import tomllib

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(source, "file", "not a UTF-8 text file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, "toml", f"not valid TOML: {exc}") from None
    s = scenario_from_dict(data, source)
    # names (segments, firms, nodes) must exist in the graph: the model checks on build
    Chip4Model(s, rng=0, collect=False)
    return s


def file_stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(name)) or "scenario"


def describe_outcome(summary: dict, week: int, steps: int, cf_summary: dict | None = None,
                     active: tuple[bool, bool] | None = None) -> str:
    """Sentences on retaliation, deterrence and absorption, from a run summary (and that of
    its no-rules counterfactual, for what can be said before the last week). ``active`` says
    whether China's retaliation is in force this week with and without the rules.

    >>> s = Session.from_name("kor-aligns-collective")
    >>> _ = s.run_to_end()
    >>> print(s.verdict())  # doctest: +NORMALIZE_WHITESPACE
    China retaliated against KOR with consumer_boycott, export_restriction for 12 weeks.
    Retaliation was deterred by the rules: without them it would have lasted 16 weeks.
    Absorption ratio -0.08: with the rules KOR lost 8% more than without them.
    """
    r = summary["retaliation"]
    cfr = cf_summary["retaliation"] if cf_summary else None
    final = week >= steps
    so_far = "" if final else f" (week {week} of {steps}, so far)"
    if r["started"]:
        first = (f"China retaliated against {r['target']} with {', '.join(r['instruments'])} "
                 f"for {r['weeks_active']} weeks{so_far}.")
    else:
        first = f"China has not retaliated{so_far}." if not final else \
            "China did not retaliate."
    parts = [first]
    if not summary["rules"]:
        parts.append("No collective-resilience rules are in force.")
        return " ".join(parts)
    if final:
        if summary["deterred"]:
            parts.append(f"Retaliation was deterred by the rules: without them it would have "
                         f"lasted {cfr['weeks_active']} weeks." if r["started"] else
                         "Retaliation was deterred by the rules: without them China would have "
                         "retaliated.")
        elif cfr is not None and not cfr["started"] and not r["started"]:
            parts.append("Without the rules China would not have retaliated either: there was "
                         "nothing to deter.")
        else:
            parts.append("The rules did not deter retaliation.")
    elif cfr is not None and cfr["started"] and not r["started"]:
        parts.append("Without the rules China would have retaliated by now.")
    elif active is not None and r["started"] and not active[0] and active[1]:
        parts.append("China has stopped; without the rules it is still retaliating.")
    a = summary["absorption_ratio"]
    target = summary["target"]
    if a is None:
        parts.append("No loss to absorb." if final else "No loss to absorb yet.")
    elif abs(a) < 0.005:
        parts.append(f"Absorption ratio {a:.2f}: the rules made no difference to {target}'s "
                     f"net loss{'' if final else ' so far'}.")
    elif a > 0:
        parts.append(f"Absorption ratio {a:.2f}: the rules removed {100 * a:.0f}% of "
                     f"{target}'s net loss{'' if final else ' so far'}.")
    else:
        parts.append(f"Absorption ratio {a:.2f}: with the rules {target} lost "
                     f"{-100 * a:.0f}% more than without them{'' if final else ' so far'}.")
    return " ".join(parts)


def caveats(session: Session) -> list[str]:
    """What the page should point out about a scenario before it runs (no error, but a
    setting that makes nothing happen)."""
    s, out = session.scenario, []
    if s.china.decides:
        for ev in s.events:
            if ev.type == "join_controls" and ev.member in session.start_in_controls:
                out.append(f"{ev.member} is inside the U.S. export controls from the start, so "
                           f"its joining in week {ev.week} provokes nothing and China has no "
                           "reason to retaliate. Lower its threat perception (Members) to "
                           "start it outside.")
    return out


def shortfall_by_node(model) -> np.ndarray:
    """Last week's shortfall of each node: 1 - output / baseline output (0 if no output)."""
    g = model.graph
    x0 = g.x0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.where(x0 > 0, 1.0 - model.engine.output / x0, 0.0), -1.0, 1.0)


__all__ = ["Session", "caveats", "describe_outcome", "edit", "parse_scenario_toml",
           "shortfall_by_node"]
