"""Experiments: sampler sizes and matrices against SALib, seeds, bad files, design points."""

from __future__ import annotations

import numpy as np
import pytest
from SALib.sample import latin, morris, sobol

from chip4model.experiment import (
    apply_point,
    base_scenario,
    design,
    experiment_from_dict,
    rule_names,
    seeds_for,
)
from chip4model.scenario import load_scenario, scenario_from_dict

RULES = ["none", "market_absorption", "all"]


def make(**over) -> dict:
    """A small valid experiment (as a dict), with ``over`` replacing top-level keys."""
    data = {
        "name": "t",
        "steps": 20,
        "seed": 11,
        "metrics": ["absorption_ratio"],
        "factors": [
            {"name": "resolve", "set": ["china.resolve"], "range": [0.2, 0.9], "levels": 2},
            {"name": "escalation", "set": ["china.escalation"], "range": [0.0, 2.0],
             "levels": 2},
            {"name": "rules", "kind": "rules", "values": RULES},
        ],
    }
    data.update(over)
    return data


def salib_problem_by_hand() -> dict:
    # list factors are sampled as index ranges [0, number of values)
    return {"num_vars": 3, "names": ["resolve", "escalation", "rules"],
            "bounds": [[0.2, 0.9], [0.0, 2.0], [0.0, 3.0]]}


# --- 7. sampler sizes and matrices ----------------------------------------------------------
@pytest.mark.parametrize("second_order", [False, True])
def test_sobol_design_is_saltelli_sample(second_order):
    exp = experiment_from_dict(make(sampler={"method": "sobol", "n": 8,
                                             "second_order": second_order}))
    d = design(exp)
    k = 3
    assert len(d.points) == (8 * (2 * k + 2) if second_order else 8 * (k + 2))
    sampler_seed, _ = seeds_for(exp, 1)
    want = sobol.sample(salib_problem_by_hand(), 8, calc_second_order=second_order,
                        seed=sampler_seed)
    np.testing.assert_array_equal(d.unit, want)
    # (SALib adds its own keys to the problem, e.g. sample_scaled)
    assert {k: d.problem[k] for k in ("num_vars", "names", "bounds")} == salib_problem_by_hand()


def test_morris_design_is_salib_morris_sample():
    exp = experiment_from_dict(make(sampler={"method": "morris", "n": 5, "levels": 4}))
    d = design(exp)
    assert len(d.points) == 5 * (3 + 1)
    want = morris.sample(salib_problem_by_hand(), 5, num_levels=4, seed=seeds_for(exp, 1)[0])
    np.testing.assert_array_equal(d.unit, want)


def test_lhs_design_is_salib_latin_sample_and_points_follow_the_matrix():
    exp = experiment_from_dict(make(sampler={"method": "latin_hypercube", "n": 7}))
    d = design(exp)
    assert len(d.points) == 7
    want = latin.sample(salib_problem_by_hand(), 7, seed=seeds_for(exp, 1)[0])
    np.testing.assert_array_equal(d.unit, want)
    # numeric factors take the matrix's value, list factors the value at the index
    for row, point in zip(want, d.points, strict=True):
        assert point["resolve"] == pytest.approx(row[0])
        assert point["escalation"] == pytest.approx(row[1])
        assert point["rules"] == RULES[int(row[2])]


def test_sampler_seed_depends_on_experiment_seed():
    a = design(experiment_from_dict(make(seed=1, sampler={"method": "latin_hypercube", "n": 6})))
    b = design(experiment_from_dict(make(seed=2, sampler={"method": "latin_hypercube", "n": 6})))
    again = design(experiment_from_dict(make(seed=1, sampler={"method": "latin_hypercube",
                                                                "n": 6})))
    np.testing.assert_array_equal(a.unit, again.unit)
    assert not np.array_equal(a.unit, b.unit)


def test_full_factorial_is_the_product_of_levels():
    exp = experiment_from_dict(make(
        replications=3,
        factors=[{"name": "rules", "kind": "rules", "values": RULES},
                 {"name": "resolve", "set": ["china.resolve"], "range": [0.2, 0.8],
                  "levels": 4},
                 {"name": "target", "kind": "target", "values": ["KOR", "TWN"]}]))
    d = design(exp)
    assert len(d.points) == 3 * 4 * 2
    assert d.n_runs == 3 * 4 * 2 * 3
    assert d.unit is None
    combos = {(p["rules"], round(p["resolve"], 9), p["target"]) for p in d.points}
    assert len(combos) == len(d.points)
    assert sorted({p["resolve"] for p in d.points}) == pytest.approx([0.2, 0.4, 0.6, 0.8])


