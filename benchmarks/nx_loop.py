"""The engine's weekly step written the plain way: Python loops over a networkx graph.

This is the yardstick for :class:`chip4model.engine.FlowEngine`: the same ARIO-style step
(plan, orders per input slot split by supplier shares, demand per supplier, production =
min(demand, capacity, input-stock limit), proportional rationing, deliveries into stocks,
substitution between suppliers, capacity ramp-up), with all state kept in the graph's node and
edge attribute dicts and every quantity computed by iterating ``G.nodes``, ``G.in_edges`` and
``G.out_edges``. It supports the controls the benchmark uses (per-node capacity multipliers,
per-edge blocked fractions, per-node extra demand) and proportional rationing only.

An input slot is (buyer, supplier's segment), as in the engine. The constants are the engine's.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from chip4model.engine import INVENTORY_TAU, REVERSION, SUBSTITUTION_SPEED


class NetworkxFlow:
    """State and weekly step of the supply-chain flows, on a copy of a networkx graph."""

    def __init__(self, G: nx.DiGraph):
        H = G.copy()  # node/edge dicts are copied: the caller's graph is left alone
        self.G = H
        self.week = 0
        self._shares_moved = False
        nodes = H.nodes
        for v, d in H.nodes(data=True):
            sink = d.get("kind", "producer") == "final_demand"
            out_flow = sum(f for _, _, f in H.out_edges(v, data="flow"))
            in_flow = sum(f for _, _, f in H.in_edges(v, data="flow"))
            x0 = in_flow if sink else out_flow
            slots: dict[str, dict] = {}
            for u, _, e in H.in_edges(v, data=True):
                seg = nodes[u]["segment"]
                s = slots.get(seg)
                if s is None:
                    s = slots[seg] = {
                        "flow": 0.0,
                        "inv_weeks": 0.0 if sink else float(nodes[u].get("inventory_weeks", 0)),
                        "subst": float(nodes[u].get("substitutability", 0)) * SUBSTITUTION_SPEED,
                    }
                s["flow"] += e["flow"]
                e["slot"] = seg
            for s in slots.values():
                s["a"] = s["flow"] / x0 if x0 > 0 else 0.0
                s["stock_weeks"] = 0.0 if sink else 1.0 + s["inv_weeks"]
                s["stock"] = s["stock_weeks"] * s["a"] * x0
            for _, _, e in H.in_edges(v, data=True):
                e["share0"] = e["share"] = e["flow"] / slots[e["slot"]]["flow"]
                e["block"] = 0.0
            d.update(sink=sink, x0=x0, demand=x0, output=x0, ramp=0.0, cap_mult=1.0,
                     extra_demand=0.0, slots=slots,
                     spare=float(d.get("spare_capacity", 0.0)),
                     ramp_max_=float(d.get("ramp_max", 0.0)),
                     ramp_rate=1.0 / max(float(d.get("ramp_weeks", 1.0)), 0.5))

    # ------------------------------------------------------------------------------------------
    def set_controls(self, cap_mult: dict | None = None, block: dict | None = None,
                     extra_demand: dict | None = None) -> None:
        """Set per-node capacity multipliers, per-edge blocked fractions, per-node extra demand.

        Nodes and edges not named go back to neutral values.
        """
        cap_mult, block, extra_demand = cap_mult or {}, block or {}, extra_demand or {}
        for v, d in self.G.nodes(data=True):
            d["cap_mult"] = cap_mult.get(v, 1.0)
            d["extra_demand"] = extra_demand.get(v, 0.0)
        for u, v, e in self.G.edges(data=True):
            e["block"] = block.get((u, v), 0.0)

    def step(self) -> dict:
        """Advance one week; return ``{node: output}`` (sinks: consumption)."""
        G = self.G
        nodes = G.nodes(data=True)

        # 1. capacity, planned output and what each input slot needs
        for _, d in nodes:
            cap = d["x0"] * d["cap_mult"] * (1.0 + d["spare"] + d["ramp"])
            d["cap"] = cap
            plan = d["x0"] if d["sink"] else min(d["demand"], cap)
            for s in d["slots"].values():
                use = s["a"] * plan
                s["need"] = max(use + (s["stock_weeks"] * use - s["stock"]) / INVENTORY_TAU,
                                0.0)

        # 2. each buyer splits each slot's need over its suppliers by their shares
        for v, d in nodes:
            slots = d["slots"]
            for _, _, e in G.in_edges(v, data=True):
                orders = e["share"] * slots[e["slot"]]["need"]
                e["orders"] = orders
                e["passed"] = orders * (1.0 - e["block"])

        # 3. demand reaching each supplier, and production
        for v, d in nodes:
            demand = 0.0
            blocked = 0.0
            for _, _, e in G.out_edges(v, data=True):
                demand += e["passed"]
                blocked += e["orders"] - e["passed"]
            demand += d["extra_demand"]
            d["new_demand"] = demand
            d["blocked_demand"] = blocked
            if d["sink"]:
                d["x"] = 0.0
                continue
            input_cap = math.inf
            for s in d["slots"].values():
                if s["a"] > 0:
                    input_cap = min(input_cap, s["stock"] / s["a"])
            d["x"] = max(min(demand, d["cap"], input_cap), 0.0)

        # 4. proportional rationing of each supplier's output over the orders that reached it
        for v, d in nodes:
            demand = d["new_demand"]
            r = min(d["x"] / demand, 1.0) if demand > 0 else 1.0
            for _, _, e in G.out_edges(v, data=True):
                e["delivered"] = e["passed"] * r

        # 5. buyers use inputs and receive deliveries into their stocks
        for v, d in nodes:
            slots = d["slots"]
            x = d["x"]
            for s in slots.values():
                s["stock"] = max(s["stock"] - s["a"] * x, 0.0)
                s["received"] = 0.0
            for _, _, e in G.in_edges(v, data=True):
                slots[e["slot"]]["received"] += e["delivered"]
            total = 0.0
            for s in slots.values():
                s["stock"] += s["received"]
                total += s["received"]
            if d["sink"]:
                for s in slots.values():
                    s["stock"] = 0.0
                d["x"] = total

        # 6. buyers move supplier shares toward suppliers that filled their orders
        short = False
        for _, _, e in G.edges(data=True):
            fill = e["delivered"] / e["orders"] if e["orders"] > 0 else 1.0
            e["fill"] = fill
            if fill < 1 - 1e-12:
                short = True
        if short or self._shares_moved:
            self._shares_moved = True
            for v, d in nodes:
                slots = d["slots"]
                if not slots:
                    continue
                for s in slots.values():
                    s["wsum"] = 0.0
                    s["ssum"] = 0.0
                in_edges = list(G.in_edges(v, data=True))
                for _, _, e in in_edges:
                    e["w"] = e["share"] * e["fill"]
                    slots[e["slot"]]["wsum"] += e["w"]
                for _, _, e in in_edges:
                    s = slots[e["slot"]]
                    share = e["share"]
                    target = e["w"] / s["wsum"] if s["wsum"] > 0 else share
                    rate = s["subst"]
                    share = share + rate * (target - share)
                    share += REVERSION * rate * (e["share0"] - share)
                    e["new_share"] = share
                    s["ssum"] += share
                for _, _, e in in_edges:
                    e["share"] = e["new_share"] / slots[e["slot"]]["ssum"]

        # 7. capacity ramp-up where demand exceeds capacity; remember this week's demand
        out = {}
        for v, d in nodes:
            target = d["ramp_max_"] if d["new_demand"] > d["cap"] * (1 - 1e-12) else 0.0
            ramp = d["ramp"] + (target - d["ramp"]) * min(d["ramp_rate"], 1.0)
            d["ramp"] = 0.0 if ramp < 1e-15 else ramp
            d["demand"] = d["x0"] if d["sink"] else d["new_demand"]
            d["output"] = out[v] = d["x"]
        self.week += 1
        return out

    # ------------------------------------------------------------------------------------------
    def arrays(self, g) -> dict:
        """State as arrays in the order of a :class:`~chip4model.engine.CompiledGraph`."""
        nodes, edges = self.G.nodes, self.G.edges
        ids = g.node_ids
        src = [ids[i] for i in g.src.tolist()]
        dst = [ids[i] for i in g.dst.tolist()]
        slot_node = [ids[i] for i in g.slot_node.tolist()]
        slot_seg = [g.segments[i] for i in g.slot_segment.tolist()]
        return {
            "output": np.array([nodes[v]["output"] for v in ids]),
            "demand": np.array([nodes[v]["demand"] for v in ids]),
            "ramp": np.array([nodes[v]["ramp"] for v in ids]),
            "orders": np.array([edges[u, v]["orders"] for u, v in zip(src, dst, strict=True)]),
            "delivered": np.array([edges[u, v]["delivered"]
                                   for u, v in zip(src, dst, strict=True)]),
            "share": np.array([edges[u, v]["share"] for u, v in zip(src, dst, strict=True)]),
            "stock": np.array([nodes[v]["slots"][s]["stock"]
                               for v, s in zip(slot_node, slot_seg, strict=True)]),
        }


STATE = ("output", "demand", "ramp", "orders", "delivered", "share", "stock")


def engine_arrays(eng) -> dict:
    """The same state, read from a :class:`~chip4model.engine.FlowEngine` (those it has)."""
    out = {}
    for k in STATE:
        v = getattr(eng, k, None)
        if v is not None:
            out[k] = np.asarray(v)
    return out


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| / |b| over elements, with a floor of 1e-12 x max|b| under |b|.

    The floor keeps values that are zero in one and 1e-17 in the other from counting as a
    relative difference of 1; anything this reports below 1e-9 agrees to 1e-9 relative.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return math.inf
    if not a.size:
        return 0.0
    scale = float(np.max(np.abs(b)))
    denom = np.maximum(np.abs(b), 1e-12 * scale if scale > 0 else 1e-300)
    return float(np.max(np.abs(a - b) / denom))
