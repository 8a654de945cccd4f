"""Reports of finished sweeps: summary tables, figures, sensitivity indices and claims.

:func:`write_report` reads a sweep folder (written by ``chip4 sweep``, see
:mod:`chip4model.sweep`) and writes a report folder, ``<sweep>/report`` by default::

    summary.md            the experiment's question and description; the design (sampler,
                          factors and their values or ranges, replications, runs, failed runs,
                          git commit, version); mean ± 95% CI of every metric (per design point
                          for designs of up to 30 points, else per value of each factor with few
                          values); the figures with a one-sentence caption each; the Sobol or
                          Morris indices; the claims (``[[expect]]``) with PASS/FAIL and what
                          was measured; notes (failed runs, metrics without values, skips)
    points.csv            per design point: factor values, ok runs, then <metric>_mean, _std,
                          _n and _ci95 of every metric
    sensitivity_<m>.csv   Sobol designs: S1, S1_conf, ST, ST_conf per factor (and S2_<f>,
                          S2_conf_<f> with second order); Morris designs: mu, mu_star,
                          mu_star_conf, sigma per factor
    sensitivity.csv       the same indices in one table: metric, factor, indices (what claims
                          with ``on = "sensitivity"`` read)
    claims.csv            claim, check, passed, lhs, rhs, detail, p_value
    *.png                 figures chosen by the design:
        heatmap_<m>.png   full factorial with >= 2 varied factors: the mean over the first two
                          (others averaged), with the 0.5 "absorption frontier" for absorption
                          metrics whose values cross it
        by_<factor>.png   a rules, target or other text factor: each metric's mean ± 95% CI
                          per value (also a line for a single numeric factor)
        distributions.png replications > 1: every run's value by the first text factor (or by
                          design point)
        sobol_<m>.png     S1 and ST with confidence intervals, per factor
        morris_<m>.png    mu* with its confidence interval, and sigma against mu*
        scatter_<m>.png   Latin hypercube: the metric against each numeric factor

``<m>`` is the metric name made file-safe ("KOR.net_loss_pct" -> "KOR-net_loss_pct").
Only runs with status "ok" count. Confidence intervals are t-based: mean ± t(0.975, n - 1) *
std / sqrt(n) over the n runs with a value (the replications, for a design point).
Sensitivity indices use each point's mean over its replications (SALib, bootstrap seeded), so
a rerun on the same folder writes byte-identical CSV files. Claims are evaluated by
:mod:`chip4model.claims` over runs.parquet, or over sensitivity.csv for ``on = "sensitivity"``.

>>> write_report("results/rules_vs_none")          # doctest: +SKIP
PosixPath('results/rules_vs_none/report')
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

MAX_POINTS_TABLE = 30     # designs with up to this many points get one table row per point
MAX_LEVELS = 12           # factors with up to this many values get a per-value table
MAX_FIGURE_METRICS = 6    # metrics that get their own heatmap / sensitivity / scatter figure
PANELS = 6                # metrics per multi-panel figure
MAX_PAGES = 2             # multi-panel figures per kind
MAX_ANNOTATED_CELLS = 150
DPI = 110
SALIB_SEED = 1            # SALib's sobol.analyze ignores a seed of 0 (falsy)
FLOAT_FORMAT = "%.10g"
REPORT_SUFFIXES = (".md", ".csv", ".png")
SAMPLED = ("latin_hypercube", "sobol", "morris")

UNITS = {
    "absorption_ratio": "share of the net loss absorbed; 1 = all",
    "shock_absorption": "share of the weekly campaign loss absorbed; 1 = all",
    "deterred": "share of runs",
    "started": "share of runs",
    "weeks_active": "weeks",
    "recovery_weeks": "weeks",
    "mean_intensity": "0-1",
    "alignment": "0-1",
    "net_loss_pct": "% of annual GDP",
    "gdp_loss_pct": "% of annual GDP",
    "campaign_pct": "% of annual GDP",
    "other_pct": "% of annual GDP",
    "weekly_campaign_pct": "% of annual GDP per week",
    "output_loss_pct": "% of baseline output",
    "revenue_loss_pct": "% of baseline revenue",
    "shortfall_pct": "% of orders unmet",
}


# --- the sweep -------------------------------------------------------------------------------
@dataclass
class Sweep:
    """A finished sweep folder: manifest, runs, design and the experiment file's contents."""

    folder: Path
    manifest: dict
    runs: pd.DataFrame
    design: pd.DataFrame
    doc: dict                 # experiment.toml as read ({} if the folder has none)

    @cached_property
    def ok(self) -> pd.DataFrame:
        """The runs with status "ok"."""
        return self.runs[self.runs["status"] == "ok"]

    @property
    def factors(self) -> list[dict]:
        return list(self.manifest.get("factors") or [])

    @property
    def metrics(self) -> list[str]:
        return list(self.manifest["metrics"])

    @property
    def method(self) -> str:
        return (self.manifest.get("sampler") or {}).get("method", "full_factorial")

    @property
    def replications(self) -> int:
        return int(self.manifest.get("replications") or 1)

    @property
    def n_points(self) -> int:
        return len(self.design)

    @cached_property
    def slugs(self) -> dict[str, str]:
        """A distinct file-safe name per metric."""
        out: dict[str, str] = {}
        for m in self.metrics:
            s, k = slug(m), 2
            while s in out.values():
                s, k = f"{slug(m)}_{k}", k + 1
            out[m] = s
        return out

    def levels(self, f: dict) -> list:
        """The factor's distinct values in the design: sorted numbers, or text in file order."""
        col = self.design[f["name"]]
        if f.get("numeric"):
            return sorted(float(v) for v in col.dropna().unique())
        present = {str(v) for v in col.dropna()}
        listed = [str(v) for v in f.get("values") or [] if str(v) in present]
        return listed + sorted(present - set(listed))

    def varied(self) -> list[dict]:
        """The factors that take at least two values."""
        return [f for f in self.factors if len(self.levels(f)) >= 2]

    def categorical(self) -> list[dict]:
        """The varied factors whose values are text (rules, targets, ...)."""
        return [f for f in self.varied() if not f.get("numeric")]

    def with_data(self) -> list[str]:
        """The metrics with a value in at least one ok run."""
        return [m for m in self.metrics if self.ok[m].notna().any()]

    @cached_property
    def sensitivity(self) -> tuple[dict[str, pd.DataFrame], list[str]]:
        """Sobol or Morris indices per metric, and notes on the metrics skipped."""
        return sensitivity(self)


