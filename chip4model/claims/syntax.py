"""The syntax of a check: its tree, tokenizer and parser, and the checks of its validity.

:func:`parse_check` turns a check's text into a :class:`Check` (sides :class:`Const`,
:class:`Agg` or :class:`Group`), with one-line errors that name the position and, for an
unknown name, the closest known one. :func:`validate_test` says whether a test over
replications suits a check. The grammar is in :mod:`chip4model.claims`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..errors import allowed

AGGREGATES = ("mean", "median", "min", "max", "std", "share", "count")
OUTERS = ("max", "min", "mean", "argmax", "argmin")
COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
FILTER_OPS = ("=", "!=", "<", "<=", ">", ">=")
TESTS = ("paired", "welch", "one_sample")
RUN_COLUMNS = ("run_id", "point", "rep", "seed")
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
