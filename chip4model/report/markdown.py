"""The text of summary.md, section by section.

Design, Results (mean ± 95% CI tables), Figures (with captions), Sensitivity, Claims and
Notes; :func:`summary_md` puts them together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figures import Fig
from .indices import SALIB_SEED
from .sweep import MAX_POINTS_TABLE, Sweep, _label, level_stats, summarise

MAX_LEVELS = 12           # factors with up to this many values get a per-value table


def _num(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float | np.floating) and not np.isfinite(x)):
        return "n/a"
    return f"{float(x):.{digits}g}"


def _md(text) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return lines


def _mean_ci(st: pd.DataFrame, m: str, i) -> str:
    mean, ci, n = st[f"{m}_mean"].iloc[i], st[f"{m}_ci95"].iloc[i], st[f"{m}_n"].iloc[i]
    if n == 0:
        return "n/a"
    return f"{_num(mean)} (n={n})" if not np.isfinite(ci) else f"{_num(mean)} ± {_num(ci, 2)}"


def design_lines(sw: Sweep) -> list[str]:
    """The "Design" section."""
    m = sw.manifest
    samp = m.get("sampler") or {}
    n_fail = int((sw.runs["status"] != "ok").sum())
    sampler = {"full_factorial": "full factorial",
               "latin_hypercube": f"Latin hypercube, n = {samp.get('n')}",
               "sobol": f"Sobol (Saltelli), N = {samp.get('n')}, second order: "
                        f"{'yes' if samp.get('second_order') else 'no'}",
               "morris": f"Morris, {samp.get('n')} trajectories, {samp.get('levels')} levels",
               }.get(sw.method, sw.method)
    lines = ["## Design", "",
             f"- Sampler: {sampler}; {sw.n_points} design point{'s' * (sw.n_points != 1)}"
             + (" (quick mode)" if m.get("quick") else ""),
             f"- Scenario: `{sw.doc.get('scenario', _default('scenario'))}`, "
             + (f"{m.get('steps') or sw.doc.get('steps')} weeks"
                if m.get("steps") or sw.doc.get("steps") else "the scenario's own length")]
    if sw.factors:
        lines.append("- Factors:")
        lines += [f"  - {_factor_line(sw, f)}" for f in sw.factors]
    else:
        lines.append("- Factors: none (one point)")
    lines += [f"- Replications: {sw.replications} per point (seeds shared across points: "
              "common random numbers)",
              f"- Runs: {len(sw.runs)}, of which {n_fail} failed",
              f"- Metrics: {', '.join(f'`{x}`' for x in sw.metrics)}",
              f"- chip4model {m.get('chip4model_version', '?')}, git commit "
              f"`{m.get('git_commit') or 'unknown'}`; swept {m.get('started', '?')} to "
              f"{m.get('finished', '?')}", ""]
    return lines


def _default(field: str):
    from ..experiment import Experiment

    return Experiment.model_fields[field].default


def _factor_line(sw: Sweep, f: dict) -> str:
    kind = f.get("kind", "set")
    how = f"sets {', '.join(f'`{p}`' for p in f.get('set', []))}" if kind == "set" else kind
    if f.get("range") is not None:
        lo, hi = f["range"]
        vals = f"range [{_label(float(lo))}, {_label(float(hi))}]"
        if sw.method == "full_factorial":
            vals += ": " + ", ".join(_label(v) for v in sw.levels(f))
    else:
        vals = ", ".join(_label(v) for v in f.get("values", []))
    return f"`{f['name']}` ({how}): {vals}"


def results_lines(sw: Sweep) -> list[str]:
    """The "Results" section: mean ± 95% CI tables."""
    ms = sw.metrics
    lines = ["## Results", ""]
    if sw.n_points <= MAX_POINTS_TABLE:
        lines += ["Mean ± 95% CI over the replications of each design point (t-based; "
                  "runs without a value left out). Full statistics: [points.csv](points.csv).",
                  ""]
        st = summarise(sw.ok, "point", ms, index=sw.design["point"].to_numpy())
        names = [f["name"] for f in sw.factors]
        rows = [[str(p), *[_label(sw.design[n].iloc[i]) for n in names],
                 *[_mean_ci(st, m, i) for m in ms]]
                for i, p in enumerate(sw.design["point"])]
        return lines + _table(["point", *names, *ms], rows) + [""]
    few = [f for f in sw.varied() if len(sw.levels(f)) <= MAX_LEVELS]
    per = ("per value of each factor with few values (pooled over the other factors)" if few
           else "over the whole design (the interval includes the spread between points)")
    lines += [f"{sw.n_points} design points: mean ± 95% CI over all runs {per}; per point: "
              "[points.csv](points.csv).", ""]
    for f in few:
        st = level_stats(sw, f, ms)
        rows = [[_label(v), *[_mean_ci(st, m, i) for m in ms]]
                for i, v in enumerate(sw.levels(f))]
        lines += [f"By `{f['name']}`:", "", *_table([f["name"], *ms], rows), ""]
    if not few:
        st = summarise(sw.ok.assign(_all="all runs"), "_all", ms)
        rows = [["all runs", *[_mean_ci(st, m, 0) for m in ms]]]
        lines += _table(["", *ms], rows) + [""]
    return lines


def figure_lines(figs: list[Fig]) -> list[str]:
    lines = ["## Figures", ""]
    if not figs:
        return lines + ["No figures for this design.", ""]
    for f in figs:
        lines += [f"![{f.file}]({f.file})", "", f"*{f.caption}* ([{f.file}]({f.file}))", ""]
    return lines


def sensitivity_lines(sw: Sweep, sens: dict, notes: list[str]) -> list[str]:
    """The "Sensitivity" section for Sobol and Morris designs."""
    if sw.method not in ("sobol", "morris"):
        return []
    lines = ["## Sensitivity", "",
             f"SALib {sw.method} analysis of each point's mean over its replications "
             f"(bootstrap seed {SALIB_SEED}); conf = half-width of the 95% interval. All "
             "metrics in one table: [sensitivity.csv](sensitivity.csv).", ""]
    for m, t in sens.items():
        lines += [f"### {m}", "", f"[sensitivity_{sw.slugs[m]}.csv]"
                  f"(sensitivity_{sw.slugs[m]}.csv)", ""]
        if sw.method == "sobol":
            head = ["factor", "S1", "S1 conf", "ST", "ST conf"]
            keys = ["S1", "S1_conf", "ST", "ST_conf"]
        else:
            head = ["factor", "mu", "mu*", "mu* conf", "sigma"]
            keys = ["mu", "mu_star", "mu_star_conf", "sigma"]
        rows = [[r["factor"], *[_num(r[k], 3) for k in keys]] for _, r in t.iterrows()]
        lines += _table(head, rows) + [""]
    return lines + [f"- {n}" for n in notes] + ([""] if notes else [])


def claims_lines(sw: Sweep, results: list) -> list[str]:
    """The "Claims" section: PASS/FAIL, the claim, its check and the measured detail."""
    lines = ["## Claims", ""]
    if not (sw.folder / "experiment.toml").exists():
        return lines + ["The sweep folder has no experiment.toml: no claims were checked.", ""]
    if not results:
        return lines + ["The experiment states no claims (`[[expect]]`).", ""]
    n = sum(bool(r.passed) for r in results)
    rows = [["PASS" if r.passed else "FAIL", r.claim, f"`{r.check}`", r.detail]
            for r in results]
    return lines + [f"{n} of {len(results)} claims hold (details: [claims.csv](claims.csv)).",
                    "", *_table(["result", "claim", "check", "measured"], rows), ""]


def notes_lines(sw: Sweep, notes: list[str]) -> list[str]:
    """The "Notes" section: failed runs and what the figures leave out."""
    failed = sw.runs[sw.runs["status"] != "ok"]
    items = []
    if len(failed):
        errs = list(dict.fromkeys(failed["error"].astype(str)))[:3]
        items.append(f"{len(failed)} of {len(sw.runs)} runs failed and are left out of every "
                     f"table and figure (errors: {'; '.join(f'`{e}`' for e in errs)}).")
    items += notes
    if not items:
        return []
    return ["## Notes", "", *[f"- {i}" for i in items], ""]


def summary_md(sw: Sweep, figs: list[Fig], fig_notes: list[str], sens: dict,
               sens_notes: list[str], results: list) -> str:
    """The text of summary.md."""
    name = sw.manifest.get("experiment") or sw.doc.get("name") or sw.folder.name
    lines = [f"# {name}", ""]
    if sw.doc.get("question"):
        lines += [f"**Question:** {sw.doc['question']}", ""]
    if sw.doc.get("description"):
        lines += [sw.doc["description"], ""]
    lines += design_lines(sw) + results_lines(sw) + figure_lines(figs)
    lines += sensitivity_lines(sw, sens, sens_notes) + claims_lines(sw, results)
    lines += notes_lines(sw, fig_notes)
    return "\n".join(lines).rstrip() + "\n"
