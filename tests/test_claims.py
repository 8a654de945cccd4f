"""Claims: parsing, evaluation on tiny hand-made results tables, and the replication tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chip4model.claims import (
    Agg,
    Const,
    Filter,
    Group,
    compare,
    evaluate_claim,
    evaluate_claims,
    format_results,
    parse_check,
    tokenize,
)

NAN = float("nan")


@dataclass
class Spec:
    check: str
    claim: str = "a claim"
    tolerance: float = 0.0
    test: str | None = None
    alpha: float = 0.05


def table(rows: list[dict]) -> pd.DataFrame:
    """A results table: run columns filled in, status ok unless given."""
    df = pd.DataFrame(rows)
    df.insert(0, "run_id", np.arange(len(df), dtype="int64"))
    for col, default in (("point", 0), ("rep", 0), ("seed", 0)):
        if col not in df:
            df[col] = default
        df[col] = df[col].astype("int64")
    df["status"] = df["status"].fillna("ok") if "status" in df else "ok"
    df["error"] = np.where(df["status"] == "ok", "", "boom")
    return df


def two_rules(none: list[float], market: list[float]) -> pd.DataFrame:
    """Two design points (rules none / market_absorption), one run per replication each."""
    rows = [{"point": p, "rep": r, "seed": 100 + r, "rules": rules, "commitment": 0.5 * p,
             "shock_absorption": v}
            for p, (rules, vals) in enumerate((("none", none), ("market_absorption", market)))
            for r, v in enumerate(vals)]
    return table(rows)


CLAIM = "mean(shock_absorption | rules=market_absorption) > mean(shock_absorption | rules=none)"


def run(check: str, df: pd.DataFrame, **kw):
    return evaluate_claim(Spec(check, **kw), df)


# --- parsing ---------------------------------------------------------------------------------
def test_tokens_keep_positions_and_quoted_text():
    toks = tokenize("mean(`a b`|x>=-1.5e2)")
    assert [(t.kind, t.text) for t in toks] == [
        ("word", "mean"), ("punct", "("), ("str", "a b"), ("punct", "|"), ("word", "x"),
        ("op", ">="), ("num", "-1.5e2"), ("punct", ")"), ("end", "")]
    assert [t.pos for t in toks[:5]] == [0, 4, 5, 10, 11]


def test_parse_aggregate_with_filters():
    c = parse_check("mean(KOR.net_loss_pct | rules=none, commitment>=0.5, rep!=3) < 2.5")
    assert c.lhs == Agg("mean", "KOR.net_loss_pct", (
        Filter("rules", "=", "none"), Filter("commitment", ">=", "0.5"), Filter("rep", "!=", "3")))
    assert c.op == "<"
    assert isinstance(c.rhs, Const) and c.rhs.value == 2.5


@pytest.mark.parametrize("func", ["mean", "median", "min", "max", "std", "share", "count"])
def test_parse_every_aggregate(func):
    c = parse_check(f"{func}(deterred) >= 0")
    assert c.lhs == Agg(func, "deterred")


@pytest.mark.parametrize("outer", ["max", "min", "mean", "argmax", "argmin"])
def test_parse_group_terms(outer):
    rhs = "KOR" if outer.startswith("arg") else "1"
    c = parse_check(f"{outer}(median(target.net_loss_pct | rules=all) by target, delay) == {rhs}")
    assert c.lhs == Group(outer, Agg("median", "target.net_loss_pct",
                                     (Filter("rules", "=", "all"),)), ("target", "delay"))


@pytest.mark.parametrize("quoted", ['"firms.SK Hynix.revenue_loss_pct"',
                                    "'firms.SK Hynix.revenue_loss_pct'",
                                    "`firms.SK Hynix.revenue_loss_pct`"])
def test_names_with_spaces_are_quoted(quoted):
    c = parse_check(f"max({quoted} | rules='market_absorption+compensation_fund') > 0",
                    metrics=["firms.SK Hynix.revenue_loss_pct"])
    assert c.lhs.metric == "firms.SK Hynix.revenue_loss_pct"
    assert c.lhs.filters[0].value == "market_absorption+compensation_fund"
    assert str(c) == ("max(`firms.SK Hynix.revenue_loss_pct` | "
                      "rules=market_absorption+compensation_fund) > 0")


def test_dots_colons_and_rule_combinations_are_bare_words():
    c = parse_check("mean(supplier_share:TWN | rules=market_absorption+compensation_fund) > 0")
    assert c.lhs.metric == "supplier_share:TWN"
    assert c.lhs.filters[0].value == "market_absorption+compensation_fund"


def test_double_equals_in_a_filter_means_equals():
    assert parse_check("mean(x | a==1) > 0").lhs.filters == (Filter("a", "=", "1"),)


def test_label_comparisons_parse():
    for rhs in ("KOR", '"KOR"', "0.5"):
        c = parse_check(f"argmin(mean(x) by target) != {rhs}")
        assert c.op == "!="


def test_names_are_validated_against_the_lists():
    c = parse_check("max(mean(x | rep<2, deterred=1, rules=none) by rules, point) > 0",
                    metrics=["x", "deterred"], factors=["rules"])
    assert c.metrics == ["x"]


# --- parse errors ------------------------------------------------------------------------------
def error_of(text, **kw) -> str:
    with pytest.raises(ValueError) as exc:
        parse_check(text, **kw)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_unknown_metric_names_position_suggestion_and_allowed():
    msg = error_of("mean(absorbtion_ratio) > 0", metrics=["absorption_ratio", "deterred"])
    assert msg == ("unknown metric 'absorbtion_ratio' at position 6 (did you mean "
                   "'absorption_ratio'? allowed: absorption_ratio, deterred)")


def test_unknown_factor_in_by():
    msg = error_of("max(mean(x) by rule) > 0", metrics=["x"], factors=["rules", "delay"])
    assert msg.startswith("unknown factor 'rule' in 'by' at position 16 (did you mean 'rules'?")
    assert "allowed: delay, point, rep, rules, run_id, seed" in msg


def test_unknown_filter_column():
    msg = error_of("mean(x | rule=none) > 0", metrics=["x"], factors=["rules"])
    assert msg.startswith("unknown column 'rule' in filter at position 10")


@pytest.mark.parametrize(("text", "expected"), [
    ("mean(x | rules=none > 0", "expected ')' at position 21, found '>'"),
    ("mean(x", "expected ')' at end of check"),
    ("avg(x) > 0", "unknown function 'avg' (allowed: argmax, argmin, count, max, mean, median, "
                   "min, share, std) at position 1"),
    ("mean(x) = 0", "expected a comparison (>, >=, <, <=, ==, !=) (use '==' for equality) at "
                    "position 9"),
    ("mean(x) > 0 1", "unexpected text after the check at position 13, found '1'"),
    ('mean("x) > 0', "unterminated string starting at position 6"),
    ("mean(x) > 0 ;", "unexpected ';' at position 13"),
    ("x > 0", "'x' at position 1 is text, not a number; to use a metric, aggregate it, "
              "e.g. mean(x)"),
    ("1 > 0", "not two constants"),
    ("argmax(mean(x) by t) > KOR", "'>' cannot order argmax/argmin labels (allowed: ==, !=)"),
    ("argmax(mean(x) by t) == mean(x)", "not with a number-valued term"),
    ("argmax(x) == KOR", "argmax(...) needs an aggregate and 'by'"),
    ("std(mean(x) by t) > 0", "'std' cannot take a 'by' term (allowed: max, min, mean, argmax"),
    ("max(mean(x)) > 0", "expected 'by' at position 12, found ')'"),
    ("mean(x | 3) > 0", "expected a column name at position 10, found '3'"),
    ("mean(x | a) > 0", "expected a filter operator (=, !=, <, <=, >, >=) after 'a'"),
    ('mean("") > 0', "empty metric name at position 6"),
    ("> 0", "expected a number, a word or a term such as mean(metric) at position 1"),
])
def test_syntax_errors_say_what_and_where(text, expected):
    assert expected in error_of(text)


@pytest.mark.parametrize(("text", "test", "expected"), [
    ("mean(x | a=1) == mean(x | a=2)", "paired", "a 'paired' test needs one of >, >=, <, <="),
    ("mean(x) > 0", "paired", "a 'paired' test needs an aggregate term on both sides"),
    ("max(mean(x) by a) > mean(x)", "welch", "a 'welch' test needs an aggregate term on both"),
    ("median(x | a=1) > median(x | a=2)", "welch", "both sides must be mean(...) or share"),
    ("mean(x | a=1) > mean(x | a=2)", "one_sample", "needs one aggregate term (no 'by') and one"),
    ("mean(x) > 0", "t_test", "unknown test 't_test' (allowed: paired, welch, one_sample)"),
])
def test_test_validation(text, test, expected):
    assert expected in error_of(text, test=test)


def test_valid_tests_parse():
    parse_check("mean(x | a=1) > mean(x | a=2)", test="paired")
    parse_check("share(x | a=1) <= mean(x | a=2)", test="welch")
    parse_check("0.2 < median(x)", test="one_sample")


# --- comparisons and tolerance -----------------------------------------------------------------
@pytest.mark.parametrize(("a", "op", "b", "tol", "expected"), [
    (1.0, ">", 1.0, 0.0, False), (1.0, ">", 1.05, 0.1, True), (1.0, ">", 1.2, 0.1, False),
    (1.0, ">=", 1.0, 0.0, True), (0.95, ">=", 1.0, 0.1, True), (0.8, ">=", 1.0, 0.1, False),
    (1.0, "<", 1.0, 0.0, False), (1.05, "<", 1.0, 0.1, True), (1.2, "<", 1.0, 0.1, False),
    (1.0, "<=", 1.0, 0.0, True), (1.05, "<=", 1.0, 0.1, True), (1.2, "<=", 1.0, 0.1, False),
    (1.0, "==", 1.0, 0.0, True), (1.05, "==", 1.0, 0.1, True), (1.2, "==", 1.0, 0.1, False),
    (1.0, "!=", 1.0, 0.0, False), (1.05, "!=", 1.0, 0.1, False), (1.2, "!=", 1.0, 0.1, True),
])
def test_every_comparison_with_tolerance(a, op, b, tol, expected):
    assert compare(a, op, b, tol) is expected
    df = table([{"x": a}])
    r = run(f"mean(x) {op} {b}", df, tolerance=tol)
    assert r.passed is expected
    assert r.lhs == a and r.rhs == b
    assert ("holds" if expected else "does not hold") in r.detail
    assert ("tolerance" in r.detail) == (tol > 0)


# --- aggregates and filters --------------------------------------------------------------------
def test_aggregates_on_a_tiny_table():
    df = table([{"x": 1.0}, {"x": 0.0}, {"x": 4.0}, {"x": NAN}, {"x": 3.0}])
    expected = {"mean": 2.0, "median": 2.0, "min": 0.0, "max": 4.0, "share": 0.75, "count": 4.0,
                "std": float(np.std([1, 0, 4, 3], ddof=1))}
    for func, want in expected.items():
        r = run(f"{func}(x) == {want!r}", df)
        assert r.lhs == pytest.approx(want), func
        assert r.passed, (func, r.detail)


def test_error_rows_are_ignored():
    df = table([{"x": 1.0}, {"x": 3.0}, {"x": 1000.0, "status": "error"}])
    r = run("max(x) == 3", df)
    assert r.passed and r.lhs == 3.0


def test_filters_on_numeric_columns_use_a_tolerance_for_equality():
    df = table([{"commitment": 0.1 + 0.2, "x": 1.0}, {"commitment": 0.5, "x": 5.0},
                {"commitment": 0.7, "x": 7.0}, {"commitment": NAN, "x": 100.0}])
    assert run("mean(x | commitment=0.3) == 1", df).passed
    assert run("mean(x | commitment!=0.3) == 6", df).passed       # NaN never matches
    assert run("mean(x | commitment<0.5) == 1", df).passed
    assert run("mean(x | commitment<=0.5) == 3", df).passed
    assert run("mean(x | commitment>0.3) == 6", df).passed
    r = run("mean(x | commitment>=0.3) > 4.33", df)
    assert r.passed and r.lhs == pytest.approx(13 / 3)


def test_filters_on_string_and_run_columns():
    df = two_rules([0.1, 0.2, 0.3], [0.4, 0.6, 0.8])
    assert run("mean(shock_absorption | rules=market_absorption) == 0.6", df).passed
    assert run("mean(shock_absorption | rules!=none, rep<=1) == 0.5", df).passed
    assert run("count(shock_absorption | rules=none, rep>0) == 2", df).passed
    assert run("max(shock_absorption | rules='none') == 0.3", df).passed


def test_ordering_filter_on_text_column_fails_with_detail():
    r = run("mean(shock_absorption | rules>none) > 0", two_rules([1.0], [2.0]))
    assert not r.passed
    assert r.detail == ("cannot evaluate: filter rules>none: 'rules' holds text, "
                        "so only = and != apply")


def test_word_value_on_numeric_column_fails_with_detail():
    r = run("mean(shock_absorption | commitment=high) > 0", two_rules([1.0], [2.0]))
    assert not r.passed and "'commitment' holds numbers but 'high' is not a number" in r.detail


def test_quoted_metric_with_spaces_evaluates():
    df = table([{"firms.SK Hynix.revenue_loss_pct": 2.0}, {"firms.SK Hynix.revenue_loss_pct": 4.0}])
    r = run("mean('firms.SK Hynix.revenue_loss_pct') == 3", df)
    assert r.passed and r.lhs == 3.0


# --- no data -----------------------------------------------------------------------------------
def test_misspelt_filter_value_fails_and_lists_the_values():
    r = run(CLAIM.replace("=market_absorption", "=market_absorptio"), two_rules([1.0], [2.0]))
    assert not r.passed and r.lhs is None
    assert r.detail == ("no data: no run matches rules=market_absorptio "
                        "(rules values: market_absorption, none)")


def test_filters_that_match_nothing_together():
    r = run("mean(shock_absorption | rules=none, commitment=0.5) > 0", two_rules([1.0], [2.0]))
    assert r.detail == "no data: no run matches rules=none, commitment=0.5 together"


def test_all_nan_metric_fails():
    r = run("mean(x) > 0", table([{"x": NAN}, {"x": NAN}]))
    assert not r.passed and r.detail == "no data: x is missing (NaN) in all 2 matching runs"
    assert run("count(x) == 0", table([{"x": NAN}])).passed      # count of nothing is 0


def test_missing_metric_column_and_all_error_runs_fail():
    r = run("mean(y) > 0", table([{"x": 1.0}]))
    assert not r.passed and r.detail == "no data: column 'y' is not in the results"
    r = run("mean(x) > 0", table([{"x": 1.0, "status": "error"}]))
    assert not r.passed
    assert r.detail == "no data: no successful runs (none of the 1 runs has status ok)"
    r = run("mean(x) > 0", table([{"x": 1.0}]).iloc[:0])
    assert not r.passed and r.detail.startswith("no data")


def test_std_of_one_value_is_no_data():
    r = run("std(x) >= 0", table([{"x": 1.0}]))
    assert not r.passed and "needs at least 2 values" in r.detail


def test_invalid_check_fails_instead_of_raising():
    r = run("mean(x > 0", table([{"x": 1.0}]))
    assert not r.passed and r.detail.startswith("invalid check: expected ')'")


# --- group terms -------------------------------------------------------------------------------
def targets() -> pd.DataFrame:
    """Mean loss by target: USA 1, KOR 3, JPN 2; by (target, commitment) KOR/0.5 is largest."""
    loss = {("USA", 0.0): 1.0, ("USA", 0.5): 1.0, ("KOR", 0.0): 2.0, ("KOR", 0.5): 4.0,
            ("JPN", 0.0): 2.5, ("JPN", 0.5): 1.5}
    return table([{"target": t, "commitment": c, "target.net_loss_pct": v, "rep": r}
                  for (t, c), v in loss.items() for r in range(2)])


def test_outer_max_min_mean_over_groups():
    df = targets()
    assert run("max(mean(target.net_loss_pct) by target) == 3", df).passed
    assert run("min(mean(target.net_loss_pct) by target) == 1", df).passed
    assert run("mean(mean(target.net_loss_pct) by target) == 2", df).passed
    assert run("max(mean(target.net_loss_pct | target!=KOR) by target) == 2", df).passed


def test_argmax_and_argmin_labels():
    df = targets()
    r = run("argmax(mean(target.net_loss_pct) by target) == KOR", df)
    assert r.passed and r.lhs == "KOR" and r.detail == "KOR == KOR holds"
    assert not run("argmax(mean(target.net_loss_pct) by target) == JPN", df).passed
    assert run("argmin(mean(target.net_loss_pct) by target) != KOR", df).passed
    r = run("argmax(mean(target.net_loss_pct) by target, commitment) == 'KOR, 0.5'", df)
    assert r.passed and r.lhs == "KOR, 0.5"
    r = run("argmax(mean(target.net_loss_pct | target=KOR) by commitment) == 0.5", df)
    assert r.passed and r.detail == "0.5 == 0.5 holds"
    assert run("argmin(mean(target.net_loss_pct | target=KOR) by commitment) == 0", df).passed


def test_groups_without_data_are_skipped():
    df = table([{"target": "KOR", "x": NAN}, {"target": "JPN", "x": 1.0}])
    assert run("argmax(mean(x) by target) == JPN", df).passed
    r = run("max(mean(x) by target) > 0", table([{"target": "KOR", "x": NAN}]))
    assert not r.passed and r.detail.startswith("no data")


# --- tests over replications -------------------------------------------------------------------
NONE = [0.10, 0.20, 0.30, 0.40, 0.35, 0.15]
MARKET = [0.30, 0.45, 0.50, 0.65, 0.52, 0.41]          # always higher, by 0.17 to 0.26


def test_paired_test_passes_on_a_clear_effect_with_scipys_p():
    r = run(CLAIM, two_rules(NONE, MARKET), test="paired")
    p = stats.ttest_rel(MARKET, NONE, alternative="greater").pvalue
    assert r.passed and r.p_value == pytest.approx(p) and p < 0.001
    assert r.detail.startswith("0.472 > 0.250 holds (paired t over 6 replications, p = ")
    assert r.detail.endswith("< 0.05)")


def test_paired_test_fails_when_the_effect_is_reversed():
    r = run(CLAIM, two_rules(MARKET, NONE), test="paired")
    assert not r.passed and r.p_value > 0.99 and "does not hold" in r.detail


def test_paired_test_fails_when_the_effect_is_noise():
    noisy = [v + d for v, d in zip(NONE, [0.3, -0.25, 0.2, -0.2, 0.1, -0.1], strict=True)]
    r = run(CLAIM, two_rules(NONE, noisy), test="paired")
    p = stats.ttest_rel(noisy, NONE, alternative="greater").pvalue
    assert r.p_value == pytest.approx(p) and p > 0.05
    assert not r.passed and "holds but is not significant" in r.detail and ">= 0.05" in r.detail


def test_paired_test_pairs_by_replication():
    # the market side's runs listed in reverse order: pairing must go by rep, not row order
    df = two_rules(NONE, MARKET)
    df = pd.concat([df[df.rules == "none"], df[df.rules != "none"].iloc[::-1]])
    r = run(CLAIM, df, test="paired")
    assert r.p_value == pytest.approx(stats.ttest_rel(MARKET, NONE, alternative="greater").pvalue)
    # a replication present on one side only is left out
    extra = table([{"rules": "market_absorption", "rep": 9, "shock_absorption": 9.0,
                    "commitment": 0.5}])
    r = run(CLAIM, pd.concat([df, extra]), test="paired")
    assert "paired t over 6 replications" in r.detail


def test_paired_test_with_constant_difference():
    df = two_rules([0.1, 0.2, 0.3], [0.3, 0.4, 0.5])           # every difference 0.2
    r = run(CLAIM, df, test="paired")
    assert r.passed and r.p_value == 0.0 and "constant difference, p = 0 < 0.05" in r.detail
    same = run(CLAIM.replace(">", ">="), two_rules([0.1, 0.2], [0.1, 0.2]), test="paired")
    assert not same.passed and same.p_value == 1.0                 # 0 >= 0 holds, not shown
    assert "holds but is not significant" in same.detail
    tol = run(CLAIM, two_rules([0.1, 0.2], [0.1, 0.2]), test="paired", tolerance=0.01)
    assert tol.passed and tol.p_value == 0.0                       # within the margin


def test_paired_test_needs_two_replications():
    r = run(CLAIM, two_rules([0.1], [0.3]), test="paired")
    assert not r.passed and r.lhs == pytest.approx(0.3)
    assert r.detail == ("0.300 > 0.100 holds, but the paired test needs at least 2 "
                        "replications present on both sides, got 1")


def test_paired_test_on_rule_text_less_than():
    check = CLAIM.replace(">", "<")
    r = run(check, two_rules(MARKET, NONE), test="paired")
    assert r.passed and r.p_value == pytest.approx(
        stats.ttest_rel(NONE, MARKET, alternative="less").pvalue)


def test_welch_test_uses_per_run_values():
    r = run(CLAIM, two_rules(NONE, MARKET), test="welch")
    p = stats.ttest_ind(MARKET, NONE, equal_var=False, alternative="greater").pvalue
    assert r.passed and r.p_value == pytest.approx(p) and "Welch t, 6 vs 6 runs" in r.detail
    r = run(CLAIM, two_rules(MARKET, NONE), test="welch")
    assert not r.passed


def test_one_sample_test_against_a_number_on_either_side():
    df = two_rules(NONE, MARKET)
    r = run("mean(shock_absorption | rules=market_absorption) > 0.3", df, test="one_sample")
    p = stats.ttest_1samp(MARKET, 0.3, alternative="greater").pvalue
    assert r.passed and r.p_value == pytest.approx(p)
    assert "one-sample t over 6 replications" in r.detail
    flipped = run("0.3 < mean(shock_absorption | rules=market_absorption)", df,
                  test="one_sample")
    assert flipped.passed and flipped.p_value == pytest.approx(p)
    r = run("mean(shock_absorption | rules=market_absorption) > 0.45", df, test="one_sample")
    assert not r.passed            # mean 0.472 > 0.45 holds, but not significantly


# --- several claims and the report lines -------------------------------------------------------
def test_evaluate_claims_with_experiment_claimspecs_and_format():
    from chip4model.experiment import ClaimSpec

    specs = [ClaimSpec(claim="Market absorption helps", check=CLAIM, test="paired"),
             ClaimSpec(claim="No rules help more", check=CLAIM.replace(">", "<"))]
    results = evaluate_claims(specs, two_rules(NONE, MARKET))
    assert [r.passed for r in results] == [True, False]
    text = format_results(results)
    lines = text.splitlines()
    assert lines[0] == "PASS  Market absorption helps"
    assert lines[1].startswith("      0.472 > 0.250 holds (paired t over 6 replications")
    assert lines[2:] == ["FAIL  No rules help more", "      0.472 < 0.250 does not hold"]
