"""A finished sweep folder read back, and the statistics of its runs.

:class:`Sweep` holds the manifest, runs and design of a folder written by ``chip4 sweep``
(:func:`load_sweep` reads and checks it). The statistics are t-based means ± 95% CI over the
ok runs: per value of a column (:func:`summarise`), per design point (:func:`points_table`,
written as points.csv) and per value of a factor (:func:`level_stats`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

MAX_POINTS_TABLE = 30     # designs with up to this many points get one table row per point
FLOAT_FORMAT = "%.10g"
SAMPLED = ("latin_hypercube", "sobol", "morris")


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
        from .indices import sensitivity  # indices.py imports this module

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
    from ..scenario import read_toml_file
    from ..sweep import read_manifest, read_runs

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


def _label(v) -> str:
    from ..experiment import label

    return label(float(v)) if isinstance(v, float | np.floating) else label(v)


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


def _keys(col: pd.Series, f: dict) -> pd.Series:
    return col.astype(float) if f.get("numeric") else col.astype(str)


def level_stats(sw: Sweep, f: dict, metrics: list[str]) -> pd.DataFrame:
    """Statistics of each metric per value of factor ``f`` (pooled over other factors)."""
    ok = sw.ok.assign(_k=_keys(sw.ok[f["name"]], f))
    return summarise(ok, "_k", metrics, index=sw.levels(f))
