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

The numpy version (``backend="numpy"``) is whole-array operations over nodes, slots (buyer x
input product) and edges; the default compiled version (:mod:`chip4model._kernels`) does the
same arithmetic in a few fused passes, bit for bit. Neither loops over nodes in Python. With no
shock the baseline flows are an exact fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from . import _kernels
from ._kernels import FILLED

RATIONING = ("proportional", "domestic_first", "allied_first")
BACKENDS = ("auto", "numba", "numpy")
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

    def __init__(self, g: CompiledGraph, rationing: str = "proportional",
                 backend: str = "auto"):
        if rationing not in RATIONING:
            raise ValueError(f"rationing {rationing!r} not in {RATIONING}")
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r} not in {BACKENDS}")
        if backend == "numba" and not _kernels.AVAILABLE:
            raise ValueError("backend 'numba' needs numba installed")
        self.backend = ("numba" if _kernels.AVAILABLE else "numpy") if backend == "auto" \
            else backend
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
        self._block = None   # last week's blocked shares, when any
        self.week = 0
        self._neutral = Controls.neutral(g)
        # constants of the step, computed once
        self._sinks = np.flatnonzero(g.is_sink)
        self._sink_slots = np.flatnonzero(g.is_sink[g.slot_node])
        self._cap_base = g.x0 * (1.0 + g.spare)
        self._ps_a = g.a[g.prod_slots]
        self._rate_e = g.subst_rate[g.edge_slot]
        self._revert_e = REVERSION * self._rate_e
        self._ramp_rate = np.minimum(g.ramp_rate, 1.0)
        self._n_slots = len(g.a)
        self._slot_ptr = np.r_[g.slot_start, g.n_edges].astype(np.int64)
        self._src32 = g.src.astype(np.int32) if g.n_nodes < 2**31 else g.src
        self._kernel = _kernels.kernel_for(g.n_edges) if self.backend == "numba" else None
        self._node_slot_ptr = np.searchsorted(g.slot_node, np.arange(g.n_nodes + 1)).astype(
            np.int64)

    # ----------------------------------------------------------------------------------------
    def capacity(self, cap_mult: np.ndarray) -> np.ndarray:
        """This week's production capacity: baseline x shocks x (1 + spare + ramp-up)."""
        if self.ramp.any():
            return (self._cap_base + self.g.x0 * self.ramp) * cap_mult
        return self._cap_base * cap_mult

    @property
    def blocked_demand(self) -> np.ndarray:
        """Orders to each supplier that were blocked last week (computed on demand)."""
        if self._block is None:
            return np.zeros(self.g.n_nodes)
        passed = self.orders * (1.0 - self._block)
        return np.bincount(self.g.src, self.orders - passed, minlength=self.g.n_nodes)

    def step(self, c: Controls | None = None) -> np.ndarray:
        """Advance one week; return the output of every node (sinks: consumption)."""
        if self.backend == "numba":
            return self._step_compiled(c or self._neutral)
        return self._step_numpy(c or self._neutral)

    def _first(self, c: Controls):
        """Rationing mode (0 proportional, 1 priority) and the edges served first."""
        g = self.g
        if self.rationing == "proportional" and not c.priority.any():
            return 0, c.priority
        first = c.priority.copy()
        if self.rationing == "domestic_first":
            first |= g.domestic
        elif self.rationing == "allied_first":
            first |= g.allied
        return 1, first

    def _step_compiled(self, c: Controls) -> np.ndarray:
        g = self.g
        mode, first = self._first(c)
        # two sets of output buffers, alternating, so last week's arrays stay valid for a week
        # and large graphs do not pay for fresh memory every step
        if not hasattr(self, "_bufs"):
            e_n, n = g.n_edges, g.n_nodes
            self._bufs = [(np.empty(e_n), np.empty(e_n), np.empty(n)) for _ in range(2)]
            self._scratch = tuple(np.empty(n) for _ in range(6))
        orders, delivered, x = self._bufs[self.week % 2]
        has_block = bool(c.block.any())
        self._shares_moved = self._kernel(
            g.x0, self._cap_base, c.cap_mult, self.ramp, g.ramp_max, self._ramp_rate,
            g.is_sink, c.extra_demand, self.demand, self._node_slot_ptr, g.slot_node, g.a,
            self.stock_weeks, self.stock, c.inject, 1.0 / INVENTORY_TAU, self._slot_ptr,
            self._src32, self.share, g.share0, g.subst_rate, REVERSION, c.block, has_block,
            first, mode, self.week % 16 == 0, self._shares_moved, orders, delivered, x,
            *self._scratch)
        self._block = c.block if has_block else None   # the caller's array, not modified
        self.output, self.orders, self.delivered = x, orders, delivered
        self.week += 1
        return x

    def _step_numpy(self, c: Controls) -> np.ndarray:
        g = self.g
        n = g.n_nodes
        if c.inject.any():
            self.stock += c.inject
        cap = self.capacity(c.cap_mult)
        cap[self._sinks] = g.x0[self._sinks]
        plan = np.minimum(self.demand, cap)          # sinks: demand == consumption target
        use = g.a * plan[g.slot_node]
        need = use + (self.stock_weeks * use - self.stock) * (1.0 / INVENTORY_TAU)
        np.maximum(need, 0.0, out=need)
        orders = self.share * need[g.edge_slot]
        has_block = bool(c.block.any())
        passed = orders * (1.0 - c.block) if has_block else orders
        self._block = c.block.copy() if has_block else None
        demand = np.bincount(g.src, passed, minlength=n)
        if c.extra_demand.any():
            demand += c.extra_demand

        # production: demand, capacity and input stocks (Leontief) bound it; sinks have no
        # sales, so their "production" is zero here
        x = np.minimum(demand, cap)
        if len(g.node_slot_start):
            per_slot = self.stock[g.prod_slots] / self._ps_a
            input_cap = np.minimum.reduceat(per_slot, g.node_slot_start)
            x[g.node_with_slots] = np.minimum(x[g.node_with_slots], input_cap)

        delivered, rmin = self._ration(x, passed, demand, c)
        stock = self.stock - g.a * x[g.slot_node]
        np.maximum(stock, 0.0, out=stock)
        stock += np.bincount(g.edge_slot, delivered, minlength=self._n_slots)
        stock[self._sink_slots] = 0.0
        self.stock = stock
        x[self._sinks] = np.bincount(g.dst, delivered, minlength=n)[self._sinks]

        if self._shares_moved or has_block or rmin < FILLED:
            self._substitute(orders, delivered)
        over = demand > cap * (1 - 1e-12)
        over[self._sinks] = False
        if over.any() or self.ramp.any():
            self.ramp += (np.where(over, g.ramp_max, 0.0) - self.ramp) * self._ramp_rate
            self.ramp[self.ramp < 1e-15] = 0.0

        demand[self._sinks] = g.x0[self._sinks]
        self.demand = demand
        self.output, self.orders, self.delivered = x, orders, delivered
        self.week += 1
        return x

    def _ration(self, x, passed, demand, c: Controls) -> np.ndarray:
        """Share each supplier's output among the orders that reached it."""
        g = self.g
        mode, first = self._first(c)
        if mode == 0:
            r = np.divide(x, demand, out=np.ones_like(x), where=demand > 0)
            np.minimum(r, 1.0, out=r)
            return passed * r[g.src], r.min(initial=1.0)
        d1 = np.bincount(g.src, np.where(first, passed, 0.0), minlength=g.n_nodes)
        served1 = np.minimum(x, d1)
        rest = demand - d1
        r1 = np.divide(served1, d1, out=np.ones_like(x), where=d1 > 0)
        r2 = np.divide(x - served1, rest, out=np.ones_like(x), where=rest > 0)
        np.minimum(r2, 1.0, out=r2)
        rmin = min(r1.min(initial=1.0), r2.min(initial=1.0))
        return passed * np.where(first, r1[g.src], r2[g.src]), rmin

    def _substitute(self, orders, delivered) -> None:
        """Move supplier shares toward suppliers that delivered, by substitutability."""
        g = self.g
        fill = np.divide(delivered, orders, out=np.ones_like(orders), where=orders > 0)
        self._shares_moved = True
        share = self.share
        w = share * fill
        wsum = np.bincount(g.edge_slot, w, minlength=self._n_slots)[g.edge_slot]
        target = np.divide(w, wsum, out=share.copy(), where=wsum > 0)
        share = share + self._rate_e * (target - share)
        share += self._revert_e * (g.share0 - share)
        # each update preserves slot sums exactly in arithmetic; renormalise now and then
        # to keep rounding from drifting
        if self.week % 16 == 0:
            share /= np.bincount(g.edge_slot, share, minlength=self._n_slots)[g.edge_slot]
        self.share = share

    # ----------------------------------------------------------------------------------------
    def value_added(self) -> np.ndarray:
        """Value added of last week's output (baseline value-added share of output)."""
        g = self.g
        ratio = np.divide(g.va0, g.x0, out=np.zeros_like(g.x0), where=g.x0 > 0)
        return np.where(g.is_sink, 0.0, ratio * self.output)
