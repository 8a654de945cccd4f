"""The decision-makers: the four Chip 4 governments, China, and semiconductor firms.

Members (USA, KOR, JPN, TWN) choose each week how far to align with U.S.-led export controls,
weighing their threat perception of China and the alliance's benefits against the expected
cost of China's retaliation: exposure x belief that China retaliates x (1 - expected allied
help), bounded by what their firms' losses and the public will tolerate. Beliefs about allied
help (credibility) are learned from what allies did. China chooses whether, whom, with which
instrument, how hard and how long to retaliate, weighing the pain to the target against its own
dependence on what it would cut and against the expected collective counter-response. Firms
produce at their facilities, shift production when a facility is hit, diversify away from
China when it becomes risky, and comply with their government's controls; their losses feed
their government's domestic pressure. Parameters and their sources: ``data/countries.toml``,
``data/firms.toml``; the mechanisms follow the CFR 2023 workshop report and Cha (2023).
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from .policies.shocks import SHOCKS
from .scenario import Levers

NO_LEVERS = Levers()

# Share of each segment's trade with China that new controls cover when a member joins them
CONTROLLED = {"equipment": 1.0, "foundry": 1.0, "logic_design": 0.5, "memory": 0.15,
              "eda_ip": 1.0}
JOIN_THRESHOLD = 0.6    # alignment at which a member joins U.S.-led controls
LEAVE_THRESHOLD = 0.35  # alignment below which a member in controls backs down


def logistic(u: float) -> float:
    return 1.0 / (1.0 + math.exp(-u))


class State(mesa.Agent):
    """A government. ``gdp`` is annual GDP in US$ million."""

    def __init__(self, model, iso3: str, params: dict):
        super().__init__(model)
        self.iso3 = iso3
        self.name = params.get("name", iso3)
        self.gdp = float(params["gdp_busd"]) * 1000.0
        self.china_trade_share = float(params.get("china_trade_share", 0.0))

    @property
    def gdp_week(self) -> float:
        return self.gdp / 52.0


class Member(State):
    """An alliance member government choosing its alignment with U.S.-led controls."""

    def __init__(self, model, iso3, params, spec, leader: bool = False):
        super().__init__(model, iso3, params)
        get = lambda k, d: getattr(spec, k, None) if getattr(spec, k, None) is not None \
            else float(params.get(k, d))  # noqa: E731
        self.leader = leader
        self.threat_perception = get("threat_perception", 0.5)
        self.alliance_benefit = get("alliance_benefit", 0.5)
        self.cost_tolerance = get("cost_tolerance_pct_gdp", 0.5)
        self.china_trade_share = get("china_trade_share", self.china_trade_share)
        self.credibility = 0.5          # belief that allies will help if China retaliates
        self.p_retaliation = 0.5        # belief that China retaliates against those who align
        self.domestic_pressure = 0.0    # firms' and public's push-back, from realised losses
        self.in_controls = leader
        self.exposure_cut = 0.0         # share of China exposure diversified away
        init = getattr(spec, "initial_alignment", None)
        self.alignment = 1.0 if leader else (init if init is not None
                                             else self.desired(status_quo=True))

    def solidarity(self, lv=None) -> float:
        lv = lv or self.model.levers
        return 0.5 * self.threat_perception + 0.5 * self.alliance_benefit * (1 + 0.5 * lv.joint_rnd)

    def expected_help(self) -> float:
        """Share of a retaliation's pain this government expects allies to take off it."""
        return self.credibility * self.model.rules_relief

    def desired(self, status_quo: bool = False) -> float:
        """Alignment this government would choose now (logit of its net benefit).

        ``status_quo``: as before the scenario's pact and levers exist (the starting point)."""
        m, usa = self.model, self.model.spec.usa
        lv = NO_LEVERS if status_quo else m.levers
        exposure = self.china_trade_share * (1 - self.exposure_cut)
        uncertainty = 1.0 - 0.5 * lv.us_clarity
        helped = 0.0 if status_quo else self.expected_help()
        expected_cost = exposure * self.p_retaliation * (1 - helped) * uncertainty
        benefit = self.solidarity(lv) + 0.3 * usa.pressure + 0.2 * usa.assurance
        over = max(0.0, m.realised_loss_pct(self.iso3) - self.cost_tolerance)
        u = benefit - 2.0 * expected_cost - self.domestic_pressure - 2.0 * over - 0.5
        return logistic(u / 0.15)

    def step(self) -> None:
        if self.leader:
            self.assure()
            return
        m = self.model
        firms = m.firms_of.get(self.iso3)
        if firms:   # revenue-weighted: a big firm's loss weighs more than a small one's
            base = sum(f.baseline_revenue for f in firms)
            loss = max(0.0, 1 - sum(f.revenue for f in firms) / base)
            weight = 1.0 - 0.5 * m.levers.private_sector
            self.domestic_pressure += 0.1 * (weight * 5.0 * loss - self.domestic_pressure)
        self.exposure_cut = min(0.5, self.exposure_cut + m.levers.diversification * 0.002)
        self.alignment += 0.05 * (self.desired() - self.alignment)
        if self.in_controls and self.alignment < LEAVE_THRESHOLD:
            m.leave_controls(self.iso3)

    def assure(self) -> None:
        """The leader's weekly move: in the first twelve weeks of China's coercion of an ally,
        Washington offers assurances, which lift that ally's belief in allied help a little each
        week (``usa.assurance``; the workshop report found them thin). Then deeds decide:
        members relearn from what allies actually did (:meth:`learn`)."""
        m = self.model
        target = m.campaign_target if m.retaliation_active else None
        if m.campaign_start is None or m.week - m.campaign_start >= 12:
            return  # after the first twelve weeks, deeds have spoken
        if target and target != self.iso3 and target in m.states:
            ally = m.states[target]
            ally.credibility += 0.1 * m.spec.usa.assurance * (1 - ally.credibility)

    def learn(self, observed_help: float) -> None:
        rate = 0.5 + 0.3 * self.model.levers.dialogue
        self.credibility += rate * (observed_help - self.credibility)


