"""Collective-resilience rules among the Chip 4 members, as small pluggable objects.

A rule sleeps until China retaliates against a member. After its response ``delay`` the other
members decide whether to take part: with ``trigger = "automatic"`` each honours the pledge with
probability ``credibility``; with ``trigger = "vote"`` each weighs its own cost against its
interest in the alliance (the collective-action problem). The rule then acts each week, scaled by
``commitment`` and by the GDP-weighted share of members taking part, until retaliation ends.

========================  ================================================================
``market_absorption``     allies buy a share of the target's lost exports, within their own
                          import volume of those goods (they pay a premium for it)
``input_sharing``         allies release stockpiles of critical inputs into the target's
                          inventories and their suppliers serve the target first
``counter_retaliation``   joint threat against China's high-dependence imports (Cha 2023:
                          goods China gets > 70% from the coalition): it enters China's
                          cost-benefit calculation before it acts, and is executed if it acts
``compensation_fund``     allies pay the target a share of its weekly value-added loss
========================  ================================================================
"""

from __future__ import annotations

import math

import numpy as np

from ..engine import ALLIANCE, CompiledGraph, Controls

TRIGGERS = ("automatic", "vote")


class Rule:
    """Base class: schedule, participation decision, and per-week effect."""

    type = "rule"
    relieves = ()  # instruments whose pain this rule can relieve (for beliefs)

    def __init__(self, commitment: float = 0.5, delay: int = 8, credibility: float = 0.8,
                 trigger: str = "automatic"):
        self.commitment = float(commitment)
        self.delay = int(delay)
        self.credibility = float(credibility)
        self.trigger = trigger
        self.reset()

    def reset(self) -> None:
        self.target: str | None = None
        self.start: float = math.inf
        self.participants: list[str] | None = None  # who took part (last decision)
        self.participation = 0.0
        self.active = False
        self.decided = False

    # --- lifecycle --------------------------------------------------------------------------
    def bind(self, model) -> Rule:
        return self

    def effective_delay(self, model) -> int:
        lv = model.levers
        return int(round(self.delay * (1 - 0.5 * lv.contingency_plans) * (1 - 0.25 * lv.dialogue)))

    def effective_credibility(self, model) -> float:
        return min(1.0, self.credibility + 0.25 * model.levers.dialogue * (1 - self.credibility))

    def on_retaliation(self, model, target: str, week: int) -> None:
        if self.target is not None:
            return
        self.target = target
        self.start = week + self.effective_delay(model)

    def on_retaliation_end(self, model) -> None:
        """Stand down, ready for the next campaign (participants stay on record)."""
        self.active = False
        self.decided = False
        self.target = None
        self.start = math.inf

    def eligible(self, model) -> list[str]:
        return [m for m in ALLIANCE if m != self.target and m in model.states]

    def burden(self, model, member: str) -> float:
        """A member's expected cost of taking part, as a fraction of its GDP (for votes)."""
        return 0.0

    def decide(self, model) -> None:
        """Each eligible member decides whether to honour the pledge (one draw each)."""
        cred = self.effective_credibility(model)
        parts = []
        for m in self.eligible(model):
            u = model.rule_rng.random()
            if self.trigger == "automatic":
                ok = u < cred
            else:
                agent = model.states[m]
                interest = agent.solidarity()
                cost = 100 * self.burden(model, m) + agent.china_trade_share
                ok = u < cred * 1 / (1 + math.exp(-(interest - cost) / 0.1))
            if ok:
                parts.append(m)
        self.participants = parts
        gdp = {m: model.states[m].gdp for m in self.eligible(model)}
        total = sum(gdp.values())
        self.participation = sum(gdp[m] for m in parts) / total if total else 0.0
        model.record_rule_decision(self, parts)

    def step(self, model, controls: Controls) -> None:
        if self.target is None or not model.retaliation_active or model.week < self.start:
            return
        if not self.decided:
            self.decide(model)
            self.decided = True
            self.active = True
        if self.active and self.participation > 0:
            self.act(model, controls)

    def act(self, model, controls: Controls) -> None:
        raise NotImplementedError

    # --- what China and the members expect of it --------------------------------------------
    def expected_relief(self, instrument: str) -> float:
        """Share of a retaliation's pain this rule is expected to remove, if honoured."""
        return self.commitment if instrument in self.relieves else 0.0

    def threat(self, model, target: str | None = None) -> float:
        """Expected weekly cost to China of the rule's counter-measures if it retaliated
        against ``target`` (US$ m / week)."""
        return 0.0

    def executed_cost(self, model) -> float:
        """Weekly cost to China of the counter-measures being carried out (US$ m / week)."""
        return 0.0

    def describe(self) -> dict:
        return {"type": self.type, "commitment": self.commitment, "delay": self.delay,
                "credibility": self.credibility, "trigger": self.trigger}

    def _pay(self, model, amount: float) -> None:
        """Participants pay ``amount`` (US$ m) in proportion to their GDP."""
        if amount <= 0 or not self.participants:
            return
        gdp = {m: model.states[m].gdp for m in self.participants}
        total = sum(gdp.values())
        for m, g in gdp.items():
            model.transfer(m, -amount * g / total)


