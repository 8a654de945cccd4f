"""``sweep_throughput`` and ``sweep_memory``: :func:`chip4model.sweep.sweep` end to end.

``sweep_throughput`` times one ``sweep()`` call of the default scenario (kor-aligns-collective,
156 weeks, with its no-rules counterfactual: one run is two simulations) in-process (``1w``),
over a spawn process pool of 2 workers (``2w``) and over a fresh Dask ``LocalCluster`` of 2
single-threaded worker processes (``dask2``). The wall clock covers the whole call: the pool's
start-up (spawning the workers, importing chip4model there, loading numba's cache), every run,
the Parquet parts and their consolidation. The Dask cluster is started before the call (its
start-up is reported apart); its workers still import chip4model inside the call.

``sweep_memory`` sweeps a cheap run (scenario baseline, 4 weeks, no counterfactual) over 2
process-pool workers and reports the coordinator's peak RSS, i.e. ``ru_maxrss`` of this child
process: the workers are separate processes and are not counted.
"""

from __future__ import annotations

import hashlib
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

from .common import current_rss_mb, log, peak_rss_mb, system_cpu

SPEEDUP_TARGET = 1.7            # issue: 2 workers >= 1.7x the runs/s of 1 worker
MEMORY_TARGET_MB = 300.0        # issue: coordinator peak <= 300 MB (10^6 bytes) at 10,000 runs

# Throughput design: china.resolve levels x replications of the default scenario.
THROUGHPUT_FULL = (8, 120)      # 960 runs (1,920 simulations)
THROUGHPUT_QUICK = (3, 20)      # 60 runs
THROUGHPUT_SCENARIO = "kor-aligns-collective"
MEMORY_STEPS = 4
MEMORY_REPS = 100               # runs = levels x 100
MEMORY_RUNS = {"500": 500, "1k": 1_000, "5k": 5_000, "10k": 10_000, "40k": 40_000}
MEMORY_WORKERS = 2
THROUGHPUT_CASES = {"1w": "in-process (workers=1)", "2w": "process pool (workers=2)",
                    "dask2": "Dask LocalCluster (2 worker processes x 1 thread)"}

THROUGHPUT_TOML = """\
name = "bench_sweep_throughput"
scenario = "{scenario}"
seed = 2026
replications = {reps}
metrics = ["absorption_ratio", "shock_absorption", "deterred", "retaliation.weeks_active",
           "KOR.net_loss_pct", "CHN.gdp_loss_pct"]

[[factors]]
name = "resolve"
set = ["china.resolve"]
range = [0.2, 0.9]
levels = {levels}
"""

MEMORY_TOML = """\
name = "bench_sweep_memory"
scenario = "baseline"
steps = {steps}
counterfactual = false
seed = 2026
replications = {reps}
metrics = ["KOR.net_loss_pct", "USA.net_loss_pct", "CHN.gdp_loss_pct"]

[[factors]]
name = "resolve"
set = ["china.resolve"]
range = [0.05, 0.95]
levels = {levels}
"""

def _timed_progress(marks: list):
    """A :class:`chip4model.sweep.Progress` that also records, at each finished chunk, the time,
    the runs done and the coordinator's RSS (it prints nothing: the sweep runs with
    ``progress=False``)."""
    from chip4model.sweep import Progress

    class TimedProgress(Progress):
        def update(self, n: int) -> None:
            super().update(n)
            marks.append((time.perf_counter(), self.done, current_rss_mb()))

    return TimedProgress


class _RssSampler(threading.Thread):
    """The largest current RSS of this process seen every ``dt`` seconds while it runs."""

    def __init__(self, dt: float = 0.05):
        super().__init__(daemon=True)
        self.dt, self.max_mb, self._stop_evt = dt, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            self.max_mb = max(self.max_mb, current_rss_mb())
            self._stop_evt.wait(self.dt)

    def stop(self) -> float:
        self._stop_evt.set()
        self.join()
        self.max_mb = max(self.max_mb, current_rss_mb())
        return self.max_mb