class China(State):
    """The coercer: decides whether, whom, how, how hard and how long to retaliate."""

    def __init__(self, model, params, spec):
        super().__init__(model, "CHN", params)
        self.resolve = spec.resolve if spec.resolve is not None else float(
            params.get("resolve", 0.6))
        self.spec = spec
        self.review_weeks = spec.review_weeks or int(params.get("review_weeks", 4))
        self.provocations: list[tuple[str, int]] = []
        self.campaign: dict | None = None
        self.considered = False   # had a reason to retaliate
        self.chose_none = False   # ... and chose not to

    # --- evaluation ------------------------------------------------------------------------
    def option_shock(self, instrument: str, target: str):
        """The shock an instrument would be against ``target`` (bound, at intensity 1)."""
        g, m = self.model.graph, self.model
        if instrument == "import_ban":
            chips = [s for s in ("memory", "logic_design", "foundry", "analog", "consumer_goods")
                     if s in g.segments]
            return SHOCKS["import_ban"](target=target, segments=chips, intensity=1).bind(g)
        if instrument == "export_restriction":
            crit = sorted({g.segments[g.segment[i]] for i in range(g.n_nodes)
                           if g.stage[i] == "critical_input"} & m.china_supplies)
            return SHOCKS["export_restriction"](targets=[target], inputs=crit,
                                                intensity=1).bind(g)
        if instrument == "firm_sanction":
            firms = [f for f in m.firms if f.hq == target and len(f.china_nodes)]
            if not firms:
                return None
            big = max(firms, key=lambda f: m.graph.x0[f.nodes].sum())
            return SHOCKS["firm_sanction"](firm=big.name, mode="both", target=target,
                                           intensity=1).bind(g)
        return SHOCKS["consumer_boycott"](target=target, intensity=1).bind(g)

    def losses_of(self, shock) -> np.ndarray:
        """First-order weekly value-added loss per country if ``shock`` hit at full intensity.

        Sellers lose the value added of blocked sales; producing buyers lose the output that
        needs the blocked input, to the extent it cannot be replaced (1 - substitutability);
        consumers lose a small welfare cost; a plant shut loses its value added and its
        buyers' dependent output.
        """
        return self.model.first_order_losses(shock.edges, shock.nodes)

    def evaluate(self, instrument, target, exclude_counter=False):
        m = self.model
        shock = self.option_shock(instrument, target)
        if shock is None or (len(shock.edges) == 0 and len(shock.nodes) == 0):
            return None
        loss = self.losses_of(shock)
        cidx = m.graph.countries
        pain = loss[cidx.index(target)] / m.states[target].gdp_week
        own = loss[cidx.index("CHN")] / self.gdp_week
        relief = min(0.9, sum(r.effective_credibility(m) * r.expected_relief(instrument)
                              for r in m.rules))
        counter = 0.0 if exclude_counter else sum(r.threat(m, target)
                                                  for r in m.rules) / self.gdp_week
        noise = 1.0 + self.spec.noise * (m.china_rng.random() - 0.5) * 2
        best = None
        for inten in self.spec.intensities:
            # pain has diminishing value (escalation is costly to China's standing); its own
            # losses grow with intensity; the counter-threat is paid whatever the intensity
            value = pain * (1 - relief) * (self.resolve * noise * inten
                                           - self.spec.escalation * inten ** 2)
            cost = self.spec.cost_sensitivity * own * inten
            u = 100 * (value - cost - counter)
            if best is None or u > best[0]:
                best = (u, inten, shock, 100 * counter)
        return best

    def decide(self) -> None:
        m = self.model
        targets = [t for t, _ in self.provocations if m.states[t].in_controls]
        self.provocations.clear()
        if not targets:
            return
        self.considered = True
        options = []
        for t in dict.fromkeys(targets):
            for inst in self.spec.instruments:
                ev = self.evaluate(inst, t)
                if ev is not None:
                    options.append((ev[0], inst, t, ev))
        options.sort(key=lambda o: (-o[0], o[1], o[2]))
        if not options or options[0][0] <= 0:
            self.chose_none = True
            return
        u0, inst, target, (_, inten, shock, counter) = options[0]
        chosen = [(inst, inten, shock)]
        for u, inst2, t2, ev in options[1:]:
            if len(chosen) >= self.spec.max_instruments:
                break
            if t2 == target and inst2 not in [c[0] for c in chosen] and u + ev[3] > 0:
                chosen.append((inst2, ev[1], ev[2]))
        m.start_retaliation(target, chosen)

    def review(self) -> None:
        """Continue while the signal is worth more than it costs China."""
        m, c = self.model, self.campaign
        weeks = m.week - c["start"]
        if not m.states[c["target"]].in_controls:
            m.end_retaliation("target backed down")
            return
        # the pain China sees is the target's loss net of what allies pay it
        pain = max(m.weekly_net_loss(c["target"]), 0.0) / m.states[c["target"]].gdp_week
        own = max(m.weekly_va_loss("CHN"), 0.0) / self.gdp_week
        # counter-measures: expected if pledged, certain once executed
        counter = sum(r.executed_cost(m) if r.active else r.threat(m, c["target"])
                      for r in m.rules) / self.gdp_week
        decay = 0.5 ** (weeks / self.spec.signal_halflife_weeks)
        value = self.resolve * pain * decay
        if value < self.spec.cost_sensitivity * own + counter:
            m.end_retaliation("cost exceeds value")

    def step(self) -> None:
        m = self.model
        if self.campaign is None:
            due = [p for p in self.provocations if m.week >= p[1] + self.spec.decision_lag]
            if due and self.spec.decides:
                self.decide()
        elif m.week >= self.campaign["next_review"]:
            self.campaign["next_review"] = m.week + self.review_weeks
            self.review()