def test_quick_sizes_come_from_the_quick_table():
    quick = {"n": 4, "replications": 1, "steps": 10, "levels": 2}
    exp = experiment_from_dict(make(replications=5, quick=quick,
                                    sampler={"method": "sobol", "n": 16}))
    full, q = design(exp), design(exp, quick=True)
    assert len(full.points) == 16 * 5 and full.replications == 5 and full.steps == 20
    assert len(q.points) == 4 * 5 and q.replications == 1 and q.steps == 10
    want = sobol.sample(salib_problem_by_hand(), 4, calc_second_order=False,
                        seed=seeds_for(exp, 1)[0])
    np.testing.assert_array_equal(q.unit, want)
    assert base_scenario(exp, q.steps).steps == 10

    ff = experiment_from_dict(make(replications=3, quick=quick, factors=[
        {"name": "resolve", "set": ["china.resolve"], "range": [0.2, 0.8], "levels": 5},
        {"name": "rules", "kind": "rules", "values": RULES}]))
    assert len(design(ff).points) == 5 * 3
    assert len(design(ff, quick=True).points) == 2 * 3      # quick levels apply to ranges only
    assert design(ff, quick=True).n_runs == 2 * 3 * 1


# --- 8. seeds ----------------------------------------------------------------------------------
def test_replication_seeds_come_from_the_experiment_seed_by_seedsequence():
    exp = experiment_from_dict(make(seed=2026))
    sampler_seed, seeds = seeds_for(exp, 6)
    sampler_ss, reps_ss = np.random.SeedSequence(2026).spawn(2)
    assert sampler_seed == int(sampler_ss.generate_state(1, dtype=np.uint32)[0])
    assert seeds == [int(c.generate_state(1, dtype=np.uint32)[0]) for c in reps_ss.spawn(6)]
    assert len(set(seeds)) == 6 and sampler_seed not in seeds


def test_quick_replications_are_a_prefix_of_the_full_ones():
    exp = experiment_from_dict(make(replications=6, quick={"replications": 2}))
    full, q = design(exp), design(exp, quick=True)
    assert q.seeds == full.seeds[:2]
    assert seeds_for(exp, 3)[1] == seeds_for(exp, 9)[1][:3]
    # every point shares the replication seeds (common random numbers); run i -> point, rep
    for i in range(full.n_runs):
        values, p, r, seed = full.run(i)
        assert (p, r) == divmod(i, 6) and seed == full.seeds[r] and values is full.points[p]


def test_different_experiment_seed_gives_different_seeds():
    a = seeds_for(experiment_from_dict(make(seed=1)), 4)
    b = seeds_for(experiment_from_dict(make(seed=2)), 4)
    assert a != b
    assert not set(a[1]) & set(b[1])
    assert seeds_for(experiment_from_dict(make(seed=1)), 4) == a


# --- 9. bad files --------------------------------------------------------------------------------
HEAD = 'name = "bad"\nsteps = 20\nmetrics = ["absorption_ratio"]\n'
RESOLVE = '[[factors]]\nname = "resolve"\nset = ["china.resolve"]\n'
RULES_F = '[[factors]]\nname = "rules"\nkind = "rules"\n'