def _thin(marks: list, keep: int = 9) -> list:
    """About ``keep`` of the marks, evenly spread over the runs, first and last included."""
    if len(marks) <= keep:
        return marks
    idx = sorted({round(i * (len(marks) - 1) / (keep - 1)) for i in range(keep)})
    return [marks[i] for i in idx]


def _cpu(who) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _runs_table(out: Path, metrics: list[str]) -> tuple[str, dict]:
    """SHA-256 of runs.parquet's ids, factor and metric columns (equal tables, equal digest),
    and the metric columns themselves (to measure how far two sweeps' tables differ)."""
    import pyarrow.parquet as pq

    t = pq.read_table(out / "runs.parquet")
    h = hashlib.sha256()
    for name in ("run_id", "point", "rep", "seed", "resolve", *metrics, "status"):
        h.update(name.encode())
        h.update(repr(t.column(name).to_pylist()).encode())
    return h.hexdigest()[:16], {m: t.column(m).to_pylist() for m in metrics}


def table_difference(a: dict, b: dict) -> tuple[int, int, float]:
    """(values that differ, values compared, largest relative difference) of two sweeps'
    metric columns; NaN equals NaN."""
    import numpy as np

    n = diff = 0
    worst = 0.0
    for m in a:
        x = np.asarray(a[m], dtype=float)
        y = np.asarray(b.get(m, [np.nan] * len(x)), dtype=float)
        if x.shape != y.shape:
            return len(x), len(x), float("inf")
        both_nan = np.isnan(x) & np.isnan(y)
        ne = (x != y) & ~both_nan
        n += x.size
        diff += int(ne.sum())
        if ne.any():
            rel = np.abs(x[ne] - y[ne]) / np.maximum(np.abs(x[ne]), np.abs(y[ne]))
            worst = max(worst, float(np.nan_to_num(rel, nan=np.inf).max()))
    return diff, n, worst


def _timed_sweep(exp, out: Path, **kw) -> dict:
    """One ``sweep()`` call, with wall clock, CPU, progress marks and load around it."""
    import chip4model.sweep as sweep_mod

    raw: list[tuple[float, int, float]] = []
    original = sweep_mod.Progress
    sweep_mod.Progress = _timed_progress(raw)
    load0, cpu_self0, cpu_kids0 = _load(), _cpu(resource.RUSAGE_SELF), \
        _cpu(resource.RUSAGE_CHILDREN)
    sys0 = system_cpu()
    try:
        t0 = time.perf_counter()
        res = sweep_mod.sweep(exp, out, progress=False, **kw)
        wall = time.perf_counter() - t0
    finally:
        sweep_mod.Progress = original
    sys1 = system_cpu()
    manifest = sweep_mod.read_manifest(out)
    marks = [(t - t0, done, rss) for t, done, rss in raw]
    # chunks handed over together (in-process, a whole window at once) count as one arrival
    first = max((m for m in marks if m[0] - marks[0][0] < 0.01), key=lambda m: m[1]) \
        if marks else None
    steady = None
    if first and marks[-1][0] > first[0]:
        steady = (marks[-1][1] - first[1]) / (marks[-1][0] - first[0])
    return {
        "n_runs": res.n_runs, "failed": res.failed, "status": res.status,
        "sweep_s": wall, "runs_per_s": res.n_runs / wall,
        "first_result_s": first[0] if first else None,
        "first_result_runs": first[1] if first else None,
        "steady_runs_per_s": steady, "marks": _thin(marks),
        "chunk_size": manifest.get("chunk_size"),
        "executor": manifest["sessions"][-1].get("executor"),
        "coordinator_cpu_s": _cpu(resource.RUSAGE_SELF) - cpu_self0,
        "children_cpu_s": _cpu(resource.RUSAGE_CHILDREN) - cpu_kids0,
        "load_before": load0, "load_after": _load(),
        "machine_cpu_s": {k: sys1[k] - sys0[k] for k in sys0},
    }


def _others(r: dict, ours: float) -> None:
    """CPU time the rest of the machine used during the sweep: all busy time minus ours."""
    m = r.get("machine_cpu_s") or {}
    if "busy" in m:
        r["others_cpu_s"] = max(0.0, m["busy"] - ours)
        r["steal_s"] = m["steal"]


