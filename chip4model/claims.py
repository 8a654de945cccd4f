"""Claims: small checks of a sweep's results table, with an optional test over replications.

An experiment's ``[[expect]]`` entries hold checks such as::

    mean(shock_absorption | rules=market_absorption) > mean(shock_absorption | rules=none)
    argmax(mean(target.net_loss_pct) by target) == KOR
    share(deterred | commitment>=0.5) >= 0.8

Grammar (a hand-written tokenizer and recursive-descent parser; nothing is ``eval``-ed)::

    check      := side CMP side
    CMP        := '>' | '>=' | '<' | '<=' | '==' | '!='
    side       := NUMBER | WORD | STRING | agg_term | group_term
    agg_term   := AGG '(' name [ '|' filter (',' filter)* ] ')'
    group_term := OUTER '(' agg_term 'by' name (',' name)* ')'
    AGG        := mean | median | min | max | std | share | count
    OUTER      := max | min | mean | argmax | argmin
    filter     := name FOP value
    FOP        := '=' | '==' | '!=' | '<' | '<=' | '>' | '>='      ('==' means '=')
    value      := NUMBER | WORD | STRING
    name       := WORD | STRING
    WORD       := [A-Za-z_][A-Za-z0-9_.:+-]*
    STRING     := "..." | '...' | `...`                          (no escapes)
    NUMBER     := -?(digits[.digits] | .digits)([eE][+-]?digits)?

Metric names with spaces are quoted: ``mean(`firms.SK Hynix.revenue_loss_pct`)``.
:func:`evaluate_claim` explains the meaning of each construct.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import allowed

AGGREGATES = ("mean", "median", "min", "max", "std", "share", "count")
OUTERS = ("max", "min", "mean", "argmax", "argmin")
COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
FILTER_OPS = ("=", "!=", "<", "<=", ">", ">=")
TESTS = ("paired", "welch", "one_sample")
RUN_COLUMNS = ("run_id", "point", "rep", "seed")
EQ_TOL = 1e-9          # relative tolerance of '=' in filters on numeric columns
ORDERING = (">", ">=", "<", "<=")


# --- syntax tree -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Filter:
    """``column op value``; ``value`` is the literal's text (numeric columns convert it)."""

    column: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{_quote(self.column)}{self.op}{_quote(self.value)}"


@dataclass(frozen=True)
class Agg:
    """``func(metric | filters)``: one number from the matching runs."""

    func: str
    metric: str
    filters: tuple[Filter, ...] = ()

    def __str__(self) -> str:
        fs = f" | {', '.join(str(f) for f in self.filters)}" if self.filters else ""
        return f"{self.func}({_quote(self.metric)}{fs})"


@dataclass(frozen=True)
class Group:
    """``outer(agg by factors)``: ``agg`` per group, then max/min/mean or argmax/argmin label."""

    outer: str
    agg: Agg
    by: tuple[str, ...]

    @property
    def is_label(self) -> bool:
        return self.outer.startswith("arg")

    def __str__(self) -> str:
        return f"{self.outer}({self.agg} by {', '.join(_quote(b) for b in self.by)})"


@dataclass(frozen=True)
class Const:
    """A number, or a word / quoted string (only comparable with an argmax/argmin label)."""

    value: float | str
    pos: int = 0

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, float)

    def __str__(self) -> str:
        return f"{self.value:g}" if self.is_number else _quote(self.value)


Side = Const | Agg | Group


@dataclass(frozen=True)
class Check:
    """A parsed check: ``lhs op rhs``."""

    lhs: Side
    op: str
    rhs: Side
    text: str = ""

    @property
    def metrics(self) -> list[str]:
        """The metrics the check reads.

        >>> parse_check("mean(a | x=1) > max(median(b) by x)").metrics
        ['a', 'b']
        """
        aggs = [s.agg if isinstance(s, Group) else s for s in (self.lhs, self.rhs)]
        return sorted({a.metric for a in aggs if isinstance(a, Agg)})

    def __str__(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}"


def _quote(name: str) -> str:
    """A name as it would be written in a check (backticks if it is not a bare word)."""
    return name if _BARE.fullmatch(name) or _NUMBER.fullmatch(name) else f"`{name}`"


# --- tokenizer -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str      # "num", "word", "str", "op", "punct" or "end"
    text: str      # the token's text (a string's content, without its quotes)
    pos: int       # offset in the check text (0-based)


_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z0-9_.])")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:+\-]*")
_OP = re.compile(r">=|<=|==|!=|>|<|=")
_QUOTES = "\"'`"


def tokenize(text: str) -> list[Token]:
    """Split a check into tokens; the list ends with an "end" token.

    >>> [t.text for t in tokenize("mean(`a b` | x>=-1)")]
    ['mean', '(', 'a b', '|', 'x', '>=', '-1', ')', '']
    """
    toks, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        tok = _token_at(text, i)
        toks.append(tok)
        i += len(tok.text) + (2 if tok.kind == "str" else 0)
    toks.append(Token("end", "", len(text)))
    return toks


def _token_at(text: str, i: int) -> Token:
    c = text[i]
    if c in _QUOTES:
        end = text.find(c, i + 1)
        if end < 0:
            raise ValueError(f"unterminated string starting at position {i + 1} "
                             f"(close it with {c})")
        return Token("str", text[i + 1:end], i)
    if c in "(),|":
        return Token("punct", c, i)
    for kind, rx in (("num", _NUMBER), ("word", _BARE), ("op", _OP)):
        m = rx.match(text, i)
        if m:
            return Token(kind, m.group(), i)
    raise ValueError(f"unexpected {text[i:i + 10]!r} at position {i + 1}")


# --- parser ----------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over the tokens; checks names against the lists it is given."""

    def __init__(self, text: str, metrics, factors):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.metrics = list(metrics) if metrics is not None else None
        self.factors = list(factors) if factors is not None else None

    # token helpers
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def is_punct(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "punct" and tok.text == text

    def accept(self, text: str) -> bool:
        if self.is_punct(text):
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise self.error(f"expected {text!r}", self.peek())

    def error(self, what: str, tok: Token) -> ValueError:
        if tok.kind == "end":
            return ValueError(f"{what} at end of check")
        shown = tok.text if tok.kind != "str" else tok.text.join('""')
        return ValueError(f"{what} at position {tok.pos + 1}, found {shown!r}")

    # grammar
    def check(self) -> Check:
        lhs = self.side()
        tok = self.peek()
        if tok.kind != "op" or tok.text not in COMPARISONS:
            hint = " (use '==' for equality)" if tok.text == "=" else ""
            raise self.error(f"expected a comparison ({', '.join(COMPARISONS)}){hint}", tok)
        self.take()
        rhs = self.side()
        if self.peek().kind != "end":
            raise self.error("unexpected text after the check", self.peek())
        return Check(lhs, tok.text, rhs, self.text)

    def side(self) -> Side:
        tok = self.peek()
        if tok.kind == "num":
            self.take()
            return Const(float(tok.text), tok.pos)
        if tok.kind == "word" and self.is_punct("(", 1):
            return self.term()
        if tok.kind in ("word", "str"):
            self.take()
            return Const(tok.text, tok.pos)
        raise self.error("expected a number, a word or a term such as mean(metric)", tok)

    def term(self) -> Agg | Group:
        if self.peek(2).kind == "word" and self.is_punct("(", 3):
            return self.group()
        return self.agg()

    def group(self) -> Group:
        outer = self.take()
        if outer.text not in OUTERS:
            raise self.error(f"{outer.text!r} cannot take a 'by' term (allowed: "
                             f"{', '.join(OUTERS)})", outer)
        self.expect("(")
        agg = self.agg()
        by_tok = self.peek()
        if by_tok.kind != "word" or by_tok.text != "by":
            raise self.error("expected 'by'", by_tok)
        self.take()
        by = [self.name("factor")]
        while self.accept(","):
            by.append(self.name("factor"))
        self.expect(")")
        return Group(outer.text, agg, tuple(by))

    def agg(self) -> Agg:
        tok = self.take()
        if tok.text not in AGGREGATES:
            if tok.text in OUTERS:
                raise self.error(f"{tok.text}(...) needs an aggregate and 'by', e.g. "
                                 f"{tok.text}(mean(metric) by factor)", tok)
            names = sorted(set(AGGREGATES + OUTERS))
            raise self.error(f"unknown function {tok.text!r} (allowed: {', '.join(names)})",
                             tok)
        self.expect("(")
        metric = self.name("metric")
        filters = []
        if self.accept("|"):
            filters.append(self.filter())
            while self.accept(","):
                filters.append(self.filter())
        self.expect(")")
        return Agg(tok.text, metric, tuple(filters))

    def filter(self) -> Filter:
        column = self.name("column")
        tok = self.take()
        if tok.kind != "op":
            raise self.error(f"expected a filter operator ({', '.join(FILTER_OPS)}) "
                             f"after {column!r}", tok)
        value = self.take()
        if value.kind not in ("num", "word", "str"):
            raise self.error(f"expected a value after '{column}{tok.text}'", value)
        return Filter(column, "=" if tok.text == "==" else tok.text, value.text)

    def name(self, what: str) -> str:
        tok = self.take()
        if tok.kind not in ("word", "str"):
            raise self.error(f"expected a {what} name", tok)
        if not tok.text.strip():
            raise self.error(f"empty {what} name", tok)
        known = self.known(what)
        if known is not None and tok.text not in known:
            where = {"column": " in filter", "factor": " in 'by'"}.get(what, "")
            raise ValueError(f"unknown {what} {tok.text!r}{where} at position {tok.pos + 1} "
                             f"({_did_you_mean(tok.text, known)}{allowed(known)})")
        return tok.text

    def known(self, what: str) -> list[str] | None:
        if what == "metric":
            return self.metrics
        if self.factors is None:
            return None
        extra = (self.metrics or []) if what == "column" else []
        return [*self.factors, *RUN_COLUMNS, *extra]


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def parse_check(text: str, metrics: list[str] | None = None, factors: list[str] | None = None,
                test: str | None = None) -> Check:
    """Parse (and validate) a check; raises ValueError with a one-line message.

    With ``metrics`` the metric names are checked against it; with ``factors`` the 'by' names
    (factors or run_id/point/rep/seed) and filter columns (those, or a metric) are checked.
    With ``test`` the check must suit that test (see :func:`validate_test`).

    >>> str(parse_check("mean(x | rules=none)>=0.5"))
    'mean(x | rules=none) >= 0.5'
    >>> try:
    ...     parse_check("mean(absorbtion) > 0", metrics=["absorption"])
    ... except ValueError as err:
    ...     print(err)
    unknown metric 'absorbtion' at position 6 (did you mean 'absorption'? allowed: absorption)
    """
    check = _Parser(text, metrics, factors).check()
    _validate_sides(check)
    validate_test(check, test)
    return check


def _kind(side: Side) -> str:
    """'number' (a constant), 'text' (a word), 'label' (argmax/argmin) or 'value' (a term)."""
    if isinstance(side, Const):
        return "number" if side.is_number else "text"
    return "label" if isinstance(side, Group) and side.is_label else "value"


def _validate_sides(check: Check) -> None:
    kinds = (_kind(check.lhs), _kind(check.rhs))
    if "text" in kinds and "label" not in kinds:
        word = check.lhs if kinds[0] == "text" else check.rhs
        raise ValueError(f"{word.value!r} at position {word.pos + 1} is text, not a number; "
                         f"to use a metric, aggregate it, e.g. mean({_quote(word.value)})")
    if all(isinstance(s, Const) for s in (check.lhs, check.rhs)):
        raise ValueError("a check compares at least one term such as mean(metric), "
                         f"not two constants ({check})")
    if "label" in kinds:
        other = kinds[1] if kinds[0] == "label" else kinds[0]
        if other == "value":
            raise ValueError("an argmax/argmin label can only be compared with a word, a quoted "
                             "string, a number or another label, not with a number-valued term")
        if check.op not in ("==", "!="):
            raise ValueError(f"'{check.op}' cannot order argmax/argmin labels (allowed: ==, !=)")


def validate_test(check: Check, test: str | None) -> None:
    """Raise ValueError if ``test`` cannot be applied to ``check``.

    'paired' and 'welch' need an aggregate term on both sides ('welch' compares per-run values,
    so only mean or share); 'one_sample' needs one aggregate term and one number. Every test
    needs an ordering comparison (>, >=, <, <=).
    """
    if test is None:
        return
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r} (allowed: {', '.join(TESTS)})")
    if check.op not in ORDERING:
        raise ValueError(f"a {test!r} test needs one of {', '.join(ORDERING)}, not {check.op!r}")
    sides = (check.lhs, check.rhs)
    n_agg = sum(isinstance(s, Agg) for s in sides)
    if test in ("paired", "welch") and n_agg != 2:
        raise ValueError(f"a {test!r} test needs an aggregate term on both sides, e.g. "
                         "mean(m | f=a) > mean(m | f=b) (no 'by' terms)")
    if test == "welch" and any(s.func not in ("mean", "share") for s in sides):
        raise ValueError("a 'welch' test compares per-run values, so both sides must be "
                         "mean(...) or share(...)")
    if test == "one_sample" and not (n_agg == 1 and any(_kind(s) == "number" for s in sides)):
        raise ValueError("a 'one_sample' test needs one aggregate term (no 'by') and one "
                         "number, e.g. mean(m) > 0")


# --- evaluation ------------------------------------------------------------------------------
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


# --- tests over replications -----------------------------------------------------------------
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


# --- claims ----------------------------------------------------------------------------------
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


def evaluate(check: Check, runs: pd.DataFrame) -> tuple[float | str, float | str]:
    """(lhs, rhs) of a parsed check over the ok runs; raises NoData or ValueError."""
    rows = ok_rows(runs)
    return value(check.lhs, rows), value(check.rhs, rows)


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


__all__ = ["parse_check", "validate_test", "evaluate_claim", "evaluate_claims", "format_results",
           "ClaimResult", "Check", "Agg", "Group", "Const", "Filter", "NoData", "compare",
           "aggregate", "tokenize", "AGGREGATES", "OUTERS", "COMPARISONS", "FILTER_OPS", "TESTS"]