def slug(name: str) -> str:
    """A metric name as a file-name part.

    >>> slug("KOR.net_loss_pct"), slug("firms.SK Hynix.revenue_loss_pct")
    ('KOR-net_loss_pct', 'firms-SK_Hynix-revenue_loss_pct')
    """
    s = re.sub(r"\s+", "_", name.strip()).replace(".", "-")
    return re.sub(r"[^A-Za-z0-9_+-]", "", s) or "metric"


def load_sweep(folder) -> Sweep:
    """Read a finished sweep folder; raise :class:`InputError` if it is not one."""
    from .scenario import read_toml_file
    from .sweep import read_manifest, read_runs

    folder = Path(folder)
    if not folder.is_dir():
        why = "is a file (allowed: a sweep folder)" if folder.exists() else "no such folder"
        raise InputError(folder, "", why)
    manifest = read_manifest(folder)
    if not isinstance(manifest, dict) or "metrics" not in manifest:
        raise InputError(folder, "manifest.json", "not a chip4 sweep manifest (no metrics)")
    status = manifest.get("status")
    if status != "complete":
        raise InputError(folder, "manifest.json", f"status is {status!r}, not 'complete': the "
                         "sweep has not finished (continue it with chip4 sweep ... --resume)")
    runs = read_runs(folder)
    path = folder / "design.parquet"
    if not path.exists():
        raise InputError(folder, "design.parquet", "missing: not a complete sweep folder")
    design = pd.read_parquet(path)
    exp_file = folder / "experiment.toml"
    doc = read_toml_file(exp_file) if exp_file.exists() else {}
    sw = Sweep(folder, manifest, runs, design, doc)
    _check_columns(sw)
    return sw


