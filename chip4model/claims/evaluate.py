"""The value of a check over a results table: selecting runs, aggregating, comparing.

Only runs with status "ok" count (:func:`ok_rows`). :func:`select` applies the filters,
:func:`aggregate` reduces a metric to one number, :func:`group_values` does so per group,
:func:`value` gives one side of a check and :func:`compare` the comparison. :class:`NoData`
is raised when there is nothing to aggregate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .syntax import Agg, Check, Const, Filter, Group, Side, _quote

EQ_TOL = 1e-9          # relative tolerance of '=' in filters on numeric columns


class NoData(Exception):
    """Nothing to aggregate: no run matches, or the metric is missing in every matching run."""


def ok_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with status "ok" (all runs if there is no status column)."""
    if "status" in runs.columns:
        ok = runs[runs["status"] == "ok"]
        if ok.empty and len(runs):
            raise NoData(f"no successful runs (none of the {len(runs)} runs has status ok)")
        runs = ok
    if runs.empty:
        raise NoData("the results table has no runs")
    return runs


def _numeric(col: pd.Series) -> pd.Series | None:
    """The column as floats if it holds numbers, else None (a text column)."""
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    if col.dtype == object:
        vals = col.dropna()
        if len(vals) and all(isinstance(v, int | float | np.number) for v in vals):
            return pd.to_numeric(col, errors="coerce").astype(float)
    return None


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        raise NoData(f"column {name!r} is not in the results")
    return df[name]


def _mask(df: pd.DataFrame, f: Filter) -> pd.Series:
    """Rows matching one filter (rows where the column is missing never match)."""
    col = _column(df, f.column)
    num = _numeric(col)
    if num is None:
        if f.op not in ("=", "!="):
            raise ValueError(f"filter {f}: {f.column!r} holds text, so only = and != apply")
        eq = col.astype(str) == f.value
        return col.notna() & (eq if f.op == "=" else ~eq)
    try:
        v = float(f.value)
    except ValueError:
        raise ValueError(f"filter {f}: {f.column!r} holds numbers but {f.value!r} is not a "
                         "number") from None
    close = (num - v).abs() <= EQ_TOL * max(1.0, abs(v))
    match = {"=": close, "!=": ~close, "<": (num < v) & ~close, "<=": (num <= v) | close,
             ">": (num > v) & ~close, ">=": (num >= v) | close}[f.op]
    return num.notna() & match


def _values_hint(df: pd.DataFrame, column: str) -> str:
    col = _column(df, column).dropna()
    num = _numeric(col)
    if num is not None and len(num):
        return f" ({column} is between {num.min():g} and {num.max():g})"
    vals = sorted({_label(v) for v in col})
    more = f", ... ({len(vals) - 10} more)" if len(vals) > 10 else ""
    return f" ({column} values: {', '.join(vals[:10])}{more})"


def select(rows: pd.DataFrame, filters) -> pd.DataFrame:
    """The rows matching every filter; raises NoData (naming the culprit) if none do."""
    sel = rows
    for i, f in enumerate(filters):
        sel = sel[_mask(sel, f)]
        if sel.empty:
            if _mask(rows, f).any():
                used = ", ".join(str(g) for g in filters[: i + 1])
                raise NoData(f"no run matches {used} together")
            raise NoData(f"no run matches {f}{_values_hint(rows, f.column)}")
    return sel


def aggregate(func: str, values: pd.Series, name: str = "metric") -> float:
    """One aggregate over the non-NaN values; raises NoData if there are none.

    ``share`` is the fraction of non-zero values (NaN excluded); ``count`` the number of
    non-NaN values (0 is a valid answer); ``std`` is the sample standard deviation (ddof=1).

    >>> aggregate("share", pd.Series([1.0, 0.0, float("nan"), 2.0]))
    0.6666666666666666
    """
    v = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    if func == "count":
        return float(len(v))
    if v.empty:
        raise NoData(f"{name} is missing (NaN) in all {len(values)} matching runs")
    if func == "share":
        return float((v != 0).mean())
    if func == "std":
        if len(v) < 2:
            raise NoData(f"std({_quote(name)}) needs at least 2 values, got 1")
        return float(v.std(ddof=1))
    return float(getattr(v, func)())


def _agg_value(agg: Agg, rows: pd.DataFrame) -> float:
    sel = select(rows, agg.filters)
    return aggregate(agg.func, _column(sel, agg.metric), agg.metric)


def _label(value) -> str:
    """A group key as text: floats with ``:g``, numbers without '.0', strings as they are.

    >>> _label(0.5), _label(np.int64(3)), _label(2.0), _label("KOR")
    ('0.5', '3', '2', 'KOR')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def group_values(group: Group, rows: pd.DataFrame) -> dict[str, float]:
    """The inner aggregate of each group (groups without data are left out), by label."""
    sel = select(rows, group.agg.filters)
    for b in group.by:
        _column(sel, b)
    out = {}
    for key, g in sel.groupby(list(group.by), sort=True, dropna=False):
        try:
            v = aggregate(group.agg.func, _column(g, group.agg.metric), group.agg.metric)
        except NoData:
            continue
        out[", ".join(_label(k) for k in key)] = v
    if not out:
        raise NoData(f"{group.agg.metric} is missing (NaN) in every group of "
                     f"{', '.join(group.by)}")
    return out


def _group_value(group: Group, rows: pd.DataFrame) -> float | str:
    vals = group_values(group, rows)
    if group.outer == "argmax":
        return max(vals, key=vals.get)         # first in sorted order among ties
    if group.outer == "argmin":
        return min(vals, key=vals.get)
    arr = np.array(list(vals.values()))
    return float({"max": arr.max, "min": arr.min, "mean": arr.mean}[group.outer]())


def value(side: Side, rows: pd.DataFrame) -> float | str:
    """The value of one side of a check over the (ok) rows."""
    if isinstance(side, Const):
        return side.value
    if isinstance(side, Agg):
        return _agg_value(side, rows)
    return _group_value(side, rows)


def compare(a: float | str, op: str, b: float | str, tol: float = 0.0) -> bool:
    """``a op b`` with slack ``tol`` (labels: == / != on text, tolerance ignored).

    >>> compare(1.0, ">", 1.05, tol=0.1), compare(1.0, "!=", 1.05, tol=0.1)
    (True, False)
    >>> compare("KOR", "==", "KOR")
    True
    """
    if isinstance(a, str) or isinstance(b, str):
        if op not in ("==", "!="):
            raise ValueError(f"'{op}' cannot order labels")
        return (_label(a) == _label(b)) == (op == "==")
    return {">": a > b - tol, ">=": a >= b - tol, "<": a < b + tol, "<=": a <= b + tol,
            "==": abs(a - b) <= tol, "!=": abs(a - b) > tol}[op]


def evaluate(check: Check, runs: pd.DataFrame) -> tuple[float | str, float | str]:
    """(lhs, rhs) of a parsed check over the ok runs; raises NoData or ValueError."""
    rows = ok_rows(runs)
    return value(check.lhs, rows), value(check.rhs, rows)
