"""The results as a compact stdout table and as docs/benchmarks.md."""

from __future__ import annotations

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
    return f"<= {t(tg['limit_s'])}" if tg else "-"


def _verdict(r: dict) -> str:
    if "error" in r:
        return "ERROR: " + r["error"]
    if r["benchmark"] == "networkx_loop":
        return "agrees" if r["pass"] else "DISAGREES"
    tg = r.get("target")
    if not tg:
        return "-"
    med = r["time"]["median"]
    if r["pass"]:
        return f"pass ({tg['limit_s'] / med:.1f}x under)"
    return f"FAIL ({med / tg['limit_s']:.1f}x over)"


def _label(r: dict) -> str:
    return r["benchmark"] + ("" if r.get("case") is None else ":" + r["case"])


def _graph(r: dict) -> str:
    g = r.get("graph")
    return f"{g['nodes']:,} n / {g['edges']:,} e" if g else "-"


def stdout_table(run: dict) -> str:
    rows = [("benchmark", "median", "min", "p90", "target", "result", "peak RSS")]
    for r in run["results"]:
        if "error" in r:
            rows.append((_label(r), "-", "-", "-", _target(r), _verdict(r), "-"))
            continue
        tm = r["time"]
        result = _verdict(r)
        if r["benchmark"] == "networkx_loop":
            result = f"{r['ratio']:,.0f}x engine ({t(r['engine_time']['median'])}), {result}"
        if r["benchmark"] == "run_default":
            result += f"; {t(r['per_step_s'])}/step"
        rows.append((_label(r), t(tm["median"]), t(tm["min"]), t(tm["p90"]), _target(r), result,
                     f"{r['peak_rss_mb']:,.0f} MiB"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = run["machine"]
    code = f"git {m['git_head']}" + ("+dirty" if m["chip4model_dirty"] else "")
    lines.append(f"{run['mode']} run, {run['total_s']:.0f} s, {code}, {m['nproc']} cores, load "
                 f"{m['loadavg_at_start']} -> {m['loadavg_at_end']}; {run['command']}")
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


def markdown(run: dict) -> str:
    by = {}
    for r in run["results"]:
        by.setdefault(r["benchmark"], []).append(r)
    s10, s100 = SIZES["10k"], SIZES["100k"]
    parts = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks`; edits are lost on the next run. -->",
        f"Generated by `{run['command']}` (`make bench`) on {run['date']}, a {run['mode']} run "
        f"of {run['total_s']:.0f} s. Rerun the command to refresh this page; `--quick` leaves "
        "it alone unless `--write` is given. Raw figures: `benchmarks/out/results.json`.",
        "",
        "## Machine",
        "",
        _machine(run),
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
        "benchmark keeps one core busy; a load average well above 1 means another job shared "
        "the cores during the run.",
        "- BLAS settings (OPENBLAS_CORETYPE etc.) are recorded, not changed; the engine makes "
        "no BLAS calls. Its step is a numba-compiled kernel (`chip4model/_kernels.py`) that "
        "does the arithmetic of the numpy step (`FlowEngine(..., backend=\"numpy\")`) bit for "
        "bit, fused into three passes; graphs of 50,000 edges or more use its variant that "
        "runs the slot pass on both cores. The engine timings exclude the one-off JIT "
        "compilation (cached on disk after the first run).",
        "- `run()` advances the model with `Chip4Model.advance()`, the weekly update without "
        "Mesa's per-step clock bookkeeping (`model.step()` wraps the same update).",
        "- Targets come from the performance issue: default run median <= 50 ms; engine step "
        "median <= 2 ms at 10k nodes / 100k edges and <= 20 ms at 100k nodes / 1M edges.",
        "- For scale, the platform notes measured on this machine kind: one ARIO step at "
        "10k/100k with scipy CSR 0.25-0.35 ms, numpy edge list 0.5-0.7 ms, networkx loop "
        "300-400 ms; at 100k/1M CSR 4.3 ms and networkx loop 5.4 s. That step is described as "
        "orders, demand, capacity, rationing and deliveries: no substitution or ramp-up, which "
        "the loop here also runs (and which roughly doubles the engine's step, see the "
        "no-shock column).",
        "",
    ]
    return "\n".join(parts)