BAD = [
    # id, file text (None: no file), field, words the message must contain
    ("unknown-key", HEAD + "replicates = 3\n", "replicates",
     ["unknown key", "allowed:", "replications"]),
    ("unknown-factor-key", HEAD + RESOLVE + "valuez = [0.1]\n", "factors[0].valuez",
     ["unknown key", "allowed:", "values", "range"]),
    ("unknown-sampler", HEAD + RESOLVE + 'values = [0.1]\n[sampler]\nmethod = "sobel"\n',
     "sampler.method", ["'sobel'", "allowed:", "'sobol'", "'latin_hypercube'", "'morris'"]),
    ("values-and-range", HEAD + RESOLVE + "values = [0.1]\nrange = [0.1, 0.5]\n", "factors[0]",
     ["exactly one of 'values' or 'range'"]),
    ("range-low-not-below-high", HEAD + RESOLVE + "range = [0.5, 0.5]\nlevels = 3\n",
     "factors[0]", ["range low must be below high", "[0.5, 0.5]"]),
    ("unknown-metric", 'name = "bad"\nmetrics = ["absorbtion_ratio"]\n', "metrics[0]",
     ["unknown metric 'absorbtion_ratio'", "allowed:", "absorption_ratio"]),
    ("unknown-rule", HEAD + RULES_F + 'values = ["none", "market_absorbtion+input_sharing"]\n',
     "factors[0]", ["unknown rule 'market_absorbtion'", "allowed:", "market_absorption", "all"]),
    ("unknown-target", HEAD + '[[factors]]\nname = "t"\nkind = "target"\n'
     'values = ["KOR", "CHN"]\n', "factors[0]",
     ["unknown member 'CHN'", "allowed: JPN, KOR, TWN, USA"]),
    ("set-path-not-in-scenario", HEAD + '[[factors]]\nname = "r"\nset = ["china.resolv"]\n'
     "values = [0.5]\n", "factors[0] (r = 0.5)", ["china.resolv", "unknown key", "resolve"]),
    ("value-out-of-range", HEAD + RESOLVE + "values = [0.5, 1.5]\n", "factors[0] (resolve = 1.5)",
     ["china.resolve", "less than or equal to 1", "1.5"]),
    ("sobol-without-n", HEAD + RESOLVE + 'range = [0.1, 0.5]\n[sampler]\nmethod = "sobol"\n',
     "sampler", ["sobol sampler needs 'n'"]),
    ("duplicate-factor", HEAD + RESOLVE + "values = [0.5]\n" + RESOLVE + "values = [0.6]\n",
     "factors[1].name", ["'resolve' is used twice"]),
    ("factor-named-seed", HEAD + '[[factors]]\nname = "seed"\nset = ["china.resolve"]\n'
     "values = [0.5]\n", "factors[0].name", ["'seed' is reserved", "run_id"]),
    ("factor-named-as-metric", HEAD + '[[factors]]\nname = "absorption_ratio"\n'
     'set = ["china.resolve"]\nvalues = [0.5]\n', "factors[0].name", ["is also a metric"]),
    ("bad-toml", 'name = "bad\nsteps = 20\n', "toml", ["not valid TOML", "line 1"]),
    ("missing-file", None, "file", ["no such file"]),
    ("unknown-base-scenario", HEAD + 'scenario = "kor-aligns-colective"\n', "scenario",
     ["unknown scenario", "allowed:", "kor-aligns-collective"]),
    ("base-set-path", HEAD + 'set = ["china.resolv=0.3"]\n', "set",
     ["china.resolv", "unknown key", "resolve"]),
    ("range-without-levels", HEAD + RESOLVE + "range = [0.1, 0.5]\n", "factors[0].levels",
     ["needs levels", "allowed: 2 to 1000"]),
    ("unknown-timeseries", HEAD + 'timeseries = ["alignmnt"]\n', "timeseries[0]",
     ["unknown variable 'alignmnt'", "allowed:", "alignment"]),
    ("rule-path-unknown-rule", HEAD + RULES_F + 'values = ["none", "market_absorption"]\n'
     '[[factors]]\nname = "premium"\nset = ["rules.market_absorbtion.premium"]\n'
     "values = [0.2]\n", "factors[1].set", ["unknown rule 'market_absorbtion'", "allowed:",
                                            "market_absorption"]),
    ("rule-path-into-no-point", HEAD + RULES_F + 'values = ["none", "input_sharing"]\n'
     '[[factors]]\nname = "premium"\nset = ["rules.market_absorption.premium"]\n'
     "values = [0.2]\n", "factors[1].set", ["'market_absorption'", "no point of the design",
                                            "input_sharing"]),
    # valid while the first rules value ("none") skips the path, invalid once the rule is in
    ("rule-path-value-out-of-range", HEAD + RULES_F + 'values = ["none", "market_absorption"]\n'
     '[[factors]]\nname = "premium"\nset = ["rules.market_absorption.premium"]\n'
     "values = [0.2, 99.0]\n", "factors[1] (premium = 99.0, rules = 'market_absorption')",
     ["premium", "less than or equal to 5"]),
]