def _check_columns(sw: Sweep) -> None:
    """Every column the report reads must be there."""
    names = [f["name"] for f in sw.factors]
    need = {"runs.parquet": (sw.runs, ["point", "rep", "status", *names, *sw.metrics]),
            "design.parquet": (sw.design, ["point", *names])}
    if sw.method in ("sobol", "morris"):
        need["design.parquet"][1].extend(f"x_{n}" for n in names)
        if not sw.manifest.get("problem"):
            raise InputError(sw.folder, "manifest.json", f"a {sw.method} sweep without its "
                             "SALib 'problem'")
    for file, (df, cols) in need.items():
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(sw.folder, file, f"missing columns {', '.join(missing)}")


# --- claims ----------------------------------------------------------------------------------
def claim_specs(sw: Sweep) -> list:
    """The experiment's ``[[expect]]`` entries as :class:`~chip4model.experiment.ClaimSpec`."""
    from pydantic import ValidationError

    from .experiment import ClaimSpec

    specs = []
    for i, item in enumerate(sw.doc.get("expect") or []):
        try:
            specs.append(ClaimSpec.model_validate(item))
        except ValidationError as exc:
            raise InputError(sw.folder / "experiment.toml", f"expect[{i}]",
                             exc.errors()[0]["msg"]) from None
    return specs


def _claims(sw: Sweep) -> list:
    """Each claim evaluated over the runs, or (``on = "sensitivity"``) over the indices."""
    from .claims import evaluate_claims

    results = []
    for spec in claim_specs(sw):
        on_indices = getattr(spec, "on", "runs") == "sensitivity"
        table = sensitivity_long(sw) if on_indices else sw.runs
        results += evaluate_claims([spec], table)
    return results


def evaluate_folder_claims(folder) -> list:
    """The experiment's claims evaluated over the sweep (``[]`` if it has none).

    A claim reads the runs (runs.parquet), or with ``on = "sensitivity"`` the table of
    sensitivity indices (see :func:`sensitivity_long`). Returns
    :class:`chip4model.claims.ClaimResult` objects; raises :class:`InputError` if ``folder`` is
    not a finished sweep.
    """
    return _claims(load_sweep(folder))


def claims_frame(results: list) -> pd.DataFrame:
    """claims.csv: one row per claim, values as text so that the file is stable."""
    cols = ["claim", "check", "passed", "lhs", "rhs", "detail", "p_value"]
    rows = [[r.claim, r.check, bool(r.passed), _cell(r.lhs), _cell(r.rhs), r.detail,
             _cell(getattr(r, "p_value", None))] for r in results]
    return pd.DataFrame(rows, columns=cols)


def _cell(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float | int | np.floating | np.integer) and not isinstance(x, bool):
        return FLOAT_FORMAT % float(x)
    return str(x)