def bench_sweep_throughput(case: str | None, quick: bool) -> dict:
    if case not in THROUGHPUT_CASES:
        raise ValueError(f"unknown sweep_throughput case {case!r}")
    levels, reps = THROUGHPUT_QUICK if quick else THROUGHPUT_FULL
    t0 = time.perf_counter()
    from chip4model.experiment import load_experiment

    import_s = time.perf_counter() - t0
    cluster = None
    kids0 = _cpu(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="chip4bench-sweep-") as tmp:
        tmp = Path(tmp)
        toml = tmp / "throughput.toml"
        toml.write_text(THROUGHPUT_TOML.format(scenario=THROUGHPUT_SCENARIO, reps=reps,
                                               levels=levels))
        exp = load_experiment(toml)
        n_runs = levels * reps
        kw: dict = {}
        cluster_s = None
        if case == "1w":
            kw["workers"] = 1
        elif case == "2w":
            kw["workers"] = 2
        else:
            import logging

            from distributed import LocalCluster

            t1 = time.perf_counter()
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            cluster_s = time.perf_counter() - t1
            kw["scheduler"] = cluster.scheduler_address
        log(f"sweep_throughput:{case}: {n_runs} runs of {THROUGHPUT_SCENARIO} (156 weeks + "
            f"counterfactual), {THROUGHPUT_CASES[case]}, load {_load()}"
            + (f"; LocalCluster up in {cluster_s:.1f} s" if cluster_s is not None else ""))
        try:
            r = _timed_sweep(exp, tmp / "out", **kw)
            digest, columns = _runs_table(tmp / "out", exp.metrics)
        finally:
            if cluster is not None:
                cluster.close()
    if r["failed"] or r["n_runs"] != n_runs:
        raise RuntimeError(f"sweep ran {r['n_runs']} runs, {r['failed']} failed")
    # Dask's worker processes are reaped (and their CPU counted) only when the cluster closes
    r["children_cpu_s"] = _cpu(resource.RUSAGE_CHILDREN) - kids0
    cpu = r["coordinator_cpu_s"] + r["children_cpu_s"]
    _others(r, cpu)
    log(f"sweep_throughput:{case}: {r['runs_per_s']:.1f} runs/s ({r['sweep_s']:.1f} s wall; "
        f"first {r['first_result_runs']} runs in after {r['first_result_s']:.1f} s; steady "
        f"{r['steady_runs_per_s'] or float('nan'):.1f} runs/s; {cpu / n_runs * 1e3:.0f} ms CPU "
        f"per run), load {r['load_before']} -> {r['load_after']}; other processes used "
        f"{r.get('others_cpu_s', float('nan')):.1f} CPU s during it, steal "
        f"{r.get('steal_s', float('nan')):.1f} s")
    return {
        "benchmark": "sweep_throughput", "case": case, "setup": THROUGHPUT_CASES[case],
        "quick": quick,
        "scenario": THROUGHPUT_SCENARIO, "weeks": 156, "sims_per_run": 2,
        "levels": levels, "replications": reps, "import_s": import_s,
        "cluster_start_s": cluster_s, **r, "cpu_per_run_s": cpu / n_runs,
        "runs_digest": digest, "metric_columns": columns, "peak_rss_mb": peak_rss_mb(),
    }


