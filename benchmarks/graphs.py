"""Synthetic benchmark graphs and the shock applied to them."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .common import log

SHOCK_SEED = 12345
BLOCK_FRACTION = 0.10   # share of edges whose orders are partly blocked
BLOCK_LEVEL = 0.5       # blocked fraction of those edges' orders
CUT_FRACTION = 0.01     # share of nodes (drawn among producers) whose capacity is cut
CUT_MULT = 0.5          # capacity multiplier of those nodes
SHOCK_TEXT = (f"{BLOCK_FRACTION:.0%} of edges blocked at {BLOCK_LEVEL:.0%}, capacity x{CUT_MULT} "
              f"on {CUT_FRACTION:.0%} of nodes (producers), persistent")


@dataclass(frozen=True)
class Size:
    label: str
    nodes: int
    edges: int                 # asked of synthetic_graph (it adds one producer->market edge each)
    target_s: float            # issue target for the median engine step
    engine_reps: tuple[int, int]   # timed engine steps (full, quick)
    engine_warmup: int
    nx_steps: tuple[int, int]      # timed networkx-loop steps (full, quick)


SIZES = {
    "10k": Size("10k", 10_000, 100_000, 0.002, (200, 50), 5, (5, 3)),
    "100k": Size("100k", 100_000, 1_000_000, 0.020, (50, 20), 3, (3, 2)),
}


def build(size: Size, seed: int = 0):
    """``(G, g, build_s, compile_s)``: the networkx graph and its compiled arrays."""
    from chip4model.engine import compile_graph
    from chip4model.synthetic import synthetic_graph

    t0 = time.perf_counter()
    G = synthetic_graph(size.nodes, size.edges, seed=seed)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = compile_graph(G)
    compile_s = time.perf_counter() - t0
    log(f"  graph {size.label}: {g.n_nodes} nodes, {g.n_edges} edges, {len(g.a)} slots; "
        f"built in {build_s:.1f} s, compiled in {compile_s:.2f} s")
    return G, g, build_s, compile_s


def shock(g):
    """Engine :class:`~chip4model.engine.Controls` for the benchmark shock."""
    from chip4model.engine import Controls

    rng = np.random.default_rng(SHOCK_SEED)
    c = Controls.neutral(g)
    blocked = rng.choice(g.n_edges, int(round(BLOCK_FRACTION * g.n_edges)), replace=False)
    c.block[blocked] = BLOCK_LEVEL
    producers = np.flatnonzero(~g.is_sink)
    cut = rng.choice(producers, int(round(CUT_FRACTION * g.n_nodes)), replace=False)
    c.cap_mult[cut] = CUT_MULT
    return c


def shock_as_dicts(g, c) -> dict:
    """The same controls keyed by node id and (supplier, buyer) for :mod:`benchmarks.nx_loop`."""
    ids = g.node_ids
    cap = {ids[i]: float(c.cap_mult[i]) for i in np.flatnonzero(c.cap_mult != 1.0).tolist()}
    block = {(ids[g.src[k]], ids[g.dst[k]]): float(c.block[k])
             for k in np.flatnonzero(c.block != 0.0).tolist()}
    extra = {ids[i]: float(c.extra_demand[i]) for i in np.flatnonzero(c.extra_demand).tolist()}
    return {"cap_mult": cap, "block": block, "extra_demand": extra}


def graph_info(g, build_s: float, compile_s: float) -> dict:
    return {"nodes": g.n_nodes, "edges": g.n_edges, "slots": int(len(g.a)),
            "producers": int((~g.is_sink).sum()), "build_s": build_s, "compile_s": compile_s}