# --- statistics ------------------------------------------------------------------------------
def ci95(std, n) -> np.ndarray:
    """Half-width of the t-based 95% confidence interval of a mean (NaN for n < 2).

    >>> round(float(ci95(1.0, 4)), 4)
    1.5912
    """
    from scipy.special import stdtrit  # the t quantile, without importing scipy.stats

    std, n = np.asarray(std, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(n >= 2, n - 1, np.nan)
        return np.where(n >= 2, stdtrit(df, 0.975) * std / np.sqrt(n), np.nan)


def summarise(df: pd.DataFrame, key: str, metrics: list[str], index=None) -> pd.DataFrame:
    """mean, std, n and ci95 of each metric per value of column ``key`` (NaN left out).

    ``index`` orders the rows (values without runs get n = 0).
    """
    g = df.groupby(key, sort=True)[metrics]
    mean, std, n = g.mean(), g.std(ddof=1), g.count()
    if index is not None:
        mean, std, n = mean.reindex(index), std.reindex(index), n.reindex(index).fillna(0)
    cols = {}
    for m in metrics:
        cols[f"{m}_mean"] = mean[m]
        cols[f"{m}_std"] = std[m]
        cols[f"{m}_n"] = n[m].astype("int64")
        cols[f"{m}_ci95"] = ci95(std[m], n[m])
    return pd.DataFrame(cols, index=mean.index)


def points_table(sw: Sweep) -> pd.DataFrame:
    """points.csv: each design point's factor values and the statistics of every metric."""
    points = sw.design["point"].to_numpy()
    stats = summarise(sw.ok, "point", sw.metrics, index=points)
    runs_ok = sw.ok.groupby("point").size().reindex(points, fill_value=0)
    names = [f["name"] for f in sw.factors]
    out = sw.design[["point", *names]].reset_index(drop=True)
    out["runs_ok"] = runs_ok.to_numpy().astype("int64")
    return pd.concat([out, stats.reset_index(drop=True)], axis=1)


def point_means(sw: Sweep, metric: str) -> np.ndarray:
    """Each point's mean over its ok replications with a value, in point order (NaN if none)."""
    means = sw.ok.groupby("point")[metric].mean()
    return means.reindex(sw.design["point"].to_numpy()).to_numpy(float)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


# --- sensitivity -----------------------------------------------------------------------------
def sensitivity(sw: Sweep) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Sobol or Morris indices per metric (``{}`` for other designs), and notes on skips."""
    if sw.method not in ("sobol", "morris"):
        return {}, []
    tables, notes = {}, []
    for m in sw.metrics:
        y = point_means(sw, m)
        missing = int(np.isnan(y).sum())
        if missing:
            notes.append(f"`{m}`: no {sw.method} indices, {missing} of {len(y)} design points "
                         "have no value (failed runs or a missing metric)")
            continue
        if np.ptp(y) == 0:
            notes.append(f"`{m}`: no {sw.method} indices, the metric is constant over the "
                         "design")
            continue
        try:
            tables[m] = sobol_table(sw, y) if sw.method == "sobol" else morris_table(sw, y)
        except (ValueError, RuntimeError) as exc:
            notes.append(f"`{m}`: SALib could not analyse it ({str(exc).strip()})")
    return tables, notes


def sensitivity_long(sw: Sweep) -> pd.DataFrame:
    """sensitivity.csv: one row per metric and factor; columns metric, factor and the indices
    (S1, S1_conf, ST, ST_conf for Sobol; mu, mu_star, mu_star_conf, sigma for Morris)."""
    from .experiment import SENSITIVITY_COLUMNS

    cols = ["metric", "factor", *SENSITIVITY_COLUMNS.get(sw.method, [])]
    tables = [t.assign(metric=m)[cols] for m, t in sw.sensitivity[0].items()]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=cols)


def sobol_table(sw: Sweep, y: np.ndarray) -> pd.DataFrame:
    """SALib's Sobol indices of ``y`` (one value per point, in point order) per factor."""
    from SALib.analyze import sobol

    problem = copy.deepcopy(sw.manifest["problem"])
    second = bool(sw.manifest["sampler"].get("second_order"))
    with np.errstate(all="ignore"):
        si = sobol.analyze(problem, y, calc_second_order=second, seed=SALIB_SEED)
    names = list(problem["names"])
    df = pd.DataFrame({"factor": names, "S1": si["S1"], "S1_conf": si["S1_conf"],
                       "ST": si["ST"], "ST_conf": si["ST_conf"]})
    if second:
        for j, name in enumerate(names):
            df[f"S2_{name}"] = si["S2"][:, j]
            df[f"S2_conf_{name}"] = si["S2_conf"][:, j]
    return df


def morris_table(sw: Sweep, y: np.ndarray) -> pd.DataFrame:
    """SALib's Morris elementary-effect statistics of ``y`` per factor."""
    from SALib.analyze import morris

    problem = copy.deepcopy(sw.manifest["problem"])
    X = sw.design[[f"x_{n}" for n in problem["names"]]].to_numpy(float)
    levels = int(sw.manifest["sampler"].get("levels") or 4)
    with np.errstate(all="ignore"):
        si = morris.analyze(problem, X, y, num_levels=levels, seed=SALIB_SEED)
    return pd.DataFrame({"factor": list(si["names"]), "mu": si["mu"], "mu_star": si["mu_star"],
                         "mu_star_conf": si["mu_star_conf"], "sigma": si["sigma"]})


# --- figures ---------------------------------------------------------------------------------
@dataclass
class Fig:
    """A written figure and its one-sentence caption."""

    file: str
    caption: str


def unit(metric: str) -> str:
    """The metric's unit, if known (from its last name part)."""
    return UNITS.get(metric.rsplit(".", 1)[-1], "")


def _label(v) -> str:
    from .experiment import label

    return label(float(v)) if isinstance(v, float | np.floating) else label(v)


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None):
    """A matplotlib Figure (no pyplot, Agg) and its axes as a 2-D array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size or (5.2 * ncols + 0.8, 3.9 * nrows + 0.5), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI)


def _pages(metrics: list[str]) -> list[list[str]]:
    return [metrics[i:i + PANELS] for i in range(0, len(metrics), PANELS)][:MAX_PAGES]


def _page_name(stem: str, k: int) -> str:
    return f"{stem}.png" if k == 0 else f"{stem}-{k + 1}.png"


def _panel_axes(n: int):
    ncols = min(3, n)
    fig, axes = _figure(math.ceil(n / ncols), ncols)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def heatmap(sw: Sweep, metric: str, f1: dict, f2: dict, path: Path) -> str:
    """Mean of ``metric`` over two factors (others averaged); returns the caption."""
    rows, cols = sw.levels(f1), sw.levels(f2)
    grid = np.full((len(rows), len(cols)), np.nan)
    r_at, c_at = {v: i for i, v in enumerate(rows)}, {v: j for j, v in enumerate(cols)}
    ok = sw.ok.assign(_r=_keys(sw.ok[f1["name"]], f1), _c=_keys(sw.ok[f2["name"]], f2))
    for (a, b), v in ok.groupby(["_r", "_c"])[metric].mean().items():
        grid[r_at[a], c_at[b]] = v
    fig, axes = _figure(size=(max(6.0, 0.9 * len(cols) + 3), max(4.2, 0.5 * len(rows) + 2.5)))
    ax = axes[0, 0]
    masked = np.ma.masked_invalid(grid)
    im = ax.imshow(masked, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label=unit(metric) or "mean")
    if grid.size <= MAX_ANNOTATED_CELLS:
        _annotate(ax, im, grid)
    ax.set_xticks(range(len(cols)), [_label(c) for c in cols])
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows])
    ax.set(xlabel=f2["name"], ylabel=f1["name"])
    others = [f["name"] for f in sw.varied() if f["name"] not in (f1["name"], f2["name"])]
    avg = f"\naveraged over {', '.join(others)}" if others else ""
    ax.set_title(f"Mean {metric} by {f1['name']} and {f2['name']}{avg}", fontsize=10)
    frontier = "absorption" in metric and _crosses(grid, 0.5)
    if frontier:
        from matplotlib.lines import Line2D

        ax.contour(np.arange(len(cols)), np.arange(len(rows)), masked, levels=[0.5],
                   colors="red", linewidths=2)
        ax.legend([Line2D([], [], color="red", lw=2)], ["0.5: absorption frontier"],
                  loc="upper left", bbox_to_anchor=(0, -0.12), fontsize=8, frameon=False)
    _save(fig, path)
    line = "; the red line is the 0.5 absorption frontier" if frontier else ""
    return (f"Mean {metric} over replications for each {f1['name']} (rows) and "
            f"{f2['name']} (columns){avg}{line}.")


def _keys(col: pd.Series, f: dict) -> pd.Series:
    return col.astype(float) if f.get("numeric") else col.astype(str)


def _crosses(grid: np.ndarray, level: float) -> bool:
    v = grid[np.isfinite(grid)]
    return bool(len(v) and v.min() < level < v.max())


def _annotate(ax, im, grid: np.ndarray) -> None:
    """Write each cell's value, dark on light cells and light on dark ones."""
    finite = np.abs(grid[np.isfinite(grid)])
    tiny = 1e-9 * (finite.max() if len(finite) else 0.0)
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            colour = "black" if im.norm(v) > 0.55 else "white"
            text = "0" if abs(v) <= tiny else f"{v:.3g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
        else:
            ax.text(j, i, "n/a", ha="center", va="center", fontsize=8, color="grey")