class MarketAbsorption(Rule):
    type = "market_absorption"
    relieves = ("import_ban", "consumer_boycott", "firm_sanction")

    def __init__(self, premium: float = 0.15, max_share: float = 0.3, **kw):
        super().__init__(**kw)
        self.premium, self.max_share = float(premium), float(max_share)

    def bind(self, model):
        g: CompiledGraph = model.graph
        self._g = g
        return self

    def _room(self, model) -> np.ndarray:
        """Per node: the participants' baseline weekly purchases of that node's product."""
        g = self._g
        buyers = g.nodes_where(country=self.participants, producers=False)
        mask = np.zeros(g.n_nodes, bool)
        mask[buyers] = True
        by_seg = np.bincount(g.segment[g.src], np.where(mask[g.dst], g.f0, 0.0),
                             minlength=len(g.segments))
        return by_seg[g.segment]

    def act(self, model, controls):
        g = self._g
        if not hasattr(self, "_room_cache") or self._room_cache[0] != tuple(self.participants):
            self._room_cache = (tuple(self.participants), self._room(model))
        room = self._room_cache[1]
        tgt = g.country == g.countries.index(self.target)
        lost = np.where(tgt & ~g.is_sink, model.engine.blocked_demand, 0.0)
        extra = np.minimum(self.commitment * self.participation * lost, self.max_share * room)
        controls.extra_demand += extra
        self._pay(model, self.premium * float(extra.sum()))


class InputSharing(Rule):
    type = "input_sharing"
    relieves = ("export_restriction",)

    def on_retaliation_end(self, model) -> None:
        super().on_retaliation_end(model)
        self.pool = None  # stockpiles are refilled before the next campaign

    def __init__(self, stockpile_weeks: float = 8.0, release_weeks: float = 4.0, **kw):
        super().__init__(**kw)
        self.stockpile_weeks, self.release_weeks = float(stockpile_weeks), float(release_weeks)

    def bind(self, model):
        g: CompiledGraph = model.graph
        crit = np.array([s == "critical_input" for s in g.stage])
        seg_crit = np.zeros(len(g.segments), bool)
        seg_crit[g.segment[crit]] = True
        self._crit_slot = seg_crit[g.slot_segment] & ~g.is_sink[g.slot_node]
        self._g = g
        self.pool = None
        return self

    def act(self, model, controls):
        g, eng = self._g, model.engine
        if self.pool is None:  # participants' stockpiles, per segment (US$ m), drawn down
            buyers = g.nodes_where(country=self.participants)
            mask = np.zeros(g.n_nodes, bool)
            mask[buyers] = True
            use = np.bincount(g.slot_segment, np.where(mask[g.slot_node] & self._crit_slot,
                                                       g.a * g.x0[g.slot_node], 0.0),
                              minlength=len(g.segments))
            self.pool = self.stockpile_weeks * use * self.commitment * self.participation
        tgt_slot = self._crit_slot & (g.country[g.slot_node] == g.countries.index(self.target))
        gap = np.where(tgt_slot, np.maximum(eng.stock_weeks * g.a * g.x0[g.slot_node]
                                            - eng.stock, 0.0), 0.0)
        want = np.bincount(g.slot_segment, gap, minlength=len(g.segments))
        give = np.minimum(want, self.pool / self.release_weeks)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(want > 0, give / want, 0.0)
        controls.inject += gap * frac[g.slot_segment]
        self.pool = self.pool - give
        # allied suppliers serve the target's buyers first
        tgt_nodes = g.country[g.dst] == g.countries.index(self.target)
        sup = np.isin(g.country[g.src], [g.countries.index(m) for m in self.participants])
        controls.priority |= tgt_nodes & sup & self._crit_slot[g.edge_slot]


