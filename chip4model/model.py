"""Chip4Model: China's retaliation against a Chip 4 member and the alliance's collective response.

Agents (:mod:`chip4model.agents`) decide; the supply chain (:mod:`chip4model.engine`) moves
goods on arrays compiled once from the networkx graph (:mod:`chip4model.graph`); shocks and
collective-resilience rules (:mod:`chip4model.policies`) are small objects the model applies
each week. One step is one week.

The model is an ordinary :class:`mesa.Model`: keyword parameters, ``rng``, a DataCollector, so
``mesa.batch_run`` works on it (tests/test_mesa.py), and so would Mesa's SolaraViz (untested:
it needs altair, which the project does not install; the project's own interactive page is
:mod:`chip4model.dashboard`). Parameters beyond the scenario's name are dotted
scenario keys with ``__`` for ``.``, e.g. ``Chip4Model("kor-aligns", china__resolve=0.8)``.

>>> m = Chip4Model("thaad-2017", rng=1)
>>> for _ in range(20):
...     m.step()
>>> bool(m.realised_loss_pct("KOR") > 0)
True
"""

from __future__ import annotations

import functools

import mesa
import numpy as np

from .agents import CONTROLLED, JOIN_THRESHOLD, China, Firm, Member
from .engine import SUBSTITUTION_SPEED, CompiledGraph, Controls, FlowEngine, compile_graph
from .graph import countries as country_table
from .graph import default_graph, read_graph
from .graph import firms as firm_table
from .policies.rules import RULES
from .policies.shocks import SHOCKS
from .scenario import (
    MEMBERS,
    Scenario,
    apply_sets,
    check_against_graph,
    graph_path,
    load_scenario,
)

CONSUMER_WELFARE = 0.05     # China's own cost per $ of a consumer boycott (substitutes abound)
RELOCATION_COST_WEEKS = 13  # capex of moving a week of capacity out of China, in weeks of output


@functools.lru_cache(maxsize=8)
def compiled_graph(path: str | None = None) -> CompiledGraph:
    """Compile (once per process) the default graph or a user's graph file."""
    return compile_graph(read_graph(path) if path else default_graph())


def _params_to_sets(params: dict) -> list[str]:
    out = []
    for k, v in params.items():
        key = k.replace("__", ".")
        if isinstance(v, str):
            v = '"' + v.replace('"', '\\"') + '"'
        elif isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list | tuple):
            v = "[" + ", ".join(f'"{x}"' if isinstance(x, str) else repr(x) for x in v) + "]"
        out.append(f"{key}={v}")
    return out


# --- DataCollector reporters (module-level so the model stays picklable) ----------------------
def _retaliation_intensity(m):
    return m.retaliation_intensity()


def _target_loss(m):
    return m.realised_loss_pct(m.target) if m.target else 0.0


def _china_loss(m):
    return m.realised_loss_pct("CHN")


def _alignment(a):
    return a.alignment


def _credibility(a):
    return a.credibility


def _revenue(a):
    return a.revenue


