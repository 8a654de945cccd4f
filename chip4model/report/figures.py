"""The report's figures: which ones suit the design, and drawing them with matplotlib.

:func:`figures` chooses (heatmaps, by-factor bars, distributions, Sobol / Morris indices,
scatter plots) and returns each written figure with its caption. matplotlib is imported only
when a figure is drawn, without pyplot (a bare Figure, Agg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .sweep import MAX_POINTS_TABLE, Sweep, _keys, _label, level_stats, slug

MAX_FIGURE_METRICS = 6    # metrics that get their own heatmap / sensitivity / scatter figure
PANELS = 6                # metrics per multi-panel figure
MAX_PAGES = 2             # multi-panel figures per kind
MAX_ANNOTATED_CELLS = 150
DPI = 110

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


@dataclass
class Fig:
    """A written figure and its one-sentence caption."""

    file: str
    caption: str


def unit(metric: str) -> str:
    """The metric's unit, if known (from its last name part)."""
    return UNITS.get(metric.rsplit(".", 1)[-1], "")


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


def _clipped_err(sw: Sweep, metric: str, mean: np.ndarray, err: np.ndarray):
    """The t-based half-widths, as (lower, upper) clipped to [0, 1] when the metric is a yes/no
    (a share of runs cannot leave that range); unchanged otherwise."""
    values = sw.runs[metric].dropna() if metric in sw.runs else None
    if values is None or not len(values) or not values.isin([0, 1, True, False]).all():
        return err
    m = np.nan_to_num(mean)
    return np.vstack([m - np.clip(m - err, 0, 1), np.clip(m + err, 0, 1) - m])


def bars(sw: Sweep, f: dict, metrics: list[str], path: Path) -> None:
    """Each metric's mean ± 95% CI per value of factor ``f``: bars, or a line if numeric."""
    st = level_stats(sw, f, metrics)
    levels = sw.levels(f)
    x = np.arange(len(levels))
    fig, axes = _panel_axes(len(metrics))
    for ax, m in zip(axes, metrics, strict=True):
        mean = st[f"{m}_mean"].to_numpy(float)
        err = _clipped_err(sw, m, mean, np.nan_to_num(st[f"{m}_ci95"].to_numpy(float)))
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
