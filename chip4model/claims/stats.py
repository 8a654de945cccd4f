"""Tests over replications: is the difference a check measures more than noise?

:func:`run_test` runs the one-sided test a claim asks for (``paired``: t over the
replications present on both sides; ``welch``: t over the runs on each side; ``one_sample``:
t of the per-replication values against a number) and returns its p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evaluate import NoData, _column, aggregate, select
from .syntax import Agg, Check, Const


@dataclass
class TestOutcome:
    """A one-sided test: its p-value and how it was done (for the detail line)."""

    __test__ = False   # not a pytest class

    p: float
    how: str


def _alternative(op: str) -> str:
    return "greater" if op.startswith(">") else "less"


def _per_rep(agg: Agg, rows: pd.DataFrame) -> pd.Series:
    """The aggregate over each replication's matching runs (replications without data left out)."""
    sel = select(rows, agg.filters)
    _column(sel, agg.metric)
    reps = _column(sel, "rep")
    out = {}
    for rep, g in sel.groupby(reps, sort=True):
        try:
            out[rep] = aggregate(agg.func, g[agg.metric], agg.metric)
        except NoData:
            continue
    return pd.Series(out, dtype=float)


def _per_run(agg: Agg, rows: pd.DataFrame) -> np.ndarray:
    v = _column(select(rows, agg.filters), agg.metric).dropna().astype(float).to_numpy()
    return (v != 0).astype(float) if agg.func == "share" else v


def _one_sided(diff: np.ndarray, alt: str, run) -> tuple[float, bool]:
    """(p, constant): if every difference is the same, p is 0 or 1, else ``run()``'s p-value."""
    scale = max(1.0, float(np.abs(diff).max()))
    if float(np.ptp(diff)) <= 1e-12 * scale:
        d = float(diff[0])
        return (0.0 if (d > 0 if alt == "greater" else d < 0) else 1.0), True
    return float(run().pvalue), False


def _need(n: int, what: str, test: str) -> None:
    if n < 2:
        raise NoData(f"the {test} test needs at least 2 {what}, got {n}")


def run_test(check: Check, test: str, rows: pd.DataFrame, tol: float = 0.0) -> TestOutcome:
    """The one-sided test of ``check`` (validated with :func:`validate_test`).

    The tolerance moves the null hypothesis: for ``a > b`` the test is of mean(a - b) > -tol.
    """
    from scipy import stats

    op = check.op
    lhs, rhs = check.lhs, check.rhs
    if test == "one_sample" and isinstance(lhs, Const):        # 0 < mean(m) -> mean(m) > 0
        lhs, rhs = rhs, lhs
        op = {">": "<", ">=": "<=", "<": ">", "<=": ">="}[op]
    alt = _alternative(op)
    shift = -tol if alt == "greater" else tol
    if test == "paired":
        a, b = _per_rep(lhs, rows), _per_rep(rhs, rows)
        common = a.index.intersection(b.index)
        _need(len(common), "replications present on both sides", "paired")
        x, y = a[common].to_numpy(), b[common].to_numpy() + shift
        p, const = _one_sided(x - y, alt, lambda: stats.ttest_rel(x, y, alternative=alt))
        how = f"paired t over {len(common)} replications"
    elif test == "welch":
        x, y = _per_run(lhs, rows), _per_run(rhs, rows) + shift
        _need(min(len(x), len(y)), "runs on each side", "welch")
        const = np.ptp(x) == 0 and np.ptp(y) == 0
        p = (_one_sided(np.array([x[0] - y[0]]), alt, None)[0] if const else
             float(stats.ttest_ind(x, y, equal_var=False, alternative=alt).pvalue))
        how = f"Welch t, {len(x)} vs {len(y)} runs"
    else:
        x, mu = _per_rep(lhs, rows).to_numpy(), rhs.value + shift
        _need(len(x), "replications", "one-sample")
        p, const = _one_sided(x - mu, alt, lambda: stats.ttest_1samp(x, mu, alternative=alt))
        how = f"one-sample t over {len(x)} replications"
    return TestOutcome(p, how + (", constant difference" if const else ""))