class Chip4Model(mesa.Model):
    """Agent-based model of the Chip 4 alliance under Chinese economic coercion.

    Parameters
    ----------
    scenario : str | Path | Scenario
        Built-in scenario name, TOML path or Scenario object (default ``"baseline"``).
    rules : list[str] | None
        Replace the scenario's collective-resilience rules (``["none"]`` for none).
    sets : list[str]
        ``key.path=value`` overrides, as on the command line.
    rng : int | numpy.random.Generator | SeedSequence | None
        Seed; the scenario's ``seed`` is used when None.
    collect : bool
        Run Mesa's DataCollector each step (``run()`` keeps its own faster record).
    **params
        Further overrides as keyword parameters, ``china__resolve=0.8``.
    """

    def __init__(self, scenario="baseline", *, rules=None, sets=None, rng=None,
                 collect: bool = True, **params):
        s = load_scenario(scenario)
        if rules is not None:
            s = s.with_rules([rules] if isinstance(rules, str) else list(rules))
        s = apply_sets(s, list(sets or []) + _params_to_sets(params))
        if rng is None and s.seed is not None:
            rng = s.seed
        super().__init__(rng=rng)
        self.spec: Scenario = s  # (mesa.Model owns .scenario)
        self.levers = s.levers
        self.graph: CompiledGraph = compiled_graph(graph_path(s))
        check_against_graph(s, self.graph)
        g = self.graph
        self.engine = FlowEngine(g, s.rationing)
        # separate streams, so that switching rules on or off does not shift China's draws
        seeds = np.random.SeedSequence(int(self.rng.integers(2**63))).spawn(2)
        self.china_rng, self.rule_rng = (np.random.default_rng(x) for x in seeds)
        self.week = 0
        self.relocation_cost_weeks = RELOCATION_COST_WEEKS
        self._prepare_accounting()

        table = country_table()
        self.china_params = dict(table.get("CHN", {}))
        for key in ("dependence_threshold", "counter_cost_multiplier"):
            if getattr(s.china, key) is not None:   # the scenario overrides countries.toml
                self.china_params[key] = getattr(s.china, key)
        self.china_supplies = {g.segments[x] for x in g.segment[g.nodes_where(country="CHN")]}
        self.rules = [RULES[r.type](**r.model_dump(exclude={"type"})) for r in s.rules]
        # what the pledged rules would relieve of a typical retaliation, if honoured
        self.rules_relief = min(0.9, sum(r.expected_relief("consumer_boycott")
                                         + r.expected_relief("export_restriction")
                                         for r in self.rules) / 2)
        self.shocks = [self._make_shock(sp) for sp in s.shocks]
        self.cap_mult = np.ones(g.n_nodes)
        self.hit_nodes = np.zeros(g.n_nodes, bool)
        self.firm_cap = np.ones(g.n_nodes)

        self.states: dict = {}
        for iso in MEMBERS:
            if iso in g.countries:
                self.states[iso] = Member(self, iso, table[iso], s.countries.get(iso),
                                          leader=(iso == "USA"))
        self.china = China(self, table["CHN"], s.china)
        self.states["CHN"] = self.china
        ftab = firm_table()
        self.firms = [Firm(self, name, g.nodes_where(firm=name), ftab.get(name, {}),
                           s.firms.get(name)) for name in g.firms]
        self.firms_of: dict[str, list] = {}
        for f in self.firms:
            self.firms_of.setdefault(f.hq, []).append(f)
        for r in self.rules:
            r.bind(self)
        self.members = [self.states[i] for i in MEMBERS if i in self.states]
        for mbr in self.members:       # start at each government's equilibrium alignment
            if not mbr.leader and s.countries.get(mbr.iso3, None) is None or (
                    not mbr.leader and s.countries[mbr.iso3].initial_alignment is None):
                mbr.alignment = mbr.desired(status_quo=True)
            # members already aligned are in today's controls, which the baseline reflects
            mbr.in_controls = mbr.leader or mbr.alignment >= JOIN_THRESHOLD

        self.control_blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.campaign_target: str | None = None
        self.retaliation_active = False
        self.retaliation_log: list[dict] = []
        self.campaigns = 0            # campaigns of retaliation so far
        self.campaign_start: int | None = None   # week the latest one started
        self._learned_campaigns = 0   # campaigns members have learned from
        self.rule_log: list[dict] = []
        self.events = sorted(s.events, key=lambda e: e.week)
        self.target = s.target or self._scripted_target()

        self.collect = collect
        self.datacollector = mesa.DataCollector(
            model_reporters={"retaliation_intensity": _retaliation_intensity,
                             "target_loss_pct_gdp": _target_loss,
                             "china_loss_pct_gdp": _china_loss},
            agenttype_reporters={Member: {"alignment": _alignment,
                                          "credibility": _credibility},
                                 Firm: {"revenue": _revenue}},
        )
        if collect:
            self.datacollector.collect(self)

    # --- construction helpers --------------------------------------------------------------
    def _make_shock(self, spec):
        kw = spec.model_dump(exclude={"type"})
        return SHOCKS[spec.type](**kw).bind(self.graph)

    def _scripted_target(self):
        for sh in self.shocks:
            t = getattr(sh, "target", None)
            if t in MEMBERS:
                return t
        return None

    def _prepare_accounting(self):
        g = self.graph
        with np.errstate(divide="ignore", invalid="ignore"):
            self.va_ratio = np.where(g.x0 > 0, g.va0 / g.x0, 0.0)
        self.slot_flow = np.add.reduceat(g.f0, g.slot_start) if g.n_edges else np.zeros(0)
        self.slot_subst = g.subst_rate / SUBSTITUTION_SPEED
        self.n_c = len(g.countries)
        self._cidx = {c: i for i, c in enumerate(g.countries)}
        self.va0_country = np.bincount(g.country, g.va0, minlength=self.n_c)
        self.x0_country = np.bincount(g.country, np.where(g.is_sink, 0, g.x0), minlength=self.n_c)
        self.weekly_va_loss_c = np.zeros(self.n_c)
        self.weekly_output_c = self.x0_country.copy()
        self.transfers = np.zeros(self.n_c)          # cumulative, US$ m (received > 0)
        self.transfers_week = np.zeros(self.n_c)     # this week's
        self.transfers_last = np.zeros(self.n_c)     # last week's
        self.loss_history: list[np.ndarray] = []     # weekly VA loss per country
        self.loss_52 = np.zeros(self.n_c)             # ... summed over the last 52 weeks
        prod_firm = (g.firm >= 0) & ~g.is_sink
        self._firm_nodes, self._firm_code = np.flatnonzero(prod_firm), g.firm[prod_firm]
        self.firm_revenue = np.bincount(self._firm_code, g.x0[self._firm_nodes],
                                        minlength=len(g.firms))
        self.firm_impaired = np.zeros(len(g.firms), bool)

    # --- queries agents and rules use --------------------------------------------------------
    def cidx(self, iso: str) -> int:
        return self._cidx[iso]

    def weekly_va_loss(self, iso: str) -> float:
        """Last week's value-added loss of a country versus baseline (US$ m)."""
        return float(self.weekly_va_loss_c[self.cidx(iso)])

    def realised_loss_pct(self, iso: str) -> float:
        """Value-added loss over the last 52 weeks, % of annual GDP."""
        if iso not in self.states or iso not in self._cidx:
            return 0.0
        return 100.0 * float(self.loss_52[self.cidx(iso)]) / self.states[iso].gdp

    def first_order_losses(self, edges, nodes) -> np.ndarray:
        """Weekly value-added loss per country if ``edges`` were blocked and ``nodes`` shut."""
        g = self.graph
        edges = np.asarray(edges, dtype=np.int64)
        nodes = np.asarray(nodes, dtype=np.int64)
        if len(nodes):
            out = np.isin(g.src, nodes)
            edges = np.union1d(edges, np.flatnonzero(out))
        loss = np.bincount(g.src[edges], g.f0[edges] * self.va_ratio[g.src[edges]],
                           minlength=g.n_nodes)
        dst = g.dst[edges]
        frac = g.f0[edges] / self.slot_flow[g.edge_slot[edges]]
        dep = frac * g.x0[dst] * self.va_ratio[dst] * (1 - self.slot_subst[g.edge_slot[edges]])
        buyer_loss = np.where(g.is_sink[dst], CONSUMER_WELFARE * g.f0[edges], dep)
        loss += np.bincount(dst, buyer_loss, minlength=g.n_nodes)
        return np.bincount(g.country, loss, minlength=self.n_c)

    def retaliation_intensity(self, week: int | None = None) -> float:
        """Mean intensity of China's active shocks in ``week`` (default: the last week run)."""
        week = self.week - 1 if week is None else week
        act = [s.intensity for s in self.shocks if s.issuer == "CHN" and s.active(week)]
        return sum(act) / len(act) if act else 0.0

    # --- what agents and rules do to the world ----------------------------------------------
    def transfer(self, iso: str, amount: float) -> None:
        """Book a transfer (US$ m): compensation received (> 0) or a rule's cost paid (< 0)."""
        if iso in self.graph.countries:
            self.transfers[self.cidx(iso)] += amount
            self.transfers_week[self.cidx(iso)] += amount

    def weekly_net_loss(self, iso: str) -> float:
        """Last week's value-added loss less the transfers received last week (US$ m)."""
        i = self.cidx(iso)
        return float(self.weekly_va_loss_c[i] - self.transfers_last[i])

    def record_rule_decision(self, rule, participants) -> None:
        self.rule_log.append({"week": self.week, "rule": rule.type, "target": rule.target,
                              "participants": list(participants),
                              "participation": rule.participation})

    def join_controls(self, iso: str) -> None:
        mbr = self.states[iso]
        if mbr.in_controls:
            return
        mbr.in_controls = True
        mbr.alignment = max(mbr.alignment, JOIN_THRESHOLD)
        g, stringency = self.graph, self.spec.usa.stringency
        chn_buyers = g.nodes_where(country="CHN", producers=False)
        edges, inten = [], []
        for seg, weight in CONTROLLED.items():
            if seg not in g.segments:
                continue
            e = g.edges_between(g.nodes_where(country=iso, segment=seg), chn_buyers)
            comp = np.array([self._compliance(g.firm[g.src[k]]) for k in e])
            edges.append(e)
            inten.append(stringency * weight * comp)
        if edges:
            self.control_blocks[iso] = (np.concatenate(edges), np.concatenate(inten))
        self.china.provocations.append((iso, self.week))

    def _compliance(self, firm_code: int) -> float:
        return self.firms[firm_code].compliance if firm_code >= 0 else 0.9

    def leave_controls(self, iso: str) -> None:
        mbr = self.states[iso]
        if mbr.leader or not mbr.in_controls:
            return
        mbr.in_controls = False
        self.control_blocks.pop(iso, None)

    def start_retaliation(self, target: str, chosen) -> None:
        self.china.campaign = {"target": target, "start": self.week,
                               "next_review": self.week + self.china.review_weeks, "shocks": []}
        for _inst, inten, shock in chosen:
            shock.intensity, shock.onset, shock.duration = inten, self.week, None
            shock.decided_by_china = True
            self.shocks.append(shock)
            self.china.campaign["shocks"].append(shock)
        self._on_retaliation(target)

    def _on_retaliation(self, target: str) -> None:
        self.retaliation_active = True
        self.campaign_target = target
        self.campaigns += 1
        self.campaign_start = self.week
        self.target = self.target or target
        self.retaliation_log.append({"week": self.week, "event": "start", "target": target})
        for r in self.rules:
            r.on_retaliation(self, target, self.week)
        for mbr in self.members:
            mbr.p_retaliation += 0.5 * (1 - mbr.p_retaliation)

    def end_retaliation(self, reason: str) -> None:
        c = self.china.campaign
        for sh in c["shocks"]:
            sh.stop(self.week)
        self.china.campaign = None
        self.retaliation_active = False
        self.retaliation_log.append({"week": self.week, "event": "end", "reason": reason,
                                     "target": c["target"]})
        for r in self.rules:
            r.on_retaliation_end(self)

    # --- the week ------------------------------------------------------------------------------
    def _events(self) -> None:
        while self.events and self.events[0].week <= self.week:
            ev = self.events.pop(0)
            if ev.type == "join_controls":
                self.join_controls(ev.member)
            elif ev.type == "leave_controls":
                self.leave_controls(ev.member)
            else:  # us_request: each member decides by its own interest
                for mbr in self.members:
                    if not mbr.leader and (ev.member in (None, mbr.iso3)) and \
                            mbr.desired() >= 0.5:
                        self.join_controls(mbr.iso3)

    def _scripted_retaliation(self) -> None:
        """Track scripted (not China-decided) Chinese shocks, so rules and beliefs react."""
        active = any(s.issuer == "CHN" and s.active(self.week) and not s.decided_by_china
                     for s in self.shocks)
        if active and not self.retaliation_active and self.china.campaign is None:
            tgt = next((getattr(s, "target", None) for s in self.shocks
                        if s.issuer == "CHN" and s.active(self.week)), None)
            if tgt not in MEMBERS:  # the pact protects members only
                tgt = self.target
            self._on_retaliation(tgt)
        elif not active and self.retaliation_active and self.china.campaign is None:
            self.retaliation_active = False
            self.retaliation_log.append({"week": self.week, "event": "end",
                                         "reason": "scripted", "target": self.campaign_target})
            for r in self.rules:
                r.on_retaliation_end(self)

    def step(self) -> None:
        """One week (Mesa's step; Mesa also advances its clock and step counter)."""
        self.advance()

    def advance(self) -> None:
        """The weekly update itself. ``run()`` calls it directly, skipping Mesa's per-step
        event bookkeeping (which costs more than the supply-chain step on the default graph);
        the model's own clock is ``week``."""
        g = self.graph
        self.transfers_last, self.transfers_week = self.transfers_week, np.zeros(self.n_c)
        self._events()
        self.china.step()
        self._scripted_retaliation()
        c = Controls(self.firm_cap.copy(), np.zeros(g.n_edges), np.zeros(g.n_nodes),
                     np.zeros(len(g.a)), np.zeros(g.n_edges, bool))
        for sh in self.shocks:
            if sh.active(self.week):
                sh.apply(c)
        for edges, inten in self.control_blocks.values():
            c.block[edges] = 1 - (1 - c.block[edges]) * (1 - inten)
        for r in self.rules:
            r.step(self, c)
        self.cap_mult = c.cap_mult
        self.hit_nodes = c.cap_mult < self.firm_cap * (1 - 1e-12)   # cut by a shock
        self.firm_impaired = np.bincount(self._firm_code, self.hit_nodes[self._firm_nodes],
                                         minlength=len(g.firms)) > 0
        self.engine.step(c)
        self._account()
        for f in self.firms:   # a plain loop: cheaper than AgentSet.do for a handful
            f.step()
        for mbr in self.members:
            mbr.step()
        self._learn()
        self.week += 1
        if self.collect:
            self.datacollector.collect(self)

    def _account(self) -> None:
        g, eng = self.graph, self.engine
        va = np.where(g.is_sink, 0.0, self.va_ratio * eng.output)
        self.weekly_va_loss_c = self.va0_country - np.bincount(g.country, va, minlength=self.n_c)
        self.weekly_output_c = np.bincount(g.country, np.where(g.is_sink, 0.0, eng.output),
                                           minlength=self.n_c)
        self.loss_history.append(self.weekly_va_loss_c)
        self.loss_52 += self.weekly_va_loss_c
        if len(self.loss_history) > 52:
            self.loss_52 -= self.loss_history[-53]
        self.firm_revenue = np.bincount(self._firm_code, eng.output[self._firm_nodes],
                                        minlength=len(g.firms))

    def _learn(self) -> None:
        """Once per campaign, twelve weeks in or when it ends if sooner, members learn how far
        allies actually helped (the share of them that honoured the pledges)."""
        if self.campaigns == self._learned_campaigns:
            return
        if self.retaliation_active and self.week - self.campaign_start < 12:
            return
        decided = [e["participation"] for e in self.rule_log if e["week"] >= self.campaign_start]
        observed = float(np.mean(decided)) if decided else 0.0
        for mbr in self.members:
            if not mbr.leader:
                mbr.learn(observed)
        self._learned_campaigns = self.campaigns
