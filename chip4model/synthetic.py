"""Random supply-chain graphs of any size, for benchmarks and property-based tests.

Nodes are spread over ``n_segments`` layered products (a supplier's segment is always lower than
its buyer's, so the chain flows one way) and ``n_countries`` countries; about 5% of nodes are
final-demand markets. Flows are log-normal. Producers get enough final sales that value added is
positive, so every graph passes :func:`chip4model.graph.validate_graph`.

>>> G = synthetic_graph(200, 1000, seed=1)
>>> G.number_of_nodes(), G.number_of_edges() >= 1000
(200, True)
"""

from __future__ import annotations

import networkx as nx
import numpy as np

COUNTRY_CODES = ("USA", "KOR", "JPN", "TWN", "CHN", "EUR", "SEA", "ROW")


def synthetic_arrays(n_nodes: int, n_edges: int, n_segments: int = 10, seed: int = 0):
    """Node and edge arrays of a random layered supply chain (see module docstring)."""
    rng = np.random.default_rng(seed)
    n_sink = max(len(COUNTRY_CODES), n_nodes // 20)
    n_prod = n_nodes - n_sink
    seg = np.sort(rng.integers(0, n_segments, n_prod))
    seg[: n_segments] = np.arange(n_segments)[: min(n_segments, n_prod)]
    seg = np.sort(seg)
    country = rng.integers(0, len(COUNTRY_CODES), n_nodes)
    country[n_prod: n_prod + len(COUNTRY_CODES)] = np.arange(len(COUNTRY_CODES))
    # edges between producers: supplier segment < buyer segment
    first_of = np.searchsorted(seg, np.arange(n_segments + 1))
    dst = rng.integers(first_of[1], n_prod, n_edges)
    lo = np.zeros(n_edges, dtype=np.int64)
    hi = first_of[seg[dst]]
    src = lo + (rng.random(n_edges) * (hi - lo)).astype(np.int64)
    key = np.unique(src * n_nodes + dst)
    src, dst = key // n_nodes, key % n_nodes
    flow = rng.lognormal(0.0, 1.0, len(src))
    # every producer sells to a market, enough that value added is 20%..60% of output
    inflow = np.bincount(dst, flow, minlength=n_nodes)[:n_prod]
    outflow = np.bincount(src, flow, minlength=n_nodes)[:n_prod]
    va_share = rng.uniform(0.2, 0.6, n_prod)
    final = np.maximum(inflow / (1 - va_share) - outflow, 0.0) + rng.lognormal(0, 1, n_prod)
    sink = n_prod + rng.integers(0, n_sink, n_prod)
    src = np.concatenate([src, np.arange(n_prod)])
    dst = np.concatenate([dst, sink])
    flow = np.concatenate([flow, final])
    return {"segment": seg, "country": country, "n_prod": n_prod, "src": src, "dst": dst,
            "flow": flow, "seed": seed}


def synthetic_graph(n_nodes: int, n_edges: int, n_segments: int = 10, seed: int = 0,
                    ) -> nx.DiGraph:
    """A valid random supply-chain graph with the attributes the model expects."""
    a = synthetic_arrays(n_nodes, n_edges, n_segments, seed)
    rng = np.random.default_rng(seed + 1)
    G = nx.DiGraph(name=f"synthetic {n_nodes}/{n_edges} seed {seed}")
    subst = rng.uniform(0.0, 1.0, n_segments)
    inv = rng.uniform(1.0, 8.0, n_segments)
    stages = ("material", "critical_input", "equipment", "fab", "atp", "assembly")
    for i in range(n_nodes):
        c = COUNTRY_CODES[a["country"][i]]
        if i < a["n_prod"]:
            s = int(a["segment"][i])
            G.add_node(i, kind="producer", segment=f"s{s}", stage=stages[s % len(stages)],
                       country=c, firm="", inventory_weeks=float(inv[s]),
                       substitutability=float(subst[s]), spare_capacity=0.1, ramp_max=0.3,
                       ramp_weeks=26.0)
        else:
            G.add_node(i, kind="final_demand", segment="final_demand", stage="final", country=c,
                       firm="", inventory_weeks=0.0, substitutability=0.0, spare_capacity=0.0,
                       ramp_max=0.0, ramp_weeks=1.0)
    edges = zip(a["src"].tolist(), a["dst"].tolist(), a["flow"].tolist(), strict=True)
    G.add_weighted_edges_from(edges, weight="flow")
    return G
