"""The results as a compact stdout table and as docs/benchmarks.md."""

from __future__ import annotations

from .bench_sweep import MEMORY_TARGET_MB
from .graphs import SHOCK_TEXT, SIZES


def t(s: float | None) -> str:
    """A duration in seconds, in a readable unit."""
    if s is None or s != s:
        return "-"
    if s < 0.01:
        return f"{s * 1e3:.2f} ms"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _target(r: dict) -> str:
    tg = r.get("target")
    if not tg:
        return "-"
    if "limit_mb" in tg:
        return f"<= {tg['limit_mb']:.0f} MB"
    if "min_speedup" in tg:
        return f">= {tg['min_speedup']:.1f}x 1w"
    return f"<= {t(tg['limit_s'])}"


def mb(mib: float) -> str:
    """A size given in MiB, as MiB and as MB (10^6 bytes, the unit of the memory target)."""
    return f"{mib:,.0f} MiB ({mib * 2**20 / 1e6:,.0f} MB)"


def _speedup(r: dict) -> str:
    sp = r.get("speedup")
    return "-" if sp is None else f"{sp:.2f}x"


def _verdict(r: dict) -> str:
    if "error" in r:
        return "ERROR: " + r["error"]
    if r["benchmark"] == "networkx_loop":
        return "agrees" if r["pass"] else "DISAGREES"
    tg = r.get("target")
    if not tg:
        return "-"
    if "min_speedup" in tg:
        note = f"; {r['speedup_note']}" if r.get("speedup_note") else ""
        if r.get("speedup") is None:
            return "FAIL: " + (r.get("speedup_note") or "no 1w row to compare with")
        return ("pass" if r["pass"] else "FAIL") + f" ({_speedup(r)}){note}"
    if "limit_mb" in tg:
        peak_mb = r["peak_rss_mb"] * 2**20 / 1e6
        if r["pass"]:
            return f"pass ({tg['limit_mb'] / peak_mb:.1f}x under)"
        return f"FAIL ({peak_mb / tg['limit_mb']:.2f}x over)"
    med = r["time"]["median"]
    if r["pass"]:
        return f"pass ({tg['limit_s'] / med:.1f}x under)"
    return f"FAIL ({med / tg['limit_s']:.1f}x over)"


def _label(r: dict) -> str:
    return r["benchmark"] + ("" if r.get("case") is None else ":" + r["case"])


def _graph(r: dict) -> str:
    g = r.get("graph")
    return f"{g['nodes']:,} n / {g['edges']:,} e" if g else "-"


def runs_of(run: dict) -> list[dict]:
    """The distinct invocations that measured the rows (more than one after ``--only``)."""
    out: list[dict] = []
    for r in run["results"]:
        m = r.get("measured") or {k: run[k] for k in ("command", "date", "mode", "total_s")}
        if not any(m["command"] == o["command"] and m["date"] == o["date"] for o in out):
            out.append(m)
    return sorted(out, key=lambda o: o.get("date") or "")


def _run_no(run: dict, r: dict) -> int:
    m = r.get("measured")
    if m is None:
        return 1
    return next(i for i, o in enumerate(runs_of(run), 1)
                if o["command"] == m["command"] and o["date"] == m["date"])


def _sweep_row(r: dict) -> tuple:
    if r["benchmark"] == "sweep_throughput":
        result = f"{r['runs_per_s']:.1f} runs/s"
        if r.get("speedup") is not None and r["case"] != "1w":
            result += f", {_speedup(r)} 1w"
        if r.get("target"):
            result += "; " + _verdict(r)
        elif r.get("speedup_note") and r["case"] != "1w":
            result += f" ({r['speedup_note']})"
        wall = f"{t(r['sweep_s'])} ({r['n_runs']} runs)"
        return (_label(r), wall, "-", "-", _target(r), result,
                f"{r['peak_rss_mb']:,.0f} MiB")
    wall = f"{t(r['sweep_s'])} ({r['n_runs']:,} runs)"
    result = f"{_verdict(r)}; {r['runs_per_s']:,.0f} runs/s"
    return (_label(r), wall, "-", "-", _target(r), result, mb(r["peak_rss_mb"]))


