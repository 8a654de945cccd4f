"""``engine_step``: one ``FlowEngine.step()`` under a persistent shock on synthetic graphs."""

from __future__ import annotations

import gc

import numpy as np

from .common import current_rss_mb, log, nbytes_mb, peak_rss_mb, stats, timed
from .graphs import SHOCK_TEXT, SIZES, build, graph_info, shock


def time_engine(g, controls, warmup: int, reps: int) -> list[float]:
    """Per-step seconds of a fresh engine stepping ``reps`` times after ``warmup`` steps."""
    from chip4model.engine import FlowEngine

    eng = FlowEngine(g)
    for _ in range(warmup):
        eng.step(controls)
    times = timed(lambda: eng.step(controls), reps)
    if not np.isfinite(eng.output).all():
        raise RuntimeError("engine output is not finite after the timed steps")
    return times


def bench_engine_step(case: str, quick: bool) -> dict:
    from chip4model.engine import FlowEngine

    size = SIZES[case]
    reps = size.engine_reps[1 if quick else 0]
    G, g, build_s, compile_s = build(size)
    info = graph_info(g, build_s, compile_s)
    del G  # the engine needs only the compiled arrays
    gc.collect()
    c = shock(g)
    log(f"  engine_step {case}: warm-up {size.engine_warmup}, timing {reps} shocked steps")
    shocked = stats(time_engine(g, c, size.engine_warmup, reps))
    neutral = stats(time_engine(g, None, size.engine_warmup, reps))
    eng = FlowEngine(g)
    eng.step(c)
    return {
        "benchmark": "engine_step", "case": case, "graph": info, "shock": SHOCK_TEXT,
        "warmup_steps": size.engine_warmup, "time": shocked, "time_unshocked": neutral,
        "target": {"metric": "median", "limit_s": size.target_s},
        "pass": shocked["median"] <= size.target_s,
        "arrays_mb": nbytes_mb(g, eng, c), "rss_after_mb": current_rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }
