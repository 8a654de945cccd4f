"""A claim's verdict: does its check hold (and is it significant), and the detail line.

:func:`evaluate_claim` parses and evaluates an ``[[expect]]`` entry into a
:class:`ClaimResult` and never raises; :func:`format_results` prints PASS/FAIL lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evaluate import NoData, _label, compare, evaluate, ok_rows
from .stats import run_test
from .syntax import parse_check


@dataclass
class ClaimResult:
    """The outcome of one claim; ``detail`` is one human-readable line."""

    claim: str
    check: str
    passed: bool
    lhs: float | str | None
    rhs: float | str | None
    detail: str
    p_value: float | None = None


def _fmt(x: float | str | None) -> str:
    """A value for the detail line: 3 decimals, or 3 significant digits if very small/large.

    >>> _fmt(0.18312), _fmt(0.0), _fmt(1.5e-5), _fmt("KOR")
    ('0.183', '0.000', '1.5e-05', 'KOR')
    """
    if x is None:
        return "?"
    if isinstance(x, str):
        return x
    if x == 0 or 1e-3 <= abs(x) < 1e5 or not np.isfinite(x):
        return f"{x:.3f}"
    return f"{x:.3g}"


def evaluate_claim(spec, runs: pd.DataFrame) -> ClaimResult:
    """Evaluate one ``[[expect]]`` claim (``.claim .check .tolerance .test .alpha``).

    Only runs with status "ok" count. ``mean/median/min/max/std(m | filters)`` aggregate the
    non-NaN values of ``m`` over the runs matching every filter; ``share`` is the fraction of
    non-zero values, ``count`` the number of non-NaN values. Filters compare numerically (with
    a 1e-9 relative tolerance for '=') on numeric columns and as text (= and != only) on text
    columns. ``outer(agg by f1, f2)`` aggregates each group, then takes the max/min/mean, or
    the label (``"a, b"``, numbers as ``:g``) of the largest/smallest group.

    The claim passes if the comparison holds within ``tolerance`` and, with a ``test``, the
    one-sided test gives p < ``alpha``. It fails (never raises) on no data or a bad check.
    """
    claim, text = spec.claim, spec.check
    tol = float(getattr(spec, "tolerance", 0.0) or 0.0)
    test = getattr(spec, "test", None)
    alpha = float(getattr(spec, "alpha", 0.05) or 0.05)

    def fail(detail, lhs=None, rhs=None):
        return ClaimResult(claim, text, False, lhs, rhs, detail)

    try:
        check = parse_check(text, test=test)
    except ValueError as err:
        return fail(f"invalid check: {err}")
    try:
        lhs, rhs = evaluate(check, runs)
    except NoData as err:
        return fail(f"no data: {err}")
    except ValueError as err:
        return fail(f"cannot evaluate: {err}")
    holds = compare(lhs, check.op, rhs, tol)
    labels = isinstance(lhs, str) or isinstance(rhs, str)
    show = _label if labels else _fmt
    said = f"{show(lhs)} {check.op} {show(rhs)} {'holds' if holds else 'does not hold'}"
    notes = [f"tolerance {tol:g}"] if tol and not labels else []
    if test is None:
        return ClaimResult(claim, text, holds, lhs, rhs, _with(said, notes))
    try:
        out = run_test(check, test, ok_rows(runs), tol)
    except (NoData, ValueError) as err:
        return fail(_with(said, notes) + f", but {err}", lhs, rhs)
    sig = out.p < alpha
    notes.append(f"{out.how}, p = {out.p:.2g} {'<' if sig else '>='} {alpha:g}")
    if holds and not sig:
        said += " but is not significant"
    return ClaimResult(claim, text, holds and sig, lhs, rhs, _with(said, notes), out.p)


def _with(said: str, notes: list[str]) -> str:
    return f"{said} ({'; '.join(notes)})" if notes else said


def evaluate_claims(specs, runs: pd.DataFrame) -> list[ClaimResult]:
    """Evaluate every claim against the same results table."""
    return [evaluate_claim(s, runs) for s in specs]


def format_results(results) -> str:
    """One "PASS  claim" / "FAIL  claim" line per claim, its detail indented below."""
    lines = []
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'}  {r.claim}")
        lines.append(f"      {r.detail}")
    return "\n".join(lines)