def stdout_table(run: dict) -> str:
    runs = runs_of(run)
    several = len(runs) > 1
    rows = [("benchmark", "median", "min", "p90", "target", "result", "peak RSS")]
    for r in run["results"]:
        if "error" in r:
            rows.append((_label(r), "-", "-", "-", _target(r), _verdict(r), "-"))
            continue
        if r["benchmark"].startswith("sweep_"):
            row = _sweep_row(r)
            rows.append(row[:5] + (row[5] + (f" [{_run_no(run, r)}]" if several else ""),)
                        + row[6:])
            continue
        tm = r["time"]
        result = _verdict(r)
        if r["benchmark"] == "networkx_loop":
            result = f"{r['ratio']:,.0f}x engine ({t(r['engine_time']['median'])}), {result}"
        if r["benchmark"] == "run_default":
            result += f"; {t(r['per_step_s'])}/step"
        if r["benchmark"] == "dashboard_step":
            result += f"; max {t(tm['max'])}" + (f"; {kb(r['ws_bytes']['median'])}/step"
                                                 if r.get("ws_bytes") else "")
        if several:
            result += f" [{_run_no(run, r)}]"
        rows.append((_label(r), t(tm["median"]), t(tm["min"]), t(tm["p90"]), _target(r), result,
                     f"{r['peak_rss_mb']:,.0f} MiB"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = run["machine"]
    if not several:
        code = f"git {m['git_head']}" + ("+dirty" if m["chip4model_dirty"] else "")
        lines.append(f"{run['mode']} run, {run['total_s']:.0f} s, {code}, {m['nproc']} cores, "
                     f"load {m['loadavg_at_start']} -> {m['loadavg_at_end']}; {run['command']}")
        return "\n".join(lines)
    lines.append(f"{m['nproc']} cores; rows measured by {len(runs)} runs:")
    for i, o in enumerate(runs, 1):
        code = (f"git {o['git_head']}" + ("+dirty" if o.get("chip4model_dirty") else "")
                if o.get("git_head") else "git ?")
        load = o.get("load") or [None, None]
        lines.append(f"[{i}] {o['date']}, {o['mode']} run, {o['total_s'] or 0:.0f} s, {code}, "
                     f"load {load[0]} -> {load[1]}; {o['command']}")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _blas(m: dict) -> str:
    b = m["blas"]
    if b.get("source") == "threadpoolctl":
        libs = "; ".join(f"{x.get('internal_api')} {x.get('version')} ({x.get('architecture')}, "
                         f"{x.get('num_threads')} threads)" for x in b["libraries"])
        return f"{libs} (threadpoolctl)"
    if "name" in b:
        return f"{b['name']} {b['version']}: {b.get('config')} ({b['source']})"
    return str(b)


def _machine(run: dict) -> str:
    m = run["machine"]
    env = ", ".join(f"{k}={v}" for k, v in m["env"].items() if v is not None) or "none set"
    rows = [
        ["cores (nproc)", f"{m['nproc']} (os.cpu_count {m['cpu_count']})"],
        ["CPU", m["cpu_model"]],
        ["memory", f"{m['mem_total_gib']} GiB"],
        ["load average (1/5/15 min)", f"{m['loadavg_at_start']} at start, "
                                      f"{m['loadavg_at_end']} at end"],
        ["Python", f"{m['python']} ({m['python_impl']})"],
        ["numpy / scipy / networkx / Mesa",
         f"{m['numpy']} / {m['scipy']} / {m['networkx']} / {m['mesa']}"],
        ["BLAS", _blas(m)],
        ["BLAS environment", env],
        ["OS", m["platform"]],
        ["code", f"git {m['git_head']}" + (" + uncommitted changes in chip4model/"
                                          if m["chip4model_dirty"] else "")],
    ]
    return _table(["", ""], rows)


def _run_default(r: dict) -> str:
    tm = r["time"]
    rows = [
        ["scenario", f"{r['scenario']}, {r['weeks']} weeks"
                     + (" + no-rules counterfactual" if r["counterfactual"] else "")],
        ["model steps per run", str(r["model_steps"])],
        ["repetitions (after 1 warm-up run)", str(tm["n"])],
        ["median", f"**{t(tm['median'])}**"],
        ["min / p90 / max", f"{t(tm['min'])} / {t(tm['p90'])} / {t(tm['max'])}"],
        ["per model step (median / steps)", t(r["per_step_s"])],
        ["target (median)", _target(r)],
        ["result", _verdict(r)],
        ["import chip4model / first (cold) run", f"{t(r['import_s'])} / {t(r['first_run_s'])}"],
        ["peak RSS", f"{r['peak_rss_mb']:,.0f} MiB"],
    ]
    return _table(["run_default", ""], rows)


def _engine(rs: list[dict]) -> str:
    rows = []
    for r in rs:
        if "error" in r:
            rows.append([r["case"], "-", "-", "-", "-", "-", _target(r), _verdict(r), "-", "-"])
            continue
        tm, tu = r["time"], r["time_unshocked"]
        rows.append([r["case"], _graph(r), f"{r['warmup_steps']} + {tm['n']}",
                     f"**{t(tm['median'])}**", f"{t(tm['min'])} / {t(tm['p90'])}",
                     t(tu["median"]), _target(r), _verdict(r),
                     f"{r['arrays_mb']:,.0f} MiB", f"{r['peak_rss_mb']:,.0f} MiB"])
    return _table(["graph", "nodes / edges", "warm-up + timed steps", "median (shocked)",
                   "min / p90", "median (no shock)", "target", "result",
                   "engine arrays", "peak RSS"], rows)


def _networkx(rs: list[dict]) -> str:
    rows, checks = [], []
    for r in rs:
        if "error" in r:
            rows.append([r["case"], "-", "-", "-", "-", "-", "-", _verdict(r)])
            continue
        tm, te = r["time"], r["engine_time"]
        rows.append([r["case"], _graph(r), f"1 + {tm['n']}", f"**{t(tm['median'])}**",
                     f"{t(tm['min'])} / {t(tm['p90'])}", t(te["median"]),
                     f"**{r['ratio']:,.0f}x**", f"{r['peak_rss_mb']:,.0f} MiB"])
        for ch in r["checks"]:
            checks.append([r["case"], ch["phase"], f"{ch['max_rel_diff']:.1e}", ch["worst"],
                           "ok" if ch["ok"] else "**MISMATCH**"])
    out = _table(["graph", "nodes / edges", "warm-up + timed steps", "networkx loop median",
                  "min / p90", "engine median (same graph, shock)", "loop / engine",
                  "peak RSS"], rows)
    if checks:
        out += ("\n\nAgreement of the loop with `FlowEngine` (every node output, demand and ramp, "
                "every edge's orders, deliveries and supplier share, every slot's stock; "
                "tolerance 1e-9 relative):\n\n")
        out += _table(["graph", "after", "max relative difference", "worst array", "check"],
                      checks)
    return out


def _load_pair(r: dict) -> str:
    return f"{r['load_before'][0]} -> {r['load_after'][0]}"


def _others(r: dict) -> str:
    """CPU that other processes used during the sweep, and time the host stole."""
    if r.get("others_cpu_s") is None:
        return "-"
    share = r["others_cpu_s"] / r["sweep_s"] if r.get("sweep_s") else float("nan")
    return (f"{r['others_cpu_s']:.1f} s ({share:.0%} of a core); steal "
            f"{r['steal_s']:.1f} s")


def _throughput(rs: list[dict]) -> str:
    rows, dask_up = [], None
    for r in rs:
        if "error" in r:
            rows.append([r["case"], "-", "-", "-", "-", "-", "-", "-", "-", "-", _target(r),
                         _verdict(r)])
            continue
        if r.get("cluster_start_s") is not None:
            dask_up = r["cluster_start_s"]
        steady = r.get("steady_runs_per_s")
        rows.append([
            f"{r['case']}: {r['setup']}", f"{r['n_runs']:,} ({r['n_runs'] * r['sims_per_run']:,})",
            t(r["sweep_s"]), f"**{r['runs_per_s']:.1f}**", f"**{_speedup(r)}**",
            f"{t(r['first_result_s'])} ({r['first_result_runs']} runs)",
            "-" if steady is None else f"{steady:.1f}",
            f"{r['cpu_per_run_s'] * 1e3:.0f} ms", _load_pair(r), _others(r), _target(r),
            _verdict(r)])
    out = _table(["case", "runs (simulations)", "sweep() wall clock", "runs/s",
                  "speed-up over 1w", "first results in after", "runs/s after first results",
                  "CPU per run (our processes)", "load (1 min) before -> after",
                  "CPU used by other processes meanwhile", "target", "result"], rows)
    notes = []
    if dask_up is not None:
        notes.append(f"Starting the `LocalCluster` took {t(dask_up)} before the timed call "
                     "(not in its wall clock).")
    one = next((r for r in rs if r["case"] == "1w" and "error" not in r), None)
    for r in rs:
        v = r.get("vs_1w")
        if v is None or r["case"] == "1w":
            continue
        if v["differing"] == 0 and one and r.get("runs_digest") == one.get("runs_digest"):
            notes.append(f"`{r['case']}`'s `runs.parquet` is identical to `1w`'s (every id, "
                         "factor and metric value).")
        elif v["differing"] == 0:
            notes.append(f"`{r['case']}`'s metric values are identical to `1w`'s, but not its "
                         "ids or factor columns.")
        else:
            notes.append(f"`{r['case']}`'s `runs.parquet` differs from `1w`'s in "
                         f"{v['differing']:,} of {v['compared']:,} metric values, by at most "
                         f"{v['max_rel_diff']:.1e} relative"
                         + (" (Dask's nanny starts its workers with OMP_NUM_THREADS, "
                            "OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to 1; the process "
                            "pool's workers inherit this process's BLAS threading)."
                            if r["case"] == "dask2" else "."))
    if notes:
        out += "\n\n" + " ".join(notes)
    return out


def _memory(rs: list[dict]) -> str:
    rows = []
    ok = [r for r in rs if "error" not in r]
    for r in rs:
        if "error" in r:
            rows.append([r["case"], "-", "-", "-", "-", "-", "-", "-", "-", "-", _target(r),
                         _verdict(r)])
            continue
        marks = r.get("marks") or []
        pick = sorted({round(i * (len(marks) - 1) / 4) for i in range(5)}) if marks else []
        track = " / ".join(f"{marks[i][2]:,.0f}" for i in pick)
        rows.append([
            f"{r['n_runs']:,}", t(r["sweep_s"]), f"{r['runs_per_s']:,.0f}",
            f"{r['coordinator_cpu_s']:.1f} s", f"{r['baseline_rss_mb']:,.0f} MiB",
            f"{r['loaded_rss_mb']:,.0f} MiB", track + " MiB", f"{r['end_rss_mb']:,.0f} MiB",
            f"**{mb(r['peak_rss_mb'])}**", f"{r['worker_peak_mb']:,.0f} MiB", _target(r),
            _verdict(r)])
    out = _table(["runs", "sweep() wall clock", "runs/s", "coordinator CPU",
                  "RSS after import chip4model", "after load_experiment",
                  "RSS as the runs come in", "after sweep() returned", "coordinator peak RSS",
                  "largest worker peak", "target", "result"], rows)
    if len(ok) > 1:
        lo, hi = ok[0], ok[-1]
        d = hi["peak_rss_mb"] - lo["peak_rss_mb"]
        out += (f"\n\nFrom {lo['n_runs']:,} to {hi['n_runs']:,} runs the coordinator's peak "
                f"moves by {d:+.1f} MiB ({d * 1024 / (hi['n_runs'] - lo['n_runs']) * 1000:+.0f} "
                "KiB per 1,000 runs); its peak is "
                f"{min(r['peak_rss_mb'] - r['baseline_rss_mb'] for r in ok):.0f}-"
                f"{max(r['peak_rss_mb'] - r['baseline_rss_mb'] for r in ok):.0f} MiB above the "
                "RSS right after importing chip4model.")
        during = [m[2] for r in ok for m in (r.get("marks") or [])]
        if during and max(r["end_rss_mb"] for r in ok) > max(during) + 2:
            span = (f"{min(during):,.0f}" if round(min(during)) == round(max(during))
                    else f"{min(during):,.0f}-{max(during):,.0f}")
            out += (f" While the runs come in the coordinator holds {span} MiB whatever the "
                    "size; the rest comes after the last chunk, while the parts are "
                    "concatenated into runs.parquet (buffered in row groups of "
                    "chip4model.sweep.ROW_GROUP rows).")
        if d > 0 and len(ok) > 2:
            import numpy as np

            per_run = float(np.polyfit([r["n_runs"] for r in ok],
                                       [r["peak_rss_mb"] for r in ok], 1)[0])
            if per_run > 0:
                limit_mib = MEMORY_TARGET_MB * 1e6 / 2**20
                at = hi["n_runs"] + (limit_mib - hi["peak_rss_mb"]) / per_run
                out += (f" A straight line through the peaks rises {per_run * 1024:.2f} KiB per "
                        f"run and would reach the {MEMORY_TARGET_MB:.0f} MB target near "
                        f"{at:,.0f} runs (an extrapolation, not a measurement).")
    return out


def kb(nbytes: float) -> str:
    """A size in bytes, in kB (10^3 bytes)."""
    return f"{nbytes / 1e3:,.0f} kB" if nbytes >= 1e4 else f"{nbytes / 1e3:,.1f} kB"


_DASHBOARD_WHAT = {
    "views": "`Session.step(1)` + building every view (no widgets)",
    "render": "click on Step through Solara, in-process (re-render + widget messages)",
    "browser": "click on Step in Chromium until the readout and charts are redrawn and painted",
}


def _by_week(r: dict) -> str:
    return " / ".join(f"{t(b['median'])} (weeks {b['weeks']})" for b in r.get("by_week") or [])


def _dashboard_summary(rs: list[dict]) -> str:
    rows = []
    for r in rs:
        what = _DASHBOARD_WHAT.get(r["case"], "")
        if "error" in r:
            rows.append([r["case"], what, "-", "-", "-", "-", "-", _target(r), _verdict(r),
                         "-"])
            continue
        tm = r["time"]
        if r["case"] == "views":
            timed = (f"{tm['n']} ({r['reps']} run{'s' if r['reps'] > 1 else ''} x weeks "
                     f"1-{r['weeks']})")
        else:
            unit = "clicks" if r["case"] == "render" else "steps"
            timed = f"{tm['n']} {unit} (weeks 1-{tm['n']})"
        rows.append([r["case"], what, timed, f"**{t(tm['median'])}**",
                     f"{t(tm['min'])} / {t(tm['p90'])} / {t(tm['max'])}", _by_week(r),
                     t(r.get("first_s")), _target(r), _verdict(r),
                     f"{r['peak_rss_mb']:,.0f} MiB"
                     + (f" (server {r['server_peak_rss_mb']:,.0f} MiB)"
                        if r.get("server_peak_rss_mb") else "")])
    return _table(["case", "what is timed", "steps timed", "median", "min / p90 / max",
                   "median by weeks", "first step in the process (cold)", "target", "result",
                   "peak RSS"], rows)


def _dashboard_views(r: dict) -> str:
    sizes = r.get("json_bytes") or {}
    weeks = sorted(sizes, key=lambda w: int(w.split()[1]))
    rows = [["`Session.step(1)`", "Player's Step", f"**{t(r['step_time']['median'])}**",
             t(r["step_time"]["p90"]), *(["-"] * len(weeks))]]
    for name, st in r["parts"].items():
        rows.append([name, r["view_sources"].get(name, ""), t(st["median"]), t(st["p90"]),
                     *(kb(sizes[w][name]) for w in weeks)])
    rows.append(["all the views", "", f"**{t(r['views_time']['median'])}**",
                 t(r["views_time"]["p90"]),
                 *(kb(sum(sizes[w].values())) for w in weeks)])
    rows.append(["step + views", "", f"**{t(r['time']['median'])}**", t(r["time"]["p90"]),
                 *(["-"] * len(weeks))])
    if r.get("cpu_time"):
        rows.append(["step + views, CPU time", "", t(r["cpu_time"]["median"]),
                     t(r["cpu_time"]["p90"]), *(["-"] * len(weeks))])
    return _table(["part", "built by (app.py, views.py)", "median", "p90",
                   *(f"JSON at {w}" for w in weeks)], rows)


def _dashboard_render(r: dict) -> str:
    calls = ", ".join(f"{k} {v}" for k, v in r["calls_per_step"].items())
    rows = [
        ["clicks timed (after 3 warm-up clicks and Reset)", str(r["time"]["n"])],
        ["click on Step, median (min / p90 / max)",
         f"**{t(r['time']['median'])}** ({t(r['time']['min'])} / {t(r['time']['p90'])} / "
         f"{t(r['time']['max'])})"],
        *([["CPU time of the process per click, median (p90)",
            f"{t(r['cpu_time']['median'])} ({t(r['cpu_time']['p90'])})"]]
          if r.get("cpu_time") else []),
        ["of which `Session.step`", t(r["step_time"]["median"])],
        ["of which building the views", t(r["views_time"]["median"])],
        ["of which the rest: Solara/reacton re-render, widget updates, JSON of the messages",
         f"**{t(r['rest_time']['median'])}** (p90 {t(r['rest_time']['p90'])})"],
        ["calls per click", calls],
    ]
    if r.get("messages"):
        rows.append(["widget messages per click (median)",
                     f"{r['messages']['median']:.0f}, {kb(r['message_bytes']['median'])}"])
    rows += [["first render of `Page()` / first click (cold)",
              f"{t(r['first_render_s'])} / {t(r['first_s'])}"],
             ["REACTON_FAST=1", "yes" if r.get("reacton_fast") else "no (reacton's default "
                                                                     "renderer)"],
             ["peak RSS", f"{r['peak_rss_mb']:,.0f} MiB"]]
    return _table(["render", ""], rows)


def _dashboard_browser(r: dict) -> str:
    so = r.get("set_option_time") or {}
    pm = r.get("page_main_thread") or {}
    sizes = r.get("ws_frame_sizes_median_step") or []
    big = [x for x in sizes if x >= 10_000]
    rows = [
        ["server", f"`{r['server']}` (the benchmark's interpreter)"],
        ["page ready (goto until the readout and every visible chart are there)",
         f"{r['page_load_s']:.1f} s"],
        ["charts visible (hooked)", f"{r['charts_visible']}: {', '.join(r['chart_names'])}"],
        ["steps timed (after 3 warm-up steps and Reset)", str(r["time"]["n"])],
        ["click until the readout shows the next week", t(r["readout_time"]["median"])],
        ["click until the last visible chart got its option", t(r["charts_time"]["median"])],
        ["click until painted (two animation frames later): median (min / p90 / max)",
         f"**{t(r['time']['median'])}** ({t(r['time']['min'])} / {t(r['time']['p90'])} / "
         f"{t(r['time']['max'])})"],
        *([["server CPU per step (mean over the timed steps)",
            t(r["server_cpu_per_step_s"])]] if r.get("server_cpu_per_step_s") else []),
        *([["page's main thread busy per step (Chrome's TaskDuration), median; of which "
            "layout / style recalculation",
            f"{t(pm['TaskDuration']['median'])}; {t(pm['LayoutDuration']['median'])} / "
            f"{t(pm['RecalcStyleDuration']['median'])}"]] if pm else []),
        ["ECharts `setOption` (draw) per chart, median",
         ", ".join(f"{k} {t(v['median'])}" for k, v in so.items())],
        ["WebSocket frames received per step (median)",
         f"{r['ws_frames']['median']:.0f}, {kb(r['ws_bytes']['median'])}"],
        ["frame sizes of the median step",
         ", ".join(f"{x / 1e3:,.1f}" for x in sizes) + " kB"
         + (f" (the {len(big)} network options, of which the page shows one: "
            f"{kb(sum(big))} of {kb(sum(sizes))})" if big else "")],
        ["requests to other hosts (blocked)", str(r.get("blocked_requests", 0))],
        ["server peak RSS / benchmark process peak RSS",
         f"{r['server_peak_rss_mb'] or 0:,.0f} MiB / {r['peak_rss_mb']:,.0f} MiB"],
    ]
    return _table(["browser", ""], rows)


def _dashboard(rs: list[dict]) -> str:
    out = [_dashboard_summary(rs)]
    by = {r["case"]: r for r in rs if "error" not in r}
    if "views" in by:
        out += ["", "**views**: median per step of each part, over every week of every run "
                "(first week of a run included), and the size of each view as JSON, what the "
                "page sends for it:", "", _dashboard_views(by["views"])]
    if "render" in by:
        out += ["", "**render**: where a click's time goes (medians per click; the parts are "
                "timed by wrappers around `Session.step` and the view builders, and \"the "
                "rest\" is the click less both):", "", _dashboard_render(by["render"])]
    if "browser" in by:
        out += ["", "**browser**: per step, timed in the page (medians unless stated):", "",
                _dashboard_browser(by["browser"])]
    return "\n".join(out)


def _generated(run: dict) -> str:
    runs = runs_of(run)
    tail = ("Rerun the command to refresh this page; `--quick` leaves it alone unless "
            "`--write` is given. Raw figures: `benchmarks/out/results.json`.")
    if len(runs) == 1:
        return (f"Generated by `{run['command']}` (`make bench`) on {run['date']}, a "
                f"{run['mode']} run of {run['total_s']:.0f} s. " + tail)
    lines = [f"Generated from the rows of {len(runs)} runs (`python -m benchmarks --only ...` "
             "replaces the rows of the cases it runs and keeps the others; `make bench` "
             "runs them all). The summary marks each row with its run:", ""]
    for i, o in enumerate(runs, 1):
        lines.append(f"{i}. `{o['command']}` on {o['date']}, a {o['mode']} run of "
                     f"{o['total_s'] or 0:.0f} s")
    return "\n".join([*lines, "", tail])


def markdown(run: dict) -> str:
    by = {}
    for r in run["results"]:
        by.setdefault(r["benchmark"], []).append(r)
    s10, s100 = SIZES["10k"], SIZES["100k"]
    parts = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks`; edits are lost on the next run. -->",
        _generated(run),
        "",
        "## Machine",
        "",
        _machine(run),
        *(["", "(As of the latest run; the summary gives each earlier run's code and load.)"]
          if len(runs_of(run)) > 1 else []),
        "",
        "## Summary",
        "",
        "```text",
        stdout_table(run),
        "```",
    ]
    if "run_default" in by:
        parts += ["", "## run_default: `chip4model.run()`", "",
                  "The default run, in-process: `from chip4model import run`, one warm-up "
                  "`run()`, then timed `run()` calls (scenario, graph, results summary and the "
                  "counterfactual included).", "", _run_default(by["run_default"][0])]
    if "engine_step" in by:
        parts += ["", "## engine_step: one `FlowEngine.step()`", "",
                  f"Synthetic graphs from `chip4model.synthetic.synthetic_graph` (seed 0): "
                  f"{s10.nodes:,} nodes / {s10.edges:,} edges and {s100.nodes:,} nodes / "
                  f"{s100.edges:,} edges asked (it adds one producer-to-market edge per "
                  "producer, hence the larger edge counts). Shock, held every step: "
                  f"{SHOCK_TEXT}, so proportional rationing, "
                  "substitution between suppliers and capacity ramp-up all run. Building and "
                  "compiling the graph is not timed. The no-shock column steps a fresh engine "
                  "with neutral controls at the baseline fixed point, where nothing is "
                  "rationed (the current engine then skips its substitution update).",
                  "", _engine(by["engine_step"])]
    if "networkx_loop" in by:
        parts += ["", "## networkx_loop: the same step as a networkx loop", "",
                  "`benchmarks/nx_loop.py` writes the step the plain way: state in networkx "
                  "node and edge attribute dicts, one Python loop per phase over `G.nodes`, "
                  "`G.in_edges` and `G.out_edges` (plan and slot needs; orders split by "
                  "supplier shares; demand per supplier; production = min(demand, capacity, "
                  "input-stock limit); proportional rationing; deliveries into stocks; "
                  "substitution; ramp-up). Same graph and shock as engine_step; the engine "
                  "time here is re-measured in the same process. The loop is checked against "
                  "the engine before it is timed, so the ratio compares the same computation.",
                  "", _networkx(by["networkx_loop"])]
    if "sweep_throughput" in by:
        from .bench_sweep import THROUGHPUT_SCENARIO

        r0 = next((r for r in by["sweep_throughput"] if "error" not in r), {})
        design = (f"{r0['levels']} `china.resolve` levels (0.2 to 0.9) x {r0['replications']} "
                  "replications" if r0 else "china.resolve levels x replications")
        parts += ["", "## sweep_throughput: `chip4model.sweep.sweep()`, runs per second", "",
                  f"One `sweep(exp, out, ..., progress=False)` call per case, each in its own "
                  f"child process, of an experiment over the default scenario "
                  f"({THROUGHPUT_SCENARIO}, 156 weeks, with its no-rules counterfactual: one "
                  f"run is two simulations): a full factorial of {design}, six metrics, no "
                  "time series, written to a temporary folder. **runs/s is runs / wall clock "
                  "of the whole `sweep()` call**, so it includes the pool's start-up: spawning "
                  "the workers, importing chip4model in each and loading numba's compiled "
                  "kernels from the on-disk cache, plus the first run's warm-up, the Parquet "
                  "parts and their consolidation. `1w` runs in the benchmark's own process "
                  "(chip4model already imported, the kernels not yet loaded); `2w` is "
                  "`workers=2`, a spawn process pool; `dask2` is "
                  "`scheduler=cluster.scheduler_address` with a `distributed.LocalCluster("
                  "n_workers=2, threads_per_worker=1, processes=True)` started just before "
                  "(its scheduler runs in the benchmark process). One sweep per case, not a "
                  "median of repeats: compare the last columns before trusting a ratio. "
                  "\"First results\" is when the first chunk (16 runs; three chunks for "
                  "`1w`, which runs its first window of chunks before looking at them) reached "
                  "the coordinator (recorded by a subclass of `chip4model.sweep.Progress` "
                  "that notes the time of each chunk's arrival), and the rate after it leaves "
                  "the start-up out. CPU per run adds the coordinator's and the workers' CPU "
                  "time (for `dask2`, worker start-up and shutdown too); it rises when the "
                  "two cores run slower together than one alone. The CPU used by other "
                  "processes is the machine's busy time during the call (`/proc/stat`) less "
                  "ours (for `dask2` a lower bound), and steal is time the host gave to other "
                  "guests: a 2-worker sweep needs both cores, so a second of either costs it "
                  "about half a second of wall clock.", "", _throughput(by["sweep_throughput"])]
    if "sweep_memory" in by:
        from .bench_sweep import MEMORY_REPS, MEMORY_STEPS, MEMORY_WORKERS

        parts += ["", "## sweep_memory: the coordinator's peak memory", "",
                  "A cheap run, so that even 10,000 of them take little time (see the wall "
                  f"clock column): scenario baseline, `steps = {MEMORY_STEPS}`, "
                  "`counterfactual = false`, three "
                  f"metrics, a full factorial of `china.resolve` levels x {MEMORY_REPS} "
                  f"replications, over a process pool of {MEMORY_WORKERS} workers. Each size "
                  "runs in a fresh child process, so each peak is its own. **Coordinator peak "
                  "RSS is `resource.getrusage(RUSAGE_SELF).ru_maxrss` of that process**, "
                  "which runs only the coordinator (`load_experiment` and `sweep()`); the "
                  "workers are separate processes and are not counted (the largest of them "
                  "is shown apart, from `RUSAGE_CHILDREN`). The RSS right after importing "
                  "chip4model (and its sweep and experiment modules) is the floor; \"as the "
                  "runs come in\" is the coordinator's RSS when the first chunk came back and "
                  "after about 25%, 50%, 75% and all of the runs (recorded at each chunk's "
                  "arrival). The target is in MB (10^6 bytes).", "",
                  _memory(by["sweep_memory"])]
    if "dashboard_step" in by:
        from .bench_dashboard import BROWSER_STEPS, RENDER_CLICKS, VIEWS_REPS

        rv = next((r for r in by["dashboard_step"] if r.get("graph")), None)
        graph = (f" ({rv['graph']['nodes']:,} nodes / {rv['graph']['edges']:,} edges; the "
                 f"network chart draws the {rv['graph']['edges_drawn']} edges that carry 95% of "
                 "the baseline flow)" if rv else "")
        parts += [
            "", "## Dashboard: one step plus the redraw of every view (dashboard_step)", "",
            "The issue asks that a step plus the redraw of all views on the default graph take "
            "at most 150 ms. The dashboard (`chip4 app`) opens on kor-aligns-collective, the "
            f"default graph{graph}, 156 weeks, whose no-rules counterfactual is stepped in "
            "lockstep; Step advances one week (the default speed). After a step the page "
            "rebuilds the views of the tab on screen (the view tabs are lazy), here the "
            "\"Scenario run\" tab it opens on: the readout, the verdict, the network chart "
            "and the loss, intensity, alignment and firm-revenue charts. "
            "Three cases, each in its own child process:",
            "",
            f"- `views`: in-process, no widgets. `Session.step(1)` and then those seven "
            "builds, as the page calls them, timed at every week 1-156 of "
            f"{VIEWS_REPS[0]} runs ({VIEWS_REPS[1]} with `--quick`), `Session.reset()` between "
            "runs, after one untimed warm-up run (the first step of the process, shown apart, "
            "loads numba's compiled kernels and lays out the network, which is cached per "
            "compiled graph). This is what a step costs in chip4model's own code.",
            "- `render`: in-process through Solara: `solara.render(Page(), handle_error=False)`,"
            " then `.click()` on the Step button's widget, which runs the click handler (the "
            "step) and re-renders the components and updates the widgets before it returns "
            "(the readout is checked to show the next week after every click). Outside a "
            "kernel Solara drops the widgets' messages; here each one is serialized to JSON "
            "as the server does before sending it, and counted. "
            f"{RENDER_CLICKS[0]} clicks ({RENDER_CLICKS[1]} with `--quick`) from week 0, after "
            "3 warm-up clicks and a click on Reset. This is the server's share of a step, "
            "less the WebSocket.",
            "- `browser`: end to end. `chip4 app` on a free port, its front-end files from "
            ".venv/share/solara/cdn (nothing is fetched from outside 127.0.0.1), and headless "
            "Chromium (/usr/bin/chromium, 1400x1000) driven by Playwright. After 3 warm-up "
            f"steps and a Reset, {BROWSER_STEPS[0]} steps ({BROWSER_STEPS[1]} with `--quick`), "
            "each timed in the page with `performance.now()`: from the click on Step until "
            "the readout shows the next week and every chart visible on the page (the five of "
            "the Scenario run tab) has had its new option set (ECharts' `setOption`, which "
            "draws at once; the benchmark wraps it on each chart), and then two animation "
            "frames, so that the new state has been painted. The WebSocket frames the page "
            "received in each step are counted too. The server, Chromium and Playwright share "
            "the machine's 2 cores.",
            "",
            "Command: `.venv/bin/python -m benchmarks --only dashboard_step` (or `--only "
            "dashboard_step:browser` for one case; add `--write` to refresh this page). The "
            "browser case needs Chromium and the front-end files that `make test` installs; "
            "without them its row is an error saying so.",
            "", _dashboard(by["dashboard_step"])]
    parts += [
        "",
        "## Method",
        "",
        "- Each case runs in its own child interpreter, one after the other, so no case "
        "inherits another's memory, garbage or caches; peak RSS is that process's "
        "`resource.getrusage(...).ru_maxrss`, which includes building the networkx graph (the "
        "engine's own arrays are shown separately).",
        "- Timings are wall clock (`time.perf_counter`) per call, after warm-up; tables give the "
        "median (the figure compared with the target), min and 90th percentile. The min is "
        "what the code can do on an idle core; the median is what a user sees.",
        "- The machine has 2 cores shared with whatever else runs (load average above) and "
        "timings of a few ms vary by 2x or more from run to run: compare medians across runs "
        "on the same machine, not single figures, and rerun before drawing conclusions. The "
        "benchmarks other than the sweeps and `dashboard_step:browser` (the server and "
        "Chromium) keep one core busy; for them a load average well above 1 means another job "
        "shared the cores during the run.",
        "- BLAS settings (OPENBLAS_CORETYPE etc.) are recorded, not changed; the engine makes "
        "no BLAS calls. Its step is a numba-compiled kernel (`chip4model/_kernels.py`) that "
        "does the arithmetic of the numpy step (`FlowEngine(..., backend=\"numpy\")`) bit for "
        "bit, fused into three passes; graphs of 50,000 edges or more use its variant that "
        "runs the slot pass on both cores. The engine timings exclude the one-off JIT "
        "compilation (cached on disk after the first run).",
        "- `run()` advances the model with `Chip4Model.advance()`, the weekly update without "
        "Mesa's per-step clock bookkeeping (`model.step()` wraps the same update).",
        "- A sweep case is one `sweep()` call, timed by wall clock from the call to its return "
        "(pool start-up included, Dask cluster start-up not), shown in the summary's median "
        "column; its runs/s moves with the load far more than the medians above, since both "
        "cores are used: the load average before and after each sweep is in its table (the "
        "1-minute figure lags: our own two workers push it towards 2 during a sweep).",
        "- Targets come from the performance issues: default run median <= 50 ms; engine step "
        "median <= 2 ms at 10k nodes / 100k edges and <= 20 ms at 100k nodes / 1M edges; a "
        "sweep on 2 workers >= 1.7x the runs/s of 1 worker; the sweep coordinator's peak "
        "<= 300 MB at 10,000 runs, flat in the number of runs; a dashboard step plus the "
        "redraw of every view median <= 150 ms (each dashboard_step case is held to it).",
        "- For scale, the platform notes measured on this machine kind: one ARIO step at "
        "10k/100k with scipy CSR 0.25-0.35 ms, numpy edge list 0.5-0.7 ms, networkx loop "
        "300-400 ms; at 100k/1M CSR 4.3 ms and networkx loop 5.4 s. That step is described as "
        "orders, demand, capacity, rationing and deliveries: no substitution or ramp-up, which "
        "the loop here also runs (and which roughly doubles the engine's step, see the "
        "no-shock column).",
        "",
    ]
    return "\n".join(parts)
