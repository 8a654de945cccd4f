"""``run_default``: the default ``chip4model.run()``, in-process, after import and a warm-up."""

from __future__ import annotations

import time

from .common import log, peak_rss_mb, stats, timed

TARGET_MEDIAN_S = 0.050  # issue target: median <= 50 ms for the default run


def bench_run_default(case: str | None, quick: bool) -> dict:
    reps = 10 if quick else 30
    t0 = time.perf_counter()
    from chip4model import run

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run()
    first_s = time.perf_counter() - t0
    steps = result.steps + (result.counterfactual.steps if result.counterfactual else 0)
    log(f"run_default: import {import_s:.2f} s, first run {first_s * 1e3:.0f} ms, "
        f"{steps} model steps per run; timing {reps} runs")
    st = stats(timed(run, reps))
    return {
        "benchmark": "run_default", "case": None,
        "scenario": getattr(result.scenario, "name", None),
        "weeks": result.steps, "model_steps": steps,
        "counterfactual": result.counterfactual is not None,
        "import_s": import_s, "first_run_s": first_s, "time": st,
        "per_step_s": st["median"] / steps,
        "target": {"metric": "median", "limit_s": TARGET_MEDIAN_S},
        "pass": st["median"] <= TARGET_MEDIAN_S,
        "peak_rss_mb": peak_rss_mb(),
    }