class Firm(mesa.Agent):
    """A semiconductor firm owning facilities (graph nodes) in one or more countries."""

    def __init__(self, model, name: str, nodes: np.ndarray, params: dict, spec=None):
        super().__init__(model)
        g = model.graph
        self.name = name
        self.code = g.firms.index(name)
        self.nodes = nodes
        self.hq = params.get("hq") or g.countries[g.country[nodes[0]]]
        self.china_sales_share = float(params.get("china_sales_share", 0.0))
        comp = getattr(spec, "compliance", None)
        self.compliance = comp if comp is not None else float(params.get("compliance", 0.9))
        div = getattr(spec, "diversification_rate", None)
        self.diversification_rate = div if div is not None else float(
            params.get("diversification_rate", 0.01))
        chn = g.countries.index("CHN") if "CHN" in g.countries else -1
        self.china_nodes = nodes[g.country[nodes] == chn] if self.hq != "CHN" else \
            nodes[:0]
        self.home_nodes = nodes[g.country[nodes] != chn] if self.hq != "CHN" else nodes
        self.baseline_revenue = float(g.x0[nodes].sum())
        self.can_relocate = bool(len(self.china_nodes) and len(self.home_nodes))
        self._china_x0 = g.x0[self.china_nodes]
        self._home_x0_total = float(g.x0[self.home_nodes].sum())
        self.revenue = self.baseline_revenue
        self.weekly_loss_share = 0.0
        self.relocated = 0.0   # capacity moved out of China, US$ m / week
        self.risk = 0.0        # perceived policy risk of operating in / selling to China

    def step(self) -> None:
        m = self.model
        self.revenue = float(m.firm_revenue[self.code])
        self.weekly_loss_share = max(0.0, 1 - self.revenue / self.baseline_revenue)
        # production allocation: when a facility is impaired, push the others harder
        if m.firm_impaired[self.code]:
            impaired = m.hit_nodes[self.nodes]
            if (~impaired).any():
                ok = self.nodes[~impaired]
                ramp = m.engine.ramp
                ramp[ok] += 0.2 * (m.graph.ramp_max[ok] - ramp[ok])
        # diversification away from China: own reasons (lever) and realised risk
        hit = m.retaliation_active and m.campaign_target == self.hq
        if hit or self.risk > 0:
            self.risk += 0.05 * ((1.0 if hit else 0.0) - self.risk)
            if self.risk < 1e-3:
                self.risk = 0.0   # the scare has passed
        drive = self.risk + m.levers.diversification
        if drive > 0 and self.can_relocate:
            # firms selling more to China have more to move (china_sales_share, firms.toml)
            step = self.diversification_rate * drive * (0.5 + self.china_sales_share) / 52
            cap = m.firm_cap[self.china_nodes]
            move = float((step * self._china_x0 * cap).sum())   # US$ m / week of capacity
            m.firm_cap[self.china_nodes] = cap - step * cap
            m.firm_cap[self.home_nodes] += move / self._home_x0_total
            self.relocated += move
            m.transfer(self.hq, -move * m.relocation_cost_weeks)
