"""The flow engine on synthetic graphs and on the calibrated default graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from chip4model.engine import RATIONING, Controls, FlowEngine, compile_graph
from chip4model.graph import default_graph, validate_graph
from chip4model.synthetic import synthetic_graph

TOL = 1e-9


def _graph(name: str) -> nx.DiGraph:
    if name == "default":
        return default_graph()
    n, e, seed = {"syn-small": (60, 250, 3), "syn-200": (200, 1000, 1)}[name]
    return synthetic_graph(n, e, n_segments=6 if n < 100 else 10, seed=seed)


GRAPHS = ("syn-small", "syn-200", "default")


@pytest.fixture(scope="module", params=GRAPHS)
def compiled(request):
    G = _graph(request.param)
    validate_graph(G, request.param)
    return compile_graph(G)


def _controls(g, cap_mult=None, block=None, priority=None) -> Controls:
    c = Controls.neutral(g)
    if cap_mult is not None:
        c.cap_mult = np.asarray(cap_mult, dtype=float).copy()
    if block is not None:
        c.block = np.asarray(block, dtype=float).copy()
    if priority is not None:
        c.priority = np.asarray(priority, dtype=bool).copy()
    return c


def _rel(a, b):
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def _check_flow_invariants(eng: FlowEngine, x: np.ndarray) -> None:
    """Deliveries within orders, suppliers ship at most what they produced, nothing negative."""
    g = eng.g
    assert (eng.orders >= 0).all()
    assert (eng.delivered >= -1e-12).all()
    assert (eng.delivered <= eng.orders * (1 + TOL) + 1e-12).all(), "delivered more than ordered"
    shipped = np.bincount(g.src, eng.delivered, minlength=g.n_nodes)
    prod = ~g.is_sink
    assert (shipped[prod] <= x[prod] * (1 + TOL) + 1e-9).all(), "shipped more than produced"
    assert (x >= 0).all()
    assert (eng.stock >= 0).all()
    assert np.isfinite(x).all() and np.isfinite(eng.stock).all()


# --- steady state -------------------------------------------------------------------------------
@pytest.mark.parametrize("rationing", RATIONING)
def test_no_shock_keeps_every_flow_at_baseline_for_156_weeks(compiled, rationing):
    g = compiled
    eng = FlowEngine(g, rationing)
    stock0 = eng.stock.copy()
    for week in range(156):
        x = eng.step()
        assert _rel(x, g.x0).max() <= TOL, f"output left baseline in week {week}"
        assert _rel(eng.delivered, g.f0).max() <= TOL, f"deliveries left baseline in week {week}"
    assert np.allclose(eng.stock, stock0, rtol=TOL, atol=0)
    assert np.allclose(eng.share, g.share0, rtol=0, atol=1e-12)
    assert not eng.ramp.any()
    va = eng.value_added()
    assert np.allclose(va, g.va0, rtol=TOL, atol=1e-12)


def test_compiled_baseline_is_consistent(compiled):
    g = compiled
    prod = ~g.is_sink
    out = np.bincount(g.src, g.f0, minlength=g.n_nodes)
    inn = np.bincount(g.dst, g.f0, minlength=g.n_nodes)
    assert np.allclose(g.x0[prod], out[prod])
    assert np.allclose(g.x0[g.is_sink], inn[g.is_sink])
    assert (g.va0[prod] >= -1e-9).all()
    assert (g.f0 > 0).all()
    slot_sum = np.add.reduceat(g.share0, g.slot_start)
    assert np.allclose(slot_sum, 1.0, atol=1e-12)


# --- disruptions -------------------------------------------------------------------------------
def _sole_supplier_buyers(g, k):
    """Producer buyers of node k for which k is the only supplier of that input."""
    size = np.bincount(g.edge_slot)
    e = np.flatnonzero((g.src == k) & ~g.is_sink[g.dst] & (size[g.edge_slot] == 1))
    return sorted(set(g.dst[e].tolist()))


def test_disruption_cuts_the_node_and_propagates_downstream():
    G = synthetic_graph(200, 1000, seed=1)
    g = compile_graph(G)
    counts = [len(_sole_supplier_buyers(g, k)) for k in range(g.n_nodes)]
    k = int(np.argmax(counts))
    direct = _sole_supplier_buyers(g, k)
    assert direct, "test graph should have a node that is some buyer's only supplier"
    dist = nx.single_source_shortest_path_length(G, k)
    second = [v for v, d in dist.items() if d == 2 and not g.is_sink[v]]

    eng = FlowEngine(g)
    cap = np.ones(g.n_nodes)
    cap[k] = 0.2
    c = _controls(g, cap_mult=cap)
    low = np.ones(g.n_nodes)
    for _ in range(40):
        x = eng.step(c)
        _check_flow_invariants(eng, x)
        low = np.minimum(low, x / g.x0)
    # the node itself: at most its shocked capacity (with spare capacity and full ramp-up)
    limit = 0.2 * (1 + G.nodes[k]["spare_capacity"] + G.nodes[k]["ramp_max"])
    assert low[k] <= limit + 1e-12
    assert eng.output[k] <= limit * g.x0[k] * (1 + 1e-12)
    # its sole-supplied buyers run out of the input once their stocks are gone
    assert min(low[b] for b in direct) < 0.9
    # ... and their own buyers feel it in turn
    assert any(low[v] < 1 - 1e-3 for v in second)


def test_disruption_on_the_default_graph_reaches_chip_buyers():
    G = default_graph()
    g = compile_graph(G)
    hit = g.nodes_where(country="TWN", segment="foundry")
    assert len(hit)
    cap = np.ones(g.n_nodes)
    cap[hit] = 0.1
    eng = FlowEngine(g)
    c = _controls(g, cap_mult=cap)
    low = np.ones(g.n_nodes)
    for _ in range(26):
        x = eng.step(c)
        _check_flow_invariants(eng, x)
        low = np.minimum(low, np.divide(x, g.x0, out=np.ones_like(x), where=g.x0 > 0))
    assert (eng.output[hit] < 0.5 * g.x0[hit]).all()
    buyers = sorted(set(g.dst[np.isin(g.src, hit)].tolist()) - set(hit.tolist()))
    producers = [b for b in buyers if not g.is_sink[b]]
    assert producers and min(low[b] for b in producers) < 0.99
    # final demand (consumption) falls too
    sinks = np.flatnonzero(g.is_sink)
    assert low[sinks].min() < 1 - 1e-3


def test_shock_before_and_after_leaves_baseline_untouched_until_it_hits():
    g = compile_graph(synthetic_graph(60, 250, n_segments=6, seed=3))
    eng = FlowEngine(g)
    for _ in range(5):
        eng.step()
    assert _rel(eng.output, g.x0).max() <= TOL
    cap = np.ones(g.n_nodes)
    cap[0] = 0.0
    x = eng.step(_controls(g, cap_mult=cap))
    assert x[0] == 0.0
    assert (eng.delivered[g.src == 0] == 0).all()


def test_full_block_stops_deliveries_on_the_blocked_edges_only():
    g = compile_graph(synthetic_graph(60, 250, n_segments=6, seed=3))
    eng = FlowEngine(g)
    blocked = np.flatnonzero(g.dst == g.dst[0])[:1]
    block = np.zeros(g.n_edges)
    block[blocked] = 1.0
    eng.step(_controls(g, block=block))
    assert (eng.delivered[blocked] == 0).all()
    assert eng.blocked_demand[g.src[blocked[0]]] > 0
    assert (eng.delivered[blocked] <= eng.orders[blocked]).all()


# --- rationing -------------------------------------------------------------------------------
def _random_controls(g, rng, scarcity: float):
    cap = np.where(rng.random(g.n_nodes) < scarcity, rng.uniform(0.0, 0.9, g.n_nodes), 1.0)
    block = np.where(rng.random(g.n_edges) < 0.1, rng.uniform(0, 1, g.n_edges), 0.0)
    priority = rng.random(g.n_edges) < 0.05
    c = _controls(g, cap_mult=cap, block=block, priority=priority)
    c.extra_demand = np.where(rng.random(g.n_nodes) < 0.05, rng.uniform(0, 5, g.n_nodes), 0.0)
    c.extra_demand[g.is_sink] = 0.0
    return c


@pytest.mark.parametrize("rationing", RATIONING)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rationing_never_overdelivers(compiled, rationing, seed):
    g = compiled
    rng = np.random.default_rng(seed)
    eng = FlowEngine(g, rationing)
    for week in range(30):
        c = _random_controls(g, rng, scarcity=0.3) if week % 10 < 7 else None
        x = eng.step(c)
        _check_flow_invariants(eng, x)
        slot_sum = np.add.reduceat(eng.share, g.slot_start)
        assert np.allclose(slot_sum, 1.0, atol=1e-9)
        assert (eng.share >= -1e-15).all()


def _fill(eng):
    return np.divide(eng.delivered, eng.orders, out=np.ones_like(eng.orders),
                     where=eng.orders > 1e-12)


@pytest.mark.parametrize("rationing,favoured", [("domestic_first", "domestic"),
                                                ("allied_first", "allied")])
def test_priority_rationing_serves_favoured_buyers_at_least_as_well(compiled, rationing,
                                                                    favoured):
    g = compiled
    mask = getattr(g, favoured)
    cap = np.full(g.n_nodes, 0.4)
    eng = FlowEngine(g, rationing)
    c = _controls(g, cap_mult=cap)
    strictly_better = 0
    for _ in range(12):
        x = eng.step(c)
        _check_flow_invariants(eng, x)
        fill = _fill(eng)
        ordered = eng.orders > 1e-12
        for k in np.flatnonzero(~g.is_sink):
            mine = (g.src == k) & ordered
            fav, other = mine & mask, mine & ~mask
            if fav.any() and other.any():
                assert fill[fav].min() >= fill[other].max() - 1e-9, (k, rationing)
                strictly_better += fill[fav].min() > fill[other].max() + 1e-6
    if mask.any() and (~mask).any():
        assert strictly_better > 0, "scarcity should have made the rule bite somewhere"


def test_proportional_rationing_gives_every_buyer_of_a_supplier_the_same_fill():
    g = compile_graph(synthetic_graph(200, 1000, seed=1))
    eng = FlowEngine(g, "proportional")
    c = _controls(g, cap_mult=np.full(g.n_nodes, 0.5))
    for _ in range(6):
        eng.step(c)
        fill = _fill(eng)
        for k in np.flatnonzero(~g.is_sink):
            mine = (g.src == k) & (eng.orders > 1e-12)
            if mine.sum() > 1:
                assert np.ptp(fill[mine]) <= 1e-9


# --- substitution ----------------------------------------------------------------------------
def _substitutable_slot(g):
    size = np.bincount(g.edge_slot)
    cand = np.flatnonzero((size >= 2) & (g.subst_rate > 0) & ~g.is_sink[g.slot_node])
    return int(cand[np.argmax(g.subst_rate[cand])])


def test_substitution_moves_shares_away_from_a_blocked_supplier_and_back():
    g = compile_graph(synthetic_graph(200, 1000, seed=1))
    slot = _substitutable_slot(g)
    edges = np.flatnonzero(g.edge_slot == slot)
    e = edges[np.argmax(g.share0[edges])]
    others = edges[edges != e]
    block = np.zeros(g.n_edges)
    block[e] = 1.0
    eng = FlowEngine(g)
    c = _controls(g, block=block)
    history = [eng.share[e]]
    for _ in range(52):
        eng.step(c)
        history.append(eng.share[e])
        assert np.allclose(np.add.reduceat(eng.share, g.slot_start), 1.0, atol=1e-12)
        assert (eng.share >= 0).all()
    h = np.array(history)
    assert (np.diff(h) <= 1e-15).all(), "the blocked supplier's share should only fall"
    assert h[-1] < 0.6 * g.share0[e]
    assert eng.share[others].sum() > g.share0[others].sum()
    # once the block is lifted, shares drift back toward the old pattern
    low = eng.share[e]
    for _ in range(52):
        eng.step()
    assert low < eng.share[e] <= g.share0[e] + 1e-12


def test_zero_substitutability_keeps_shares_fixed():
    G = synthetic_graph(60, 250, n_segments=6, seed=3)
    for _, d in G.nodes(data=True):
        d["substitutability"] = 0.0
    g = compile_graph(G)
    eng = FlowEngine(g)
    block = np.where(np.arange(g.n_edges) % 3 == 0, 1.0, 0.0)
    c = _controls(g, block=block)
    for _ in range(20):
        eng.step(c)
    assert np.allclose(eng.share, g.share0, atol=1e-12)
