"""The flow engine: ARIO-style loss propagation on arrays compiled once from the graph.

Each week (Hallegatte 2008, adapted to a firm/facility network):

1. every buyer plans output ``min(last week's demand, capacity)`` and orders, for each input
   product, what that output needs plus a share of the gap to its target stock (inventories are
   held in weeks of use); orders are split over suppliers by the buyer's current supplier shares;
2. blocked shares of orders (bans, export restrictions, boycotts) never reach the supplier;
3. each supplier produces ``min(demand, capacity, what its input stocks allow)`` (Leontief
   inputs), capacity being baseline x shock multiplier x (1 + spare + ramp-up);
4. output is rationed among buyers (``proportional``, ``domestic_first`` or ``allied_first``)
   and delivered into the buyers' stocks; nothing is delivered beyond an order;
5. buyers move their supplier shares toward suppliers that filled their orders, at a speed set
   by the product's substitutability, and drift slowly back toward the old pattern once it
   works again; suppliers facing excess demand ramp capacity up toward ``ramp_max``.

Everything is a numpy operation over nodes, slots (buyer x input product) or edges: no Python
loop over nodes in a step. With no shock the baseline flows are an exact fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

RATIONING = ("proportional", "domestic_first", "allied_first")
SUBSTITUTION_SPEED = 0.1   # weekly share-adjustment rate at substitutability 1
REVERSION = 0.1            # drift back toward old suppliers, relative to the substitution rate
INVENTORY_TAU = 4.0        # weeks to close a stock gap
ALLIANCE = ("USA", "KOR", "JPN", "TWN")


@dataclass(frozen=True)
class CompiledGraph:
    """Arrays describing a validated graph. Edges are sorted by slot, slots by buyer node."""

    node_ids: tuple[str, ...]
    index: dict
    segment: np.ndarray          # int code per node
    segments: tuple[str, ...]
    stage: tuple[str, ...]
    country: np.ndarray          # int code per node
    countries: tuple[str, ...]
    firm: np.ndarray             # int code per node, -1 for none
    firms: tuple[str, ...]
    is_sink: np.ndarray
    x0: np.ndarray               # baseline weekly output (sinks: consumption)
    va0: np.ndarray              # baseline weekly value added
    spare: np.ndarray
    ramp_max: np.ndarray
    ramp_rate: np.ndarray        # 1 / ramp_weeks
    src: np.ndarray
    dst: np.ndarray
    f0: np.ndarray
    edge_slot: np.ndarray
    slot_node: np.ndarray
    slot_segment: np.ndarray
    slot_start: np.ndarray       # first edge of each slot (for reduceat)
    a: np.ndarray                # input per unit of output, per slot (sinks: 1 per unit)
    inv_weeks: np.ndarray
    subst_rate: np.ndarray       # per slot, weekly
    share0: np.ndarray           # per edge, within slot
    prod_slots: np.ndarray       # slots of producers (not of final-demand markets)
    node_slot_start: np.ndarray  # first entry in prod_slots of each producer having inputs
    node_with_slots: np.ndarray  # those node indices
    domestic: np.ndarray         # per edge: supplier and buyer in the same country
    allied: np.ndarray           # per edge: supplier and buyer in the same bloc
    extra: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    def nodes_where(self, country=None, segment=None, firm=None, producers=True) -> np.ndarray:
        """Indices of nodes matching every given filter (names or lists of names)."""
        m = ~self.is_sink if producers else np.ones(self.n_nodes, bool)
        for arr, names, value in ((self.country, self.countries, country),
                                  (self.segment, self.segments, segment),
                                  (self.firm, self.firms, firm)):
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            codes = [names.index(v) for v in values if v in names]
            m &= np.isin(arr, codes)
        return np.flatnonzero(m)

    def edges_between(self, src_nodes, dst_nodes) -> np.ndarray:
        """Indices of edges from any of ``src_nodes`` to any of ``dst_nodes``."""
        s = np.zeros(self.n_nodes, bool)
        s[np.asarray(src_nodes, dtype=int)] = True
        d = np.zeros(self.n_nodes, bool)
        d[np.asarray(dst_nodes, dtype=int)] = True
        return np.flatnonzero(s[self.src] & d[self.dst])


def _codes(values) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(sorted(set(values)))
    lookup = {v: i for i, v in enumerate(names)}
    return names, np.array([lookup[v] for v in values], dtype=np.int64)


def compile_graph(G: nx.DiGraph) -> CompiledGraph:
    """Compile a validated graph into the arrays the engine steps on."""
    node_ids = tuple(G.nodes)
    index = {v: i for i, v in enumerate(node_ids)}
    nd = [G.nodes[v] for v in node_ids]
    is_sink = np.array([d.get("kind", "producer") == "final_demand" for d in nd])
    segments, segment = _codes([d["segment"] for d in nd])
    countries, country = _codes([d["country"] for d in nd])
    firm_names = tuple(sorted({d.get("firm") or "" for d in nd} - {""}))
    firm_lookup = {f: i for i, f in enumerate(firm_names)}
    firm = np.array([firm_lookup.get(d.get("firm") or "", -1) for d in nd], dtype=np.int64)

    def attr(key, default=0.0):
        return np.array([float(d.get(key, default)) for d in nd])

    n = len(node_ids)
    edges = list(G.edges(data="flow"))
    src = np.array([index[u] for u, _, _ in edges], dtype=np.int64)
    dst = np.array([index[v] for _, v, _ in edges], dtype=np.int64)
    f0 = np.array([float(w) for _, _, w in edges])
    # slots: (buyer, supplier's segment); sort edges by (buyer, segment)
    order = np.lexsort((segment[src], dst))
    src, dst, f0 = src[order], dst[order], f0[order]
    key = dst * (len(segments) + 1) + segment[src]
    slot_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.array([],
                                                                                             int)
    edge_slot = np.cumsum(np.r_[0, (key[1:] != key[:-1]).astype(np.int64)]) if len(key) else \
        np.array([], int)
    slot_node = dst[slot_start]
    slot_segment = segment[src[slot_start]]
    slot_flow = np.add.reduceat(f0, slot_start) if len(f0) else np.array([])

    out_flow = np.bincount(src, f0, minlength=n)
    in_flow = np.bincount(dst, f0, minlength=n)
    x0 = np.where(is_sink, in_flow, out_flow)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(x0[slot_node] > 0, slot_flow / x0[slot_node], 0.0)
    inv_weeks = attr("inventory_weeks")[src[slot_start]]
    inv_weeks = np.where(is_sink[slot_node], 0.0, inv_weeks)
    subst_rate = attr("substitutability")[src[slot_start]] * SUBSTITUTION_SPEED
    share0 = f0 / slot_flow[edge_slot]
    va0 = np.where(is_sink, 0.0, out_flow - in_flow)

    prod_slots = ~is_sink[slot_node]
    ps = np.flatnonzero(prod_slots)
    nodes_of_ps = slot_node[ps]
    # producer slots, and where each producer's run of slots starts within them
    starts = np.flatnonzero(np.r_[True, nodes_of_ps[1:] != nodes_of_ps[:-1]]) if len(ps) \
        else np.array([], int)
    bloc = np.where(np.isin(np.array(countries)[country], ALLIANCE), 1,
                    np.where(np.array(countries)[country] == "CHN", 2, 0))
    return CompiledGraph(
        node_ids=node_ids, index=index, segment=segment, segments=segments,
        stage=tuple(str(d.get("stage", "")) for d in nd), country=country,
        countries=countries, firm=firm, firms=firm_names, is_sink=is_sink, x0=x0, va0=va0,
        spare=attr("spare_capacity"), ramp_max=attr("ramp_max"),
        ramp_rate=1.0 / np.maximum(attr("ramp_weeks", 1.0), 0.5),
        src=src, dst=dst, f0=f0, edge_slot=edge_slot, slot_node=slot_node,
        slot_segment=slot_segment, slot_start=slot_start, a=a, inv_weeks=inv_weeks,
        subst_rate=subst_rate, share0=share0, prod_slots=ps, node_slot_start=starts,
        node_with_slots=nodes_of_ps[starts] if len(starts) else np.array([], int),
        domestic=country[src] == country[dst],
        allied=(bloc[src] == bloc[dst]) & (bloc[src] > 0),
    )


@dataclass
class Controls:
    """What shocks and rules set for one step (all multiplicative from neutral values)."""

    cap_mult: np.ndarray      # per node, capacity multiplier in [0, 1]
    block: np.ndarray         # per edge, blocked fraction of orders in [0, 1]
    extra_demand: np.ndarray  # per node, extra final demand (e.g. allied market absorption)
    inject: np.ndarray        # per slot, stock released into buyers' inventories
    priority: np.ndarray      # per edge, True where the buyer is served first

    @classmethod
    def neutral(cls, g: CompiledGraph) -> Controls:
        return cls(np.ones(g.n_nodes), np.zeros(g.n_edges), np.zeros(g.n_nodes),
                   np.zeros(len(g.a)), np.zeros(g.n_edges, bool))


class FlowEngine:
    """State and weekly step of the supply-chain flows on a :class:`CompiledGraph`.

    >>> from chip4model.graph import default_graph
    >>> eng = FlowEngine(compile_graph(default_graph()))
    >>> out = eng.step()
    >>> bool(abs(out.sum() - eng.g.x0[~eng.g.is_sink].sum()) < 1e-6)
    True
    """

    def __init__(self, g: CompiledGraph, rationing: str = "proportional"):
        if rationing not in RATIONING:
            raise ValueError(f"rationing {rationing!r} not in {RATIONING}")
        self.g = g
        self.rationing = rationing
        self.share = g.share0.copy()
        # stock target: this week's use plus ``inventory_weeks`` of safety stock
        self.stock_weeks = np.where(g.is_sink[g.slot_node], 0.0, 1.0 + g.inv_weeks)
        self.stock = self.stock_weeks * (g.a * g.x0[g.slot_node])
        self._shares_moved = False
        self.demand = g.x0.copy()          # demand received last week
        self.ramp = np.zeros(g.n_nodes)
        self.output = g.x0.copy()
        self.orders = g.f0.copy()
        self.delivered = g.f0.copy()
        self.blocked_demand = np.zeros(g.n_nodes)  # orders to each supplier that were blocked
        self.week = 0
        self._neutral = Controls.neutral(g)
        self._producer = ~g.is_sink

    # ----------------------------------------------------------------------------------------
    def capacity(self, cap_mult: np.ndarray) -> np.ndarray:
        g = self.g
        return g.x0 * cap_mult * (1.0 + g.spare + self.ramp)

    def step(self, c: Controls | None = None) -> np.ndarray:
        """Advance one week; return the output of every node (sinks: consumption)."""
        g, c = self.g, (c or self._neutral)
        self.stock += c.inject
        cap = self.capacity(c.cap_mult)
        plan = np.where(g.is_sink, g.x0, np.minimum(self.demand, cap))
        use = g.a * plan[g.slot_node]
        need = np.maximum(use + (self.stock_weeks * use - self.stock) / INVENTORY_TAU, 0.0)
        orders = self.share * need[g.edge_slot]
        passed = orders * (1.0 - c.block)
        demand = np.bincount(g.src, passed, minlength=g.n_nodes) + c.extra_demand
        self.blocked_demand = np.bincount(g.src, orders - passed, minlength=g.n_nodes)

        # production: demand, capacity and input stocks (Leontief) bound it
        input_cap = np.full(g.n_nodes, np.inf)
        if len(g.node_slot_start):
            with np.errstate(divide="ignore", invalid="ignore"):
                ps = g.prod_slots
                per_slot = np.where(g.a[ps] > 0, self.stock[ps] / g.a[ps], np.inf)
            input_cap[g.node_with_slots] = np.minimum.reduceat(per_slot, g.node_slot_start)
        x = np.where(g.is_sink, 0.0, np.minimum(np.minimum(demand, cap), input_cap))
        x = np.maximum(x, 0.0)

        delivered = self._ration(x, passed, demand, c)
        consumed = g.a * x[g.slot_node]
        self.stock = np.maximum(self.stock - consumed, 0.0)
        self.stock += np.bincount(g.edge_slot, delivered, minlength=len(g.a))
        sink_in = np.bincount(g.dst, delivered, minlength=g.n_nodes)
        self.stock[g.is_sink[g.slot_node]] = 0.0
        x = np.where(g.is_sink, sink_in, x)

        self._substitute(orders, delivered)
        over = demand > cap * (1 - 1e-12)
        target = np.where(over, g.ramp_max, 0.0)
        self.ramp += (target - self.ramp) * np.minimum(g.ramp_rate, 1.0)
        self.ramp = np.where(self.ramp < 1e-15, 0.0, self.ramp)

        self.demand = np.where(g.is_sink, g.x0, demand)
        self.output, self.orders, self.delivered = x, orders, delivered
        self.week += 1
        return x

    def _ration(self, x, passed, demand, c: Controls) -> np.ndarray:
        """Share each supplier's output among the orders that reached it."""
        g = self.g
        if self.rationing == "proportional" and not c.priority.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(demand > 0, np.minimum(x / demand, 1.0), 1.0)
            return passed * r[g.src]
        first = c.priority.copy()
        if self.rationing == "domestic_first":
            first |= g.domestic
        elif self.rationing == "allied_first":
            first |= g.allied
        d1 = np.bincount(g.src, np.where(first, passed, 0.0), minlength=g.n_nodes)
        served1 = np.minimum(x, d1)
        rest = demand - d1
        with np.errstate(divide="ignore", invalid="ignore"):
            r1 = np.where(d1 > 0, served1 / d1, 1.0)
            r2 = np.where(rest > 0, np.minimum((x - served1) / rest, 1.0), 1.0)
        return passed * np.where(first, r1[g.src], r2[g.src])

    def _substitute(self, orders, delivered) -> None:
        """Move supplier shares toward suppliers that delivered, by substitutability."""
        g = self.g
        if not len(orders):
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            fill = np.where(orders > 0, delivered / orders, 1.0)
        if not self._shares_moved and (fill >= 1 - 1e-12).all():
            return  # nothing to substitute away from, and nothing to drift back to
        self._shares_moved = True
        w = self.share * fill
        wsum = np.add.reduceat(w, g.slot_start)
        with np.errstate(divide="ignore", invalid="ignore"):
            target = np.where(wsum[g.edge_slot] > 0, w / wsum[g.edge_slot], self.share)
        rate = g.subst_rate[g.edge_slot]
        share = self.share + rate * (target - self.share)
        share += REVERSION * rate * (g.share0 - share)
        # renormalise each slot
        ssum = np.add.reduceat(share, g.slot_start)
        self.share = share / ssum[g.edge_slot]

    # ----------------------------------------------------------------------------------------
    def value_added(self) -> np.ndarray:
        """Value added of this week's output (baseline value-added share of output)."""
        g = self.g
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(g.x0 > 0, g.va0 / g.x0, 0.0)
        return np.where(g.is_sink, 0.0, ratio * self.output)