def bench_sweep_memory(case: str | None, quick: bool) -> dict:
    if case not in MEMORY_RUNS:
        raise ValueError(f"unknown sweep_memory case {case!r}")
    n_runs = MEMORY_RUNS[case]
    start_rss = current_rss_mb()
    t0 = time.perf_counter()
    import chip4model  # noqa: F401 - the baseline: what the coordinator imports
    from chip4model.experiment import load_experiment
    from chip4model.sweep import sweep  # noqa: F401

    import_s = time.perf_counter() - t0
    base_rss, base_peak = current_rss_mb(), peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="chip4bench-sweep-") as tmp:
        tmp = Path(tmp)
        toml = tmp / "memory.toml"
        toml.write_text(MEMORY_TOML.format(steps=MEMORY_STEPS, reps=MEMORY_REPS,
                                           levels=n_runs // MEMORY_REPS))
        exp = load_experiment(toml)
        loaded_rss = current_rss_mb()
        log(f"sweep_memory:{case}: {n_runs:,} runs of baseline ({MEMORY_STEPS} weeks, no "
            f"counterfactual), {MEMORY_WORKERS} workers; RSS after import {base_rss:.0f} MiB, "
            f"after loading the experiment {loaded_rss:.0f} MiB; load {_load()}")
        sampler = _RssSampler()
        sampler.start()
        try:
            r = _timed_sweep(exp, tmp / "out", workers=MEMORY_WORKERS)
        finally:
            sampled = sampler.stop()
        parts = sorted((tmp / "out").glob("*"))
        out_mb = sum(p.stat().st_size for p in parts if p.is_file()) / 2**20
    if r["failed"] or r["n_runs"] != n_runs:
        raise RuntimeError(f"sweep ran {r['n_runs']} runs, {r['failed']} failed")
    _others(r, r["coordinator_cpu_s"] + r["children_cpu_s"])
    peak = peak_rss_mb()
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    log(f"sweep_memory:{case}: coordinator peak {peak:.0f} MiB ({peak * 2**20 / 1e6:.0f} MB); "
        f"largest RSS sampled during the sweep {sampled:.0f} MiB; {r['runs_per_s']:.0f} runs/s; "
        f"coordinator CPU {r['coordinator_cpu_s']:.1f} s; load {r['load_after']}")
    peak_bytes = peak * 2**20
    return {
        "benchmark": "sweep_memory", "case": case, "scenario": "baseline",
        "weeks": MEMORY_STEPS, "sims_per_run": 1, "workers": MEMORY_WORKERS,
        "levels": n_runs // MEMORY_REPS, "replications": MEMORY_REPS,
        "start_rss_mb": start_rss, "import_s": import_s,
        "baseline_rss_mb": base_rss, "baseline_peak_mb": base_peak,
        "loaded_rss_mb": loaded_rss, "sweep_max_sampled_mb": sampled,
        "end_rss_mb": current_rss_mb(), "worker_peak_mb": worker_peak, "out_mb": out_mb,
        **r, "peak_rss_mb": peak,
        "target": {"metric": "coordinator peak RSS", "limit_mb": MEMORY_TARGET_MB},
        "pass": peak_bytes <= MEMORY_TARGET_MB * 1e6,
    }


def annotate_speedups(results: list[dict]) -> None:
    """Give each sweep_throughput row its speed-up over the ``1w`` row (when there is one);
    the ``2w`` row of a full run passes if it reaches :data:`SPEEDUP_TARGET` (a quick run's
    60 runs are too few to judge)."""
    one = next((r for r in results if r.get("benchmark") == "sweep_throughput"
                and r.get("case") == "1w" and "error" not in r), None)
    for r in results:
        if r.get("benchmark") != "sweep_throughput" or "error" in r:
            continue
        for k in ("speedup_note", "target", "pass", "vs_1w"):
            r.pop(k, None)
        comparable = one is not None and one.get("n_runs") == r.get("n_runs")
        r["speedup"] = r["runs_per_s"] / one["runs_per_s"] if comparable else None
        if one and "metric_columns" in r and "metric_columns" in one:
            r["vs_1w"] = dict(zip(("differing", "compared", "max_rel_diff"),
                                  table_difference(one["metric_columns"], r["metric_columns"]),
                                  strict=True))
        if one is not None and not comparable:
            r["speedup_note"] = "the 1w row swept a different number of runs"
        elif r["case"] == "2w" and r.get("quick"):
            r["speedup_note"] = "--quick: too few runs to judge"
        if r["case"] == "2w" and not r.get("quick"):
            r["target"] = {"metric": "speed-up over 1w", "min_speedup": SPEEDUP_TARGET}
            r["pass"] = r["speedup"] is not None and r["speedup"] >= SPEEDUP_TARGET
