"""Bad input: exit code 2, one line on stderr naming file, field and what is allowed, no output."""

from __future__ import annotations

from pathlib import Path

import pytest

SHOCK_TYPES = ("import_ban", "export_restriction", "firm_sanction", "consumer_boycott",
               "disruption")

# (id, scenario file text or None, command arguments after the scenario, file name to name,
#  words the error line must contain)
CASES = [
    ("unknown-top-level-key", 'name = "x"\nfoo = 1\n', [], "bad.toml",
     ["foo", "unknown key", "allowed", "shocks", "rules"]),
    ("unknown-shock-type", '[[shocks]]\ntype = "nuke"\nintensity = 0.5\n', [], "bad.toml",
     ["shocks[0]", "nuke", *SHOCK_TYPES]),
    ("unknown-country-code",
     '[[shocks]]\ntype = "consumer_boycott"\ntarget = "KRR"\nintensity = 0.5\n', [],
     "bad.toml", ["shocks[0]", "target", "KRR", "allowed", "KOR", "USA", "JPN", "TWN"]),
    ("unknown-country-table", "[countries.XXX]\nthreat_perception = 0.1\n", [], "bad.toml",
     ["countries", "XXX", "allowed", "KOR"]),
    ("unknown-rule-via-option", None, ["thaad-2017", "--rule", "bogus"], "thaad-2017",
     ["--rule", "bogus", "allowed", "market_absorption", "input_sharing",
      "counter_retaliation", "compensation_fund", "none"]),
    ("unknown-rule-in-file", '[[rules]]\ntype = "treaty"\n', [], "bad.toml",
     ["rules[0]", "treaty", "market_absorption", "compensation_fund"]),
    ("rule-none-combined", None, ["thaad-2017", "--rule", "none", "--rule",
                                  "market_absorption"], "thaad-2017", ["--rule", "none"]),
    ("unknown-segment-in-shock",
     '[[shocks]]\ntype = "import_ban"\ntarget = "KOR"\nsegments = ["potatoes"]\n'
     'intensity = 0.5\n', [], "bad.toml",
     ["shocks[0].segments", "potatoes", "allowed", "memory"]),
    ("unknown-input-in-shock",
     '[[shocks]]\ntype = "export_restriction"\ntargets = ["KOR"]\ninputs = ["unobtainium"]\n'
     'intensity = 0.5\n', [], "bad.toml", ["shocks[0].inputs", "unobtainium", "allowed"]),
    ("unknown-firm", '[[shocks]]\ntype = "firm_sanction"\nfirm = "Acme"\nintensity = 0.5\n', [],
     "bad.toml", ["shocks[0].firm", "Acme", "allowed", "ASML"]),
    ("unknown-firm-table", '[firms."Acme"]\ncompliance = 0.5\n', [], "bad.toml",
     ["firms", "Acme", "allowed"]),
    ("intensity-out-of-range",
     '[[shocks]]\ntype = "consumer_boycott"\ntarget = "KOR"\nintensity = 1.5\n', [],
     "bad.toml", ["shocks[0]", "intensity", "1.5", "less than or equal to 1"]),
    ("wrong-type-steps", 'steps = "many"\n', [], "bad.toml", ["steps", "many", "integer"]),
    ("unknown-rationing", 'rationing = "lottery"\n', [], "bad.toml",
     ["rationing", "lottery", "proportional", "domestic_first", "allied_first"]),
    ("disruption-without-target", '[[shocks]]\ntype = "disruption"\nintensity = 0.5\n', [],
     "bad.toml", ["shocks[0]", "nodes, country, segment or firm"]),
    ("malformed-toml", "steps = = 3\n[[\n", [], "bad.toml", ["toml", "not valid TOML", "line"]),
    ("missing-file", None, ["missing.toml"], "missing.toml", ["no such file"]),
    ("unknown-builtin", None, ["no-such-scenario"], "no-such-scenario",
     ["scenario", "allowed", "baseline", "thaad-2017", "kor-aligns-collective", ".toml"]),
    ("bad-set-syntax", None, ["thaad-2017", "--set", "china.resolve"], "thaad-2017",
     ["--set", "china.resolve", "KEY=VALUE"]),
    ("set-unknown-key", None, ["thaad-2017", "--set", "china.bogus=1"], "thaad-2017",
     ["china.bogus", "unknown key", "allowed", "resolve"]),
    ("set-unknown-section", None, ["thaad-2017", "--set", "foo.bar=1"], "thaad-2017",
     ["foo", "unknown key"]),
    ("set-unknown-list-item", None, ["thaad-2017", "--set", "shocks.9.intensity=1"],
     "thaad-2017", ["--set shocks.9.intensity", "allowed", "consumer_boycott"]),
    ("set-out-of-range", None, ["thaad-2017", "--set", "china.resolve=2"], "thaad-2017",
     ["china.resolve", "less than or equal to 1"]),
    ("steps-zero", None, ["thaad-2017", "--steps", "0"], "--steps", ["0", "1 to 5200"]),
]


