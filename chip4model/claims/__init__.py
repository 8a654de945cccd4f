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

The package:

- :mod:`~chip4model.claims.syntax`: the syntax tree, tokenizer and parser of a check, and
  the validation of a check against a test
- :mod:`~chip4model.claims.evaluate`: selecting runs, aggregating and comparing: the value
  of each side of a check
- :mod:`~chip4model.claims.stats`: the one-sided tests over replications (paired, Welch,
  one-sample t)
- :mod:`~chip4model.claims.verdict`: a claim's PASS/FAIL with its detail line
"""

from .evaluate import NoData, aggregate, compare
from .syntax import (
    AGGREGATES,
    COMPARISONS,
    FILTER_OPS,
    OUTERS,
    TESTS,
    Agg,
    Check,
    Const,
    Filter,
    Group,
    parse_check,
    tokenize,
    validate_test,
)
from .verdict import ClaimResult, evaluate_claim, evaluate_claims, format_results

__all__ = ["parse_check", "validate_test", "evaluate_claim", "evaluate_claims", "format_results",
           "ClaimResult", "Check", "Agg", "Group", "Const", "Filter", "NoData", "compare",
           "aggregate", "tokenize", "AGGREGATES", "OUTERS", "COMPARISONS", "FILTER_OPS", "TESTS"]
