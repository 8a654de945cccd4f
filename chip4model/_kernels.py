"""Compiled kernel of the engine's weekly step (numba): the numpy step's arithmetic, fused.

:meth:`chip4model.engine.FlowEngine.step` does the week as a sequence of whole-array numpy
operations (``_step_numpy``); this module does the very same floating-point operations in the
same order, fused into three passes over the compiled arrays, so that results agree bit for bit
(tested) while a step on a large graph reads memory a few times instead of some thirty. Sums
run over edges in edge order, as ``numpy.bincount`` does. Without numba the engine uses numpy.
"""

from __future__ import annotations

import types

try:
    import numba
except ImportError:  # pragma: no cover - numba is a pinned dependency
    numba = None

AVAILABLE = numba is not None
prange = numba.prange if AVAILABLE else range
FILLED = 1 - 1e-12  # a fill or rationing ratio at least this counts as complete


def _step(x0, cap_base, cap_mult, ramp, ramp_max, ramp_rate, is_sink, extra_demand,
          demand, node_slot_ptr, slot_node, a, stock_weeks, stock, inject, inv_tau,
          slot_ptr, src, share, share0, rate_k, revert, block, has_block, first, mode,
          renormalise, shares_moved, orders, delivered, x, cap, plan, new_demand, r1, r2, d1):
    """One week. Updates ``demand, ramp, stock, share`` in place and fills ``orders,
    delivered, x``; ``cap`` to ``d1`` are scratch buffers. ``mode`` 0 is proportional
    rationing, 1 serves ``first`` edges first. Returns whether supplier shares have moved."""
    n = x0.shape[0]
    k_n = a.shape[0]
    # 1. capacity, plans, orders and the demand that reaches each supplier
    for i in range(n):
        if is_sink[i]:
            cap[i] = x0[i]
        else:
            cap[i] = (cap_base[i] + x0[i] * ramp[i]) * cap_mult[i]
        plan[i] = min(demand[i], cap[i])
        new_demand[i] = 0.0
        r1[i] = 1.0
        r2[i] = 1.0
    for k in range(k_n):
        stock[k] += inject[k]
        use = a[k] * plan[slot_node[k]]
        need = use + (stock_weeks[k] * use - stock[k]) * inv_tau
        if need < 0.0:
            need = 0.0
        for e in range(slot_ptr[k], slot_ptr[k + 1]):
            o = share[e] * need
            orders[e] = o
            new_demand[src[e]] += o * (1.0 - block[e]) if has_block else o
    for i in range(n):
        new_demand[i] += extra_demand[i]
    # 2. production (demand, capacity, input stocks) and rationing ratios
    for i in range(n):
        xi = min(new_demand[i], cap[i])
        if not is_sink[i]:
            for k in range(node_slot_ptr[i], node_slot_ptr[i + 1]):
                v = stock[k] / a[k]
                if v < xi:
                    xi = v
        x[i] = xi
    rmin = 1.0
    if mode == 0:
        for i in range(n):
            if new_demand[i] > 0:
                r = x[i] / new_demand[i]
                r1[i] = r if r < 1.0 else 1.0
                rmin = min(rmin, r1[i])
    else:
        for i in range(n):
            d1[i] = 0.0
        for e in range(src.shape[0]):
            p = orders[e] * (1.0 - block[e]) if has_block else orders[e]
            d1[src[e]] += p if first[e] else 0.0
        for i in range(n):
            served = min(x[i], d1[i])
            rest = new_demand[i] - d1[i]
            if d1[i] > 0:
                r1[i] = served / d1[i]
            if rest > 0:
                r = (x[i] - served) / rest
                r2[i] = r if r < 1.0 else 1.0
            rmin = min(rmin, r1[i], r2[i])
    substitute = shares_moved or has_block or rmin < FILLED
    # 3. deliveries into stocks and supplier substitution: slots are independent, so this,
    # the heaviest pass, runs in parallel (each slot's arithmetic is unchanged)
    for k in prange(k_n):
        node = slot_node[k]
        sink = is_sink[node]
        lo, hi = slot_ptr[k], slot_ptr[k + 1]
        s = stock[k] - a[k] * x[node]
        if s < 0.0:
            s = 0.0
        got = 0.0
        wsum = 0.0
        for e in range(lo, hi):
            p = orders[e] * (1.0 - block[e]) if has_block else orders[e]
            d = p * (r1[src[e]] if (mode == 0 or first[e]) else r2[src[e]])
            delivered[e] = d
            got += d
            if substitute:
                wsum += share[e] * (d / orders[e] if orders[e] > 0 else 1.0)
        stock[k] = 0.0 if sink else s + got
        if substitute:
            rate = rate_k[k]
            rev = revert * rate
            tot = 0.0
            for e in range(lo, hi):
                sh = share[e]
                f = delivered[e] / orders[e] if orders[e] > 0 else 1.0
                target = sh * f / wsum if wsum > 0 else sh
                sh = sh + rate * (target - sh)
                sh += rev * (share0[e] - sh)
                share[e] = sh
                tot += sh
            if renormalise:
                for e in range(lo, hi):
                    share[e] /= tot
    # what final-demand markets received, summed in edge order
    for i in range(n):
        if is_sink[i]:
            got = 0.0
            for k in range(node_slot_ptr[i], node_slot_ptr[i + 1]):
                for e in range(slot_ptr[k], slot_ptr[k + 1]):
                    got += delivered[e]
            x[i] = got
    # 4. ramp-up where demand exceeds capacity; markets' demand is their consumption target
    for i in range(n):
        over = (new_demand[i] > cap[i] * (1 - 1e-12)) and not is_sink[i]
        tgt = ramp_max[i] if over else 0.0
        ramp[i] += (tgt - ramp[i]) * ramp_rate[i]
        if ramp[i] < 1e-15:
            ramp[i] = 0.0
        demand[i] = x0[i] if is_sink[i] else new_demand[i]
    return substitute


# Two compiled variants of the same code: serial for small graphs (thread start-up would cost
# more than it saves), parallel over slots for large ones. Same arithmetic, same results. The
# parallel one is a copy under another name so the two never share an on-disk cache entry.
PARALLEL_MIN_EDGES = 50_000
_step_parallel = types.FunctionType(_step.__code__, _step.__globals__, "_step_parallel")
_step_parallel.__qualname__ = "_step_parallel"
if AVAILABLE:
    step_serial = numba.njit(cache=True, nogil=True)(_step)
    step_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_step_parallel)
else:  # pragma: no cover
    step_serial = step_parallel = None


def kernel_for(n_edges: int):
    """The compiled step suited to a graph of ``n_edges`` edges."""
    return step_parallel if n_edges >= PARALLEL_MIN_EDGES else step_serial