def level_stats(sw: Sweep, f: dict, metrics: list[str]) -> pd.DataFrame:
    """Statistics of each metric per value of factor ``f`` (pooled over other factors)."""
    ok = sw.ok.assign(_k=_keys(sw.ok[f["name"]], f))
    return summarise(ok, "_k", metrics, index=sw.levels(f))


def bars(sw: Sweep, f: dict, metrics: list[str], path: Path) -> None:
    """Each metric's mean ± 95% CI per value of factor ``f``: bars, or a line if numeric."""
    st = level_stats(sw, f, metrics)
    levels = sw.levels(f)
    x = np.arange(len(levels))
    fig, axes = _panel_axes(len(metrics))
    for ax, m in zip(axes, metrics, strict=True):
        mean = st[f"{m}_mean"].to_numpy(float)
        err = np.nan_to_num(st[f"{m}_ci95"].to_numpy(float))
        if f.get("numeric"):
            ax.errorbar(levels, mean, yerr=err, marker="o", capsize=3)
            ax.set_xlabel(f["name"])
        else:
            ax.bar(x, np.nan_to_num(mean), yerr=err, capsize=3, color="tab:blue", alpha=0.85)
            for i in np.flatnonzero(np.isnan(mean)):
                ax.text(x[i], 0, "n/a", ha="center", va="bottom", fontsize=8, color="grey")
            ax.set_xticks(x, [_label(v) for v in levels], rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(m, fontsize=10)
        ax.set_ylabel(unit(m) or "value", fontsize=8)
    fig.suptitle(f"Mean by {f['name']} with 95% CI")
    _save(fig, path)


def bars_caption(sw: Sweep, f: dict) -> str:
    pooled = (", pooled over the other factors" if len(sw.varied()) > 1 else "")
    what = {"rules": "rule set (rule-by-rule comparison)",
            "target": "member targeted by China's shocks"}.get(f.get("kind"), f["name"])
    return (f"Mean of each metric by {what}, with t-based 95% confidence intervals over the "
            f"runs{pooled}.")


def distributions(sw: Sweep, by: str, metrics: list[str], path: Path) -> None:
    """Every ok run's value of each metric by ``by`` (a text factor, or "point")."""
    groups = (sw.levels(_factor(sw, by)) if by != "point"
              else sw.design["point"].tolist())
    key = sw.ok[by].astype(str) if by != "point" else sw.ok["point"]
    rng = np.random.default_rng(0)
    fig, axes = _panel_axes(len(metrics))
    for ax, m in zip(axes, metrics, strict=True):
        data = [sw.ok.loc[key == g, m].dropna().to_numpy(float) for g in groups]
        pos = [i for i, d in enumerate(data) if len(d)]
        if pos:
            ax.boxplot([data[i] for i in pos], positions=pos, widths=0.55, showfliers=False,
                       medianprops={"color": "black"})
        for i in pos:
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(data[i])), data[i], s=9,
                       color="tab:blue", alpha=0.55, zorder=3)
        ax.set_xticks(range(len(groups)), [_label(g) for g in groups], rotation=30,
                      ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_title(m, fontsize=10)
        ax.set_ylabel(unit(m) or "value", fontsize=8)
    fig.suptitle(f"Values over replications by {'design point' if by == 'point' else by}")
    _save(fig, path)


def _factor(sw: Sweep, name: str) -> dict:
    return next(f for f in sw.factors if f["name"] == name)


def sobol_figure(metric: str, table: pd.DataFrame, path: Path) -> None:
    """S1 and ST per factor with their confidence intervals."""
    fig, axes = _figure(size=(max(5.5, 1.1 * len(table) + 3), 4.2))
    ax, x, w = axes[0, 0], np.arange(len(table)), 0.38
    ax.bar(x - w / 2, table["S1"], w, yerr=table["S1_conf"], capsize=3, label="S1 (first order)")
    ax.bar(x + w / 2, table["ST"], w, yerr=table["ST_conf"], capsize=3, label="ST (total)")
    ax.set_xticks(x, table["factor"], rotation=20, ha="right")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set(ylabel="share of the variance of the point means",
           title=f"Sobol indices of {metric}")
    ax.legend(fontsize=8)
    _save(fig, path)


def morris_figure(metric: str, table: pd.DataFrame, path: Path) -> None:
    """mu* with its confidence interval, and sigma against mu*."""
    fig, axes = _figure(1, 2, size=(11, 4.2))
    x = np.arange(len(table))
    a, b = axes[0]
    a.bar(x, table["mu_star"], yerr=table["mu_star_conf"], capsize=3)
    a.set_xticks(x, table["factor"], rotation=20, ha="right")
    u = unit(metric)
    a.set(ylabel=f"mu* ({u} per factor range)" if u else "mu*",
          title=f"Morris mu* of {metric} (95% CI)")
    b.scatter(table["mu_star"], table["sigma"])
    for _, r in table.iterrows():
        b.annotate(r["factor"], (r["mu_star"], r["sigma"]), fontsize=8,
                   xytext=(3, 3), textcoords="offset points")
    b.set(xlabel="mu* (mean absolute elementary effect)",
          ylabel="sigma (spread: interactions, non-linearity)", title="sigma against mu*")
    _save(fig, path)


def scatter(sw: Sweep, metric: str, factors: list[dict], path: Path) -> None:
    """The metric of every ok run against each numeric factor."""
    n = len(factors)
    fig, axes = _figure(math.ceil(n / 3), min(3, n))
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    for k, (ax, f) in enumerate(zip(flat, factors, strict=False)):
        ax.scatter(sw.ok[f["name"]], sw.ok[metric], s=12, alpha=0.7)
        ax.set(xlabel=f["name"], ylabel=(unit(metric) or metric) if k % 3 == 0 else "")
    fig.suptitle(f"{metric} against each factor (every run)")
    _save(fig, path)


def figures(sw: Sweep, out: Path, sens: dict) -> tuple[list[Fig], list[str]]:
    """Draw the figures that suit the design into ``out``; return them and notes."""
    figs: list[Fig] = []
    notes: list[str] = []
    data = sw.with_data()
    chosen = data[:MAX_FIGURE_METRICS]
    paged = data[:PANELS * MAX_PAGES]
    for m in sw.metrics:
        if m not in data:
            notes.append(f"`{m}` has no value in any ok run: it is in no figure")
    varied = sw.varied()
    if sw.method == "full_factorial" and len(varied) >= 2 and chosen:
        f1, f2 = varied[:2]
        for m in chosen:
            name = f"heatmap_{sw.slugs[m]}.png"
            figs.append(Fig(name, heatmap(sw, m, f1, f2, out / name)))
        _note_limit(notes, "heatmaps", chosen, data)
    by_level = list(sw.categorical())
    if sw.method == "full_factorial" and len(varied) == 1 and varied[0].get("numeric"):
        by_level.append(varied[0])
    for f in by_level:
        for k, page in enumerate(_pages(data)):
            name = _page_name(f"by_{slug(f['name'])}", k)
            bars(sw, f, page, out / name)
            figs.append(Fig(name, bars_caption(sw, f)))
    if by_level:
        _note_limit(notes, f"the by-{by_level[0]['name']} figures", paged, data)
    figs += _distribution_figures(sw, out, data, notes)
    figs += _sensitivity_figures(sw, out, sens, notes)
    if sw.method == "latin_hypercube":
        numeric = [f for f in varied if f.get("numeric")]
        for m in chosen if numeric else []:
            name = f"scatter_{sw.slugs[m]}.png"
            scatter(sw, m, numeric, out / name)
            figs.append(Fig(name, f"{m} of every run against each numeric factor of the Latin "
                                  "hypercube."))
        _note_limit(notes, "scatter plots", chosen if numeric else [], data)
    return figs, notes


def _distribution_figures(sw: Sweep, out: Path, data: list[str], notes: list[str]) -> list[Fig]:
    if sw.replications < 2 or not data:
        return []
    cat = sw.categorical()
    if cat:
        by = cat[0]["name"]
    elif sw.n_points <= MAX_POINTS_TABLE:
        by = "point"
    else:
        notes.append(f"No distribution figure: no text factor and {sw.n_points} design points.")
        return []
    figs = []
    for k, page in enumerate(_pages(data)):
        name = _page_name("distributions", k)
        distributions(sw, by, page, out / name)
        what = "design point (see points.csv)" if by == "point" else by
        figs.append(Fig(name, f"Each run's value over the {sw.replications} replications by "
                              f"{what}: box plots (quartiles) with every run as a dot."))
    return figs


def _sensitivity_figures(sw: Sweep, out: Path, sens: dict, notes: list[str]) -> list[Fig]:
    figs = []
    chosen = list(sens)[:MAX_FIGURE_METRICS]
    for m in chosen:
        name = f"{sw.method}_{sw.slugs[m]}.png"
        if sw.method == "sobol":
            sobol_figure(m, sens[m], out / name)
            cap = (f"Sobol first-order (S1) and total (ST) indices of {m} per factor, with "
                   "bootstrap 95% confidence intervals.")
        else:
            morris_figure(m, sens[m], out / name)
            cap = (f"Morris screening of {m}: mean absolute elementary effect mu* per factor "
                   "(95% CI), and its spread sigma against mu*.")
        figs.append(Fig(name, cap))
    _note_limit(notes, f"{sw.method} figures", chosen, list(sens))
    return figs


def _note_limit(notes: list[str], what: str, shown: list[str], data: list[str]) -> None:
    if len(shown) < len(data):
        notes.append(f"The {what} show only the first {len(shown)} of {len(data)} metrics "
                     f"with values: {', '.join(f'`{m}`' for m in shown)} (all are in the "
                     "tables).")


# --- summary.md ------------------------------------------------------------------------------
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
    from .experiment import Experiment

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


# --- writing ---------------------------------------------------------------------------------
def _check_out(out: Path) -> None:
    """``out`` must be new, empty, or an earlier report (only .md, .csv and .png files)."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out", "is an existing file (allowed: a folder path)")
    if out.is_dir():
        other = [p.name for p in out.iterdir()
                 if not (p.is_file() and p.suffix in REPORT_SUFFIXES)]
        if other:
            raise InputError(out, "--out", f"holds files that are not part of a report "
                             f"({', '.join(sorted(other)[:3])}); choose another folder")


def _write_all(sw: Sweep, tmp: Path, results: list) -> None:
    write_csv(points_table(sw), tmp / "points.csv")
    sens, sens_notes = sw.sensitivity
    for m, table in sens.items():
        write_csv(table, tmp / f"sensitivity_{sw.slugs[m]}.csv")
    if sw.method in ("sobol", "morris"):
        write_csv(sensitivity_long(sw), tmp / "sensitivity.csv")
    write_csv(claims_frame(results), tmp / "claims.csv")
    figs, fig_notes = figures(sw, tmp, sens)
    text = summary_md(sw, figs, fig_notes, sens, sens_notes, results)
    (tmp / "summary.md").write_text(text, encoding="utf-8")


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished report ``tmp`` to ``out``, replacing an earlier report."""
    mask = os.umask(0o022)
    os.umask(mask)
    tmp.chmod(0o777 & ~mask)
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def write_report(folder, out=None) -> Path:
    """Write the report of the finished sweep in ``folder`` to ``out`` (default
    ``folder/report``) and return ``out``.

    Raises :class:`InputError`, writing nothing, if ``folder`` is not a finished sweep or
    ``out`` holds other files. The report is built in a temporary folder and moved into place
    at the end, so a failure leaves no partial report.
    """
    sw = load_sweep(folder)
    out = Path(out) if out is not None else sw.folder / "report"
    _check_out(out)
    results = _claims(sw)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _write_all(sw, tmp, results)
        _replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


__all__ = ["write_report", "evaluate_folder_claims", "load_sweep", "points_table",
           "sensitivity", "summarise", "ci95", "slug", "Sweep"]
