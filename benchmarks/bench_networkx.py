"""``networkx_loop``: the step as a plain networkx loop, checked against and timed beside
the engine on the same graph and shock."""

from __future__ import annotations

import time

from .bench_engine import time_engine
from .common import log, peak_rss_mb, stats, timed
from .graphs import SHOCK_TEXT, SIZES, build, graph_info, shock, shock_as_dicts
from .nx_loop import NetworkxFlow, engine_arrays, max_rel_diff

RTOL = 1e-9
CHECK_STEPS = 3  # steps per phase of the agreement check


def _compare(nxf: NetworkxFlow, eng, g) -> dict:
    got, want = nxf.arrays(g), engine_arrays(eng)
    if "output" not in want:
        return {"max_rel_diff": float("inf"), "worst": "output (engine has none)",
                "per_array": {}, "ok": False}
    diffs = {k: max_rel_diff(got[k], want[k]) for k in want}
    worst = max(diffs, key=diffs.get)
    return {"max_rel_diff": diffs[worst], "worst": worst, "per_array": diffs,
            "compared": sorted(diffs), "ok": diffs[worst] <= RTOL}


def check_agreement(G, g) -> list[dict]:
    """Step the loop and the engine side by side: unshocked, then under the benchmark shock."""
    from chip4model.engine import FlowEngine

    eng, nxf = FlowEngine(g), NetworkxFlow(G)
    checks = []
    for _ in range(CHECK_STEPS):
        eng.step()
        nxf.step()
    checks.append({"phase": f"{CHECK_STEPS} unshocked steps", **_compare(nxf, eng, g)})
    c = shock(g)
    nxf.set_controls(**shock_as_dicts(g, c))
    for _ in range(CHECK_STEPS):
        eng.step(c)
        nxf.step()
    checks.append({"phase": f"then {CHECK_STEPS} shocked steps", **_compare(nxf, eng, g)})
    return checks


def _fmt_check(size: str, ch: dict) -> str:
    return (f"agreement {size}, {ch['phase']}: max rel diff {ch['max_rel_diff']:.1e} "
            f"({ch['worst']}) -> {'OK' if ch['ok'] else 'MISMATCH'} (tolerance {RTOL:g})")


def bench_networkx_loop(case: str, quick: bool) -> dict:
    from chip4model.engine import FlowEngine

    size = SIZES[case]
    nx_reps = size.nx_steps[1 if quick else 0]
    eng_reps = size.engine_reps[1 if quick else 0]
    G, g, build_s, compile_s = build(size)
    c = shock(g)
    checks = []
    if case == "10k":
        checks = check_agreement(G, g)
        for ch in checks:
            log("  " + _fmt_check(case, ch))

    t0 = time.perf_counter()
    nxf = NetworkxFlow(G)
    nx_init_s = time.perf_counter() - t0
    nxf.set_controls(**shock_as_dicts(g, c))
    log(f"  networkx_loop {case}: set up in {nx_init_s:.1f} s; 1 warm-up + {nx_reps} timed "
        "shocked steps")
    nxf.step()
    nx_time = stats(timed(nxf.step, nx_reps))
    # the engine, fresh, over as many shocked steps must land on the same state
    eng = FlowEngine(g)
    for _ in range(nxf.week):
        eng.step(c)
    checks.append({"phase": f"{nxf.week} shocked steps (the timed run)",
                   **_compare(nxf, eng, g)})
    log("  " + _fmt_check(case, checks[-1]))
    del nxf
    eng_time = stats(time_engine(g, c, size.engine_warmup, eng_reps))
    ratio = nx_time["median"] / eng_time["median"]
    log(f"  networkx_loop {case}: loop {nx_time['median']:.3f} s/step, engine "
        f"{eng_time['median'] * 1e3:.2f} ms/step, ratio {ratio:,.0f}x")
    return {
        "benchmark": "networkx_loop", "case": case, "graph": graph_info(g, build_s, compile_s),
        "shock": SHOCK_TEXT, "nx_setup_s": nx_init_s, "time": nx_time, "engine_time": eng_time,
        "ratio": ratio, "checks": checks, "pass": all(ch["ok"] for ch in checks),
        "target": None, "peak_rss_mb": peak_rss_mb(),
    }