class CounterRetaliation(Rule):
    type = "counter_retaliation"

    def __init__(self, threshold: float | None = None, **kw):
        super().__init__(**kw)
        self.threshold = threshold

    def bind(self, model):
        g: CompiledGraph = model.graph
        self._g = g
        thr = self.threshold if self.threshold is not None else model.china_params.get(
            "dependence_threshold", 0.7)
        self.high_dependence, self.coverage, self.weekly_value = [], 0.0, 0.0
        self._edges_all = np.array([], dtype=np.int64)
        self._value_by_country = np.zeros(len(g.countries))
        if "CHN" not in g.countries:
            return self
        chn = g.countries.index("CHN")
        into_chn = (g.country[g.dst] == chn) & ~g.domestic
        coal = np.isin(g.country[g.src], [g.countries.index(m) for m in ALLIANCE
                                          if m in g.countries])
        imp = np.bincount(g.segment[g.src], np.where(into_chn, g.f0, 0.0),
                          minlength=len(g.segments))
        from_coal = np.bincount(g.segment[g.src], np.where(into_chn & coal, g.f0, 0.0),
                                minlength=len(g.segments))
        with np.errstate(divide="ignore", invalid="ignore"):
            dep = np.where(imp > 0, from_coal / imp, 0.0)
        self.high_dependence = [g.segments[s] for s in np.flatnonzero(dep > thr)]
        hd = np.isin(g.segment[g.src], np.flatnonzero(dep > thr))
        self._edges_all = np.flatnonzero(into_chn & coal & hd)
        # The modelled segments are coarser than Cha's product lines: cover only the value Cha
        # counts (US$46.6bn a year) of the coalition's exports in those segments.
        segment_value = float(g.f0[self._edges_all].sum())
        cha = float(model.china_params.get("coalition_high_dependence_imports_busd", np.inf))
        self.coverage = min(1.0, cha * 1000 / 52 / segment_value) if segment_value > 0 else 0.0
        self.weekly_value = self.coverage * segment_value
        self._value_by_country = self.coverage * np.bincount(
            g.country[g.src[self._edges_all]], g.f0[self._edges_all], minlength=len(g.countries))
        return self

    def _multiplier(self, model) -> float:
        return float(model.china_params.get("counter_cost_multiplier", 2.0))

    def _value_from(self, model, members) -> float:
        idx = [self._g.countries.index(m) for m in members if m in self._g.countries]
        return float(self._value_by_country[idx].sum())

    def threat(self, model, target: str | None = None) -> float:
        """China's expected weekly cost of the threat: credibility x commitment x the value the
        other members would cut x how much more than their price China loses without it."""
        others = [m for m in ALLIANCE if m != target]
        return (self.effective_credibility(model) * self.commitment
                * self._value_from(model, others) * self._multiplier(model))

    def executed_cost(self, model) -> float:
        """Weekly cost to China of the cuts being carried out by the participants."""
        return self.commitment * self._value_from(model, self.participants or []) * \
            self._multiplier(model)

    def act(self, model, controls):
        g = self._g
        parts = [g.countries.index(m) for m in self.participants]
        e = self._edges_all[np.isin(g.country[g.src[self._edges_all]], parts)]
        cut = self.commitment * self.coverage
        controls.block[e] = 1 - (1 - controls.block[e]) * (1 - cut)


class CompensationFund(Rule):
    type = "compensation_fund"
    relieves = ("import_ban", "consumer_boycott", "firm_sanction", "export_restriction")

    def act(self, model, controls):
        loss = model.weekly_va_loss(self.target)
        pay = self.commitment * self.participation * max(loss, 0.0)
        if pay > 0:
            self._pay(model, pay)
            model.transfer(self.target, pay)

    def burden(self, model, member):
        tgt = model.states[self.target]
        return self.commitment * 0.005 * tgt.gdp / max(
            sum(model.states[m].gdp for m in self.eligible(model)), 1e-9)


RULES = {c.type: c for c in (MarketAbsorption, InputSharing, CounterRetaliation,
                              CompensationFund)}
