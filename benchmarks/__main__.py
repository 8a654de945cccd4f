"""``python -m benchmarks [--quick] [--only NAME[:CASE]] [--write | --no-write] [--strict]``.

Each benchmark case runs in a child process of this one (``--child``), so that the cases do not
share memory, garbage or warm caches and the peak RSS reported is the case's own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, log, machine_info

CASES = (
    ("run_default", None),
    ("engine_step", "10k"),
    ("engine_step", "100k"),
    ("networkx_loop", "10k"),
    ("networkx_loop", "100k"),
    ("sweep_throughput", "1w"),
    ("sweep_throughput", "2w"),
    ("sweep_throughput", "dask2"),
    ("sweep_memory", "500"),
    ("sweep_memory", "1k"),
    ("sweep_memory", "5k"),
    ("sweep_memory", "10k"),
    ("sweep_memory", "40k"),
    ("dashboard_step", "views"),
    ("dashboard_step", "render"),
    ("dashboard_step", "browser"),
)
# --quick leaves these out unless --only names them: the 1M-edge graph, the big sweeps
QUICK_SKIP = {("engine_step", "100k"), ("networkx_loop", "100k"), ("sweep_memory", "5k"),
              ("sweep_memory", "10k"), ("sweep_memory", "40k")}
DOC = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "benchmarks" / "out" / "results.json"
CHILD_TIMEOUT_S = 1200


def _run_case(name: str, case: str | None, quick: bool) -> dict:
    """Run one case in this process (the child side)."""
    if name == "run_default":
        from .bench_run import bench_run_default

        return bench_run_default(case, quick)
    if name == "engine_step":
        from .bench_engine import bench_engine_step

        return bench_engine_step(case, quick)
    if name == "networkx_loop":
        from .bench_networkx import bench_networkx_loop

        return bench_networkx_loop(case, quick)
    if name == "sweep_throughput":
        from .bench_sweep import bench_sweep_throughput

        return bench_sweep_throughput(case, quick)
    if name == "sweep_memory":
        from .bench_sweep import bench_sweep_memory

        return bench_sweep_memory(case, quick)
    if name == "dashboard_step":
        from .bench_dashboard import bench_dashboard_step

        return bench_dashboard_step(case, quick)
    raise ValueError(f"unknown benchmark {name!r}")


def _spawn(name: str, case: str | None, quick: bool) -> dict:
    """Run one case in a child interpreter and return its result (or the error)."""
    spec = name if case is None else f"{name}:{case}"
    with tempfile.TemporaryDirectory(prefix="chip4bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", spec, "--result", str(out)]
        if quick:
            cmd.append("--quick")
        load0 = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, timeout=CHILD_TIMEOUT_S)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        wall = time.perf_counter() - t0
        if rc == 0 and out.exists():
            res = json.loads(out.read_text())
        else:
            res = {"benchmark": name, "case": case, "error": f"child exited with {rc}",
                   "pass": False}
    res["wall_s"] = wall
    res["load"] = [load0, [round(x, 2) for x in os.getloadavg()]]
    return res


def _merge(run: dict, only: bool) -> dict:
    """Stamp each new row with the run that measured it; with ``--only``, keep the rows of the
    other cases from the previous results file, so a partial run updates rather than wipes."""
    from .bench_sweep import annotate_speedups

    m = run["machine"]
    measured = {"command": run["command"], "date": run["date"], "mode": run["mode"],
                "total_s": run["total_s"], "git_head": m["git_head"],
                "chip4model_dirty": m["chip4model_dirty"],
                "load": [m["loadavg_at_start"], m["loadavg_at_end"]]}
    for r in run["results"]:
        r["measured"] = measured
    results = run["results"]
    if only and OUT.exists():
        try:
            old = json.loads(OUT.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        om = old.get("machine", {})
        old_measured = {"command": old.get("command"), "date": old.get("date"),
                        "mode": old.get("mode"), "total_s": old.get("total_s"),
                        "git_head": om.get("git_head"),
                        "chip4model_dirty": om.get("chip4model_dirty"),
                        "load": [om.get("loadavg_at_start"), om.get("loadavg_at_end")]}
        new = {(r["benchmark"], r.get("case")) for r in results}
        kept = [r | {"measured": r.get("measured") or old_measured}
                for r in old.get("results", [])
                if (r.get("benchmark"), r.get("case")) not in new and r.get("benchmark")]
        order = {c: i for i, c in enumerate(CASES)}
        results = sorted(kept + results,
                         key=lambda r: order.get((r["benchmark"], r.get("case")), len(order)))
    annotate_speedups(results)
    return run | {"results": results}


def _select(only: list[str] | None, quick: bool) -> list[tuple[str, str | None]]:
    if not only:
        return [(n, c) for n, c in CASES if not (quick and (n, c) in QUICK_SKIP)]
    chosen = []
    for spec in only:
        for part in spec.split(","):
            name, _, case = part.strip().partition(":")
            match = [(n, c) for n, c in CASES if n == name and (not case or c == case)]
            if not match:
                known = ", ".join(n if c is None else f"{n}[:{c}]" for n, c in CASES)
                raise SystemExit(f"unknown benchmark {part!r}; known: {known}")
            if not case and quick:
                match = [m for m in match if m not in QUICK_SKIP] or match
            chosen += [m for m in match if m not in chosen]
    return chosen


def _command(argv: list[str]) -> str:
    exe = Path(sys.executable)
    try:
        exe_s = str(exe.relative_to(ROOT))
    except ValueError:
        exe_s = str(exe)
    return " ".join([exe_s, "-m", "benchmarks", *argv])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time chip4model (default run, engine step, networkx-loop comparison, "
                    "sweep throughput, coordinator memory and a dashboard step); print a "
                    "table, write "
                    f"{OUT.relative_to(ROOT)} (with --only, merged into the rows already "
                    f"there) and, for a full run, {DOC.relative_to(ROOT)}.")
    p.add_argument("--quick", action="store_true",
                   help="fewer repetitions, no 1M-edge graph, 60-run throughput sweeps, "
                        "memory sweeps of 500 and 1,000 runs only and fewer dashboard steps; "
                        "does not rewrite the docs")
    p.add_argument("--only", action="append", metavar="NAME[:CASE]",
                   help="run only these (run_default; engine_step, networkx_loop: cases 10k, "
                        "100k; sweep_throughput: 1w, 2w, dask2; sweep_memory: 500, 1k, 5k, "
                        "10k, 40k; dashboard_step: views, render, browser); repeatable or "
                        "comma-separated; the other cases keep their previous figures")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--write", action="store_true",
                   help=f"rewrite {DOC.relative_to(ROOT)} even with --quick or --only")
    w.add_argument("--no-write", action="store_true",
                   help=f"do not rewrite {DOC.relative_to(ROOT)}")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a target or an agreement check is missed")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:  # child side: one case, result as JSON to --result
        name, _, case = args.child.partition(":")
        res = _run_case(name, case or None, args.quick)
        Path(args.result).write_text(json.dumps(res, default=float))
        return 0

    from .report import markdown, stdout_table

    cases = _select(args.only, args.quick)
    started = dt.datetime.now(dt.UTC)
    machine = machine_info()
    log(f"chip4model benchmarks ({'quick' if args.quick else 'full'}): "
        f"{', '.join(n if c is None else f'{n}:{c}' for n, c in cases)}")
    log(f"machine: {machine['nproc']} cores, {machine['cpu_model']}, load "
        f"{machine['loadavg_at_start']}, Python {machine['python']}, numpy {machine['numpy']}")
    t0 = time.perf_counter()
    results = []
    for name, case in cases:
        log(f"[{name}{'' if case is None else ':' + case}]")
        results.append(_spawn(name, case, args.quick))
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    run = {
        "command": _command(argv), "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full", "total_s": time.perf_counter() - t0,
        "machine": machine, "results": results,
    }
    run = _merge(run, bool(args.only))   # results: this run's rows (the --strict verdict)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(run, indent=1, default=float))
    print(stdout_table(run))
    write = args.write or not (args.quick or args.only or args.no_write)
    if write:
        DOC.write_text(markdown(run))
        log(f"wrote {DOC.relative_to(ROOT)} and {OUT.relative_to(ROOT)}")
    else:
        log(f"wrote {OUT.relative_to(ROOT)} ({DOC.relative_to(ROOT)} left as it was; "
            "--write to rewrite it)")
    errors = [r for r in results if "error" in r]
    if errors:
        return 2
    if args.strict and not all(r.get("pass", True) for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