def _args(tmp_path: Path, write_scenario, text, extra):
    if text is not None:
        path = write_scenario(text, "bad.toml")
        return [path, *extra]
    if extra and extra[0] == "missing.toml":
        return [tmp_path / "missing.toml", *extra[1:]]
    return list(extra)


def _assert_one_clean_line(r, name: str, words) -> str:
    assert r.rc == 2, (r.rc, r.out, r.err)
    assert "Traceback" not in r.err
    assert len(r.err_lines) == 1, r.err
    line = r.err_lines[0]
    assert line.startswith("chip4: error: ")
    assert name in line, line
    for w in words:
        assert w in line, f"{w!r} not in {line!r}"
    return line


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(run_cli, write_scenario, tmp_path, case):
    _, text, extra, name, words = case
    out = tmp_path / "out"
    args = ["run", *_args(tmp_path, write_scenario, text, extra), "--steps", "3", "--out", out]
    if "--steps" in extra:  # the case sets its own
        args = ["run", *_args(tmp_path, write_scenario, text, extra), "--out", out]
    r = run_cli(args)
    _assert_one_clean_line(r, name, words)
    assert r.out == ""
    assert not out.exists(), "--out must not be created on bad input"
    assert not list(tmp_path.glob(".chip4-*")), "no temporary output left behind"


@pytest.mark.parametrize("case", [c for c in CASES if c[1] is not None],
                         ids=[c[0] for c in CASES if c[1] is not None])
def test_validate_reports_the_same_errors(run_cli, write_scenario, tmp_path, case):
    _, text, _, name, words = case
    path = write_scenario(text, "bad.toml")
    r = run_cli(["validate", path])
    _assert_one_clean_line(r, name, words)


def test_validate_missing_file(run_cli, tmp_path):
    r = run_cli(["validate", tmp_path / "nothing.toml"])
    _assert_one_clean_line(r, "nothing.toml", ["no such file"])


def test_errors_through_the_console_script(run_chip4, tmp_path):
    (tmp_path / "bad.toml").write_text('[[shocks]]\ntype = "nuke"\nintensity = 0.5\n')
    r = run_chip4(["run", "bad.toml", "--out", "out"])
    _assert_one_clean_line(r, "bad.toml", ["shocks[0]", "nuke"])
    assert not (tmp_path / "out").exists()
    r = run_chip4(["run", "nosuch", "--out", "out"])
    _assert_one_clean_line(r, "nosuch", ["allowed", "thaad-2017"])


# --- regressions: bugs these tests found (fixed) ---------------------------------------------
@pytest.mark.parametrize("text,words", [
    ('[[rules]]\ntype = "market_absorption"\nfoo = 1\n', ["foo", "allowed", "commitment"]),
    ('[[shocks]]\ntype = "consumer_boycott"\ntarget = "KOR"\nintensity = 0.5\nfoo = 1\n',
     ["foo", "allowed", "intensity"]),
], ids=["rule", "shock"])
def test_unknown_key_inside_a_rule_or_shock_lists_allowed_keys(run_cli, write_scenario, text,
                                                                words):
    r = run_cli(["validate", write_scenario(text, "bad.toml")])
    _assert_one_clean_line(r, "bad.toml", words)


@pytest.mark.parametrize("setting", ["china.noise.x=1", "name.x=1", "shocks.0.segments.x=1"])
def test_set_through_a_scalar_is_a_clean_error(run_cli, setting, tmp_path):
    # was: TypeError / AttributeError traceback from scenario.set_path, exit 1
    r = run_cli(["run", "thaad-2017", "--steps", "2", "--set", setting, "--out",
                 tmp_path / "out"])
    _assert_one_clean_line(r, "thaad-2017", ["--set", setting.split("=")[0]])
    assert not (tmp_path / "out").exists()


def test_set_with_an_empty_key_is_a_syntax_error(run_cli):
    r = run_cli(["run", "thaad-2017", "--steps", "2", "--set", "=3"])
    _assert_one_clean_line(r, "thaad-2017", ["--set", "KEY=VALUE"])


# --- open bugs ---------------------------------------------------------------------------------
def test_out_that_is_an_existing_file_is_bad_input(run_cli, tmp_path):
    target = tmp_path / "taken"
    target.write_text("mine")
    r = run_cli(["run", "thaad-2017", "--steps", "2", "--out", target])
    _assert_one_clean_line(r, "taken", ["--out"])
    assert target.read_text() == "mine"
    assert not list(tmp_path.glob(".chip4-*"))


def test_negative_seed_is_bad_input(run_cli):
    r = run_cli(["run", "thaad-2017", "--steps", "2", "--seed", "-1"])
    _assert_one_clean_line(r, "--seed", ["-1"])