@pytest.mark.parametrize(("text", "field", "words"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_experiment_file_is_one_line_and_writes_nothing(run_cli, tmp_path, text, field,
                                                            words):
    f = tmp_path / "bad.toml"
    if text is not None:
        f.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    r = run_cli(["sweep", f, "--out", out, "--workers", "1", "--no-progress"])
    assert r.rc == 2, r.err
    assert r.out == ""
    assert len(r.err_lines) == 1, r.err
    line = r.err_lines[0]
    assert line.startswith(f"chip4: error: {f}: {field}: "), line
    for w in words:
        assert w in line, f"{w!r} not in {line!r}"
    assert not out.exists()


# --- 10. apply_point ---------------------------------------------------------------------------
def factors_of(*specs) -> list:
    data = make(factors=list(specs))
    return experiment_from_dict(data).factors


def test_rules_value_gives_exactly_those_rules_with_the_base_parameters():
    base = load_scenario("kor-aligns-collective")
    (f,) = factors_of({"name": "rules", "kind": "rules",
                       "values": ["market_absorption+compensation_fund", "none", "all"]})
    s = apply_point(base, [f], {"rules": "market_absorption+compensation_fund"})
    assert [r.type for r in s.rules] == ["market_absorption", "compensation_fund"]
    have = {r.type: r for r in base.rules}
    for r in s.rules:
        assert r.model_dump() == have[r.type].model_dump()
    assert s.rules[1].commitment == 0.3 and s.rules[1].delay == 12      # not the defaults
    assert apply_point(base, [f], {"rules": "none"}).rules == []
    assert [r.type for r in apply_point(base, [f], {"rules": "all"}).rules] == list(
        rule_names("all"))
    # everything but the rules is the base scenario's
    assert s.model_dump(exclude={"rules"}) == base.model_dump(exclude={"rules"})


def test_target_factor_moves_chinas_shocks_and_the_joining_event():
    base = scenario_from_dict({
        "name": "t", "steps": 20, "target": "KOR",
        "events": [{"type": "join_controls", "member": "KOR", "week": 4},
                   {"type": "join_controls", "member": "TWN", "week": 6},
                   {"type": "us_request", "member": "KOR", "week": 2}],
        "shocks": [
            {"type": "import_ban", "target": "KOR", "segments": ["memory"], "intensity": 0.5},
            {"type": "export_restriction", "targets": ["KOR", "TWN"], "inputs": ["neon"],
             "intensity": 0.3},
            {"type": "consumer_boycott", "target": "KOR", "intensity": 0.2},
            {"type": "import_ban", "issuer": "USA", "target": "KOR", "segments": ["memory"],
             "intensity": 0.1},
            {"type": "import_ban", "target": "TWN", "segments": ["memory"], "intensity": 0.4},
        ]})
    (f,) = factors_of({"name": "target", "kind": "target", "values": ["KOR", "JPN"]})
    s = apply_point(base, [f], {"target": "JPN"})
    assert s.target == "JPN"
    assert s.shocks[0].target == "JPN"
    assert s.shocks[1].targets == ["JPN", "TWN"]
    assert s.shocks[2].target == "JPN"
    assert s.shocks[3].target == "KOR"          # not China's shock: left alone
    assert s.shocks[4].target == "TWN"          # China's shock on another member: left alone
    assert [(e.type, e.member) for e in s.events] == [
        ("join_controls", "JPN"), ("join_controls", "TWN"), ("us_request", "KOR")]
    assert base.target == "KOR" and base.shocks[0].target == "KOR"     # base not modified


def test_set_path_into_a_rule_absent_from_the_point_is_skipped():
    base = load_scenario("kor-aligns-collective")
    rules, premium = factors_of(
        {"name": "rules", "kind": "rules", "values": ["none", "market_absorption"]},
        {"name": "premium", "set": ["rules.market_absorption.premium"], "values": [0.4, 0.6]})
    s = apply_point(base, [rules, premium], {"rules": "none", "premium": 0.6})
    assert s.rules == []
    s = apply_point(base, [rules, premium], {"rules": "market_absorption", "premium": 0.6})
    assert [r.type for r in s.rules] == ["market_absorption"] and s.rules[0].premium == 0.6
    # without a rules factor, the path moves the base scenario's rule and nothing else
    s = apply_point(base, [premium], {"premium": 0.4})
    assert s.rules[0].premium == 0.4
    assert [r.model_dump() for r in s.rules[1:]] == [r.model_dump() for r in base.rules[1:]]


def test_set_factor_moves_every_path_it_names():
    base = load_scenario("kor-aligns-collective")
    (f,) = factors_of({"name": "commit", "set": ["rules.input_sharing.commitment",
                                                 "rules.compensation_fund.commitment"],
                       "values": [0.9]})
    s = apply_point(base, [f], {"commit": np.float64(0.9)})
    by = {r.type: r for r in s.rules}
    assert by["input_sharing"].commitment == 0.9 and by["compensation_fund"].commitment == 0.9
    assert by["market_absorption"].commitment == 0.5
