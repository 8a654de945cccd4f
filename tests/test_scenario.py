"""Scenarios: the built-ins load and validate; overrides (--rule, --set) do what they say."""

from __future__ import annotations

import json

import pytest
import tomli_w

from chip4model import Chip4Model, InputError, load_scenario
from chip4model.model import compiled_graph
from chip4model.runner import prepare
from chip4model.scenario import (
    RULE_TYPES,
    apply_sets,
    builtin_dir,
    builtin_names,
    check_against_graph,
    scenario_from_dict,
)

BUILTINS = ("baseline", "critical-minerals", "japan-2019", "kor-aligns", "kor-aligns-collective",
            "thaad-2017")


def test_the_six_builtins_are_shipped():
    assert tuple(builtin_names()) == BUILTINS
    for name in BUILTINS:
        assert (builtin_dir() / f"{name}.toml").is_file()


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads_and_validates_against_the_graph(name):
    s = load_scenario(name)
    assert s.name == name
    assert s.description
    assert 1 <= s.steps <= 5200
    check_against_graph(s, compiled_graph(s.graph))
    m = Chip4Model(s, collect=False)
    m.step()
    assert m.week == 1


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads_the_same_by_name_and_by_path(name):
    by_name = load_scenario(name)
    by_path = load_scenario(builtin_dir() / f"{name}.toml")
    assert by_name.to_dict() == by_path.to_dict()


@pytest.mark.parametrize("name", BUILTINS)
def test_chip4_validate_accepts_each_builtin(run_cli, name):
    path = builtin_dir() / f"{name}.toml"
    r = run_cli(["validate", path])
    assert r.rc == 0, r.err
    assert r.out.startswith(f"OK {path}: scenario '{name}'")
    assert r.err == ""


def test_chip4_validate_accepts_several_files_at_once(run_cli):
    paths = [builtin_dir() / f"{n}.toml" for n in BUILTINS]
    r = run_cli(["validate", *paths])
    assert r.rc == 0
    assert len(r.out.splitlines()) == len(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_scenario_dict_round_trip(name, write_scenario):
    s = load_scenario(name)
    again = scenario_from_dict(s.to_dict(), "x")
    assert again.to_dict() == s.to_dict()
    path = write_scenario(s.to_dict(), f"{name}-copy.toml")
    assert load_scenario(path).to_dict() == s.to_dict()


# --- errors from scenario_from_dict --------------------------------------------------------------
BAD_DICTS = [
    ({"foo": 1}, "foo", ["unknown key", "allowed"]),
    ({"steps": "many"}, "steps", ["integer"]),
    ({"steps": 0}, "steps", ["greater than or equal to 1"]),
    ({"rationing": "random"}, "rationing", ["proportional", "domestic_first", "allied_first"]),
    ({"target": "CHN"}, "target", ["KOR", "USA"]),
    ({"china": {"resolve": 2}}, "china.resolve", ["less than or equal to 1"]),
    ({"china": {"colour": "red"}}, "china.colour", ["resolve"]),
    ({"countries": {"KOR": {"mood": 1}}}, "countries.KOR.mood", ["threat_perception"]),
    ({"shocks": [{"type": "nuke", "intensity": 0.5}]}, "shocks[0]", ["nuke", "import_ban"]),
    ({"shocks": [{"type": "consumer_boycott", "target": "KRR", "intensity": 0.5}]},
     "target", ["KRR", "KOR"]),
    ({"shocks": [{"type": "consumer_boycott", "target": "KOR", "intensity": 1.5}]},
     "intensity", ["1.5"]),
    ({"shocks": [{"type": "import_ban", "target": "KOR", "segments": [], "intensity": 0.5}]},
     "segments", []),
    ({"rules": [{"type": "treaty"}]}, "rules[0]", ["treaty", "market_absorption"]),
    ({"rules": [{"type": "market_absorption", "delay": -1}]}, "delay", []),
    ({"events": [{"type": "join_controls", "week": 1, "member": "CHN"}]}, "member", ["KOR"]),
]


@pytest.mark.parametrize("data,field,words", BAD_DICTS,
                         ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD_DICTS)])
def test_bad_scenario_dict_names_the_field(data, field, words):
    with pytest.raises(InputError) as ei:
        scenario_from_dict(data, "mine.toml")
    exc = ei.value
    assert exc.source == "mine.toml"
    assert field in exc.field, (exc.field, str(exc))
    msg = str(exc)
    assert msg.startswith("mine.toml: ")
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("shock,field,word", [
    ({"type": "import_ban", "target": "KOR", "segments": ["potatoes"]}, "shocks[0].segments",
     "potatoes"),
    ({"type": "export_restriction", "targets": ["KOR"], "inputs": ["unobtainium"]},
     "shocks[0].inputs", "unobtainium"),
    ({"type": "firm_sanction", "firm": "Acme"}, "shocks[0].firm", "Acme"),
    ({"type": "disruption", "nodes": ["nowhere"]}, "shocks[0].nodes", "nowhere"),
    ({"type": "disruption", "segment": "potatoes"}, "shocks[0].segment", "potatoes"),
    ({"type": "disruption"}, "shocks[0]", "disruption needs"),
])
def test_names_unknown_to_the_graph_are_rejected(shock, field, word):
    s = scenario_from_dict({"shocks": [shock | {"intensity": 0.5}]}, "g.toml")
    with pytest.raises(InputError) as ei:
        check_against_graph(s, compiled_graph(None))
    assert ei.value.field == field
    assert word in str(ei.value)
    with pytest.raises(InputError):
        Chip4Model(s)


def test_unknown_firm_table_is_rejected():
    s = scenario_from_dict({"firms": {"Acme": {"compliance": 0.5}}}, "g.toml")
    with pytest.raises(InputError) as ei:
        check_against_graph(s, compiled_graph(None))
    assert ei.value.field == "firms" and "Acme" in str(ei.value)


# --- --rule and --set --------------------------------------------------------------------------
def test_with_rules_none_removes_every_rule():
    s = load_scenario("kor-aligns-collective")
    assert s.rules
    assert s.with_rules(["none"]).rules == []
    assert s.without_rules().rules == []
    assert len(s.rules) == 4  # the original is untouched


def test_with_rules_keeps_the_scenarios_parameters_and_defaults_the_others():
    s = load_scenario("kor-aligns-collective")
    two = s.with_rules(["market_absorption", "counter_retaliation"])
    assert [r.type for r in two.rules] == ["market_absorption", "counter_retaliation"]
    cr = two.rules[1]
    assert (cr.delay, cr.credibility) == (12, 0.8)  # as in the file
    fresh = load_scenario("thaad-2017").with_rules(["counter_retaliation"])
    assert fresh.rules[0].delay == 8  # the default
    assert fresh.source == "thaad-2017.toml"


def test_with_rules_rejects_unknown_and_mixed_names():
    s = load_scenario("thaad-2017")
    with pytest.raises(InputError) as ei:
        s.with_rules(["bogus"])
    assert ei.value.field == "--rule"
    for r in (*RULE_TYPES, "none"):
        assert r in str(ei.value)
    with pytest.raises(InputError):
        s.with_rules(["none", "market_absorption"])


def test_apply_sets_overrides_and_revalidates():
    s = load_scenario("kor-aligns-collective")
    t = apply_sets(s, ["china.resolve=0.8", "rules.market_absorption.commitment=0.9",
                       "steps=12", 'rationing="allied_first"', "events.0.week=7"])
    assert t.china.resolve == 0.8
    assert t.rules[0].commitment == 0.9
    assert t.steps == 12 and t.rationing == "allied_first" and t.events[0].week == 7
    assert s.china.resolve is None and s.steps == 156  # original untouched
    assert t.source == s.source
    with pytest.raises(InputError) as ei:
        apply_sets(s, ["china.resolve=2"])
    assert ei.value.field == "china.resolve"


def test_apply_sets_on_shocks_by_index_and_by_type():
    s = load_scenario("thaad-2017")
    t = apply_sets(s, ["shocks.1.intensity=0.1", "shocks.consumer_boycott.onset=3"])
    assert t.shocks[1].intensity == 0.1
    assert t.shocks[0].onset == 3


def test_prepare_applies_rules_sets_and_steps_in_order():
    s = prepare("kor-aligns-collective", rules=["none"], sets=["china.resolve=0.3"], steps=9)
    assert s.rules == [] and s.china.resolve == 0.3 and s.steps == 9


def test_model_keyword_parameters_are_scenario_overrides():
    m = Chip4Model("kor-aligns", china__resolve=0.42, usa__stringency=0.1, collect=False)
    assert m.china.resolve == 0.42
    assert m.spec.usa.stringency == 0.1
    with pytest.raises(InputError):
        Chip4Model("kor-aligns", china__bogus=1)


def test_cli_rule_none_gives_no_rules_and_zero_absorption(run_cli):
    r = run_cli(["run", "kor-aligns-collective", "--rule", "none", "--steps", "20", "--json"])
    assert r.rc == 0, r.err
    d = json.loads(r.out)
    assert d["rules"] == []
    assert d["absorption_ratio"] == 0.0  # no rules: the run is its own counterfactual


def test_cli_two_rules_gives_exactly_those_rules(run_cli):
    r = run_cli(["run", "kor-aligns-collective", "--rule", "market_absorption", "--rule",
                 "counter_retaliation", "--steps", "20", "--json"])
    assert r.rc == 0, r.err
    d = json.loads(r.out)
    assert [x["type"] for x in d["rules"]] == ["market_absorption", "counter_retaliation"]


def test_cli_set_reaches_the_run(run_cli, monkeypatch):
    import chip4model.runner as runner

    seen = {}
    real_run = runner.run

    def spy(scenario, **kw):
        seen["resolve"] = scenario.china.resolve
        return real_run(scenario, **kw)

    monkeypatch.setattr(runner, "run", spy)
    r = run_cli(["run", "kor-aligns", "--set", "china.resolve=0.8", "--steps", "5", "--json"])
    assert r.rc == 0, r.err
    assert seen["resolve"] == 0.8


def test_cli_set_china_resolve_zero_means_no_retaliation(run_cli):
    # with no resolve, China's value of retaliating is never positive
    r = run_cli(["run", "kor-aligns", "--set", "china.resolve=0", "--steps", "40", "--json"])
    assert r.rc == 0, r.err
    ret = json.loads(r.out)["retaliation"]
    assert ret["started"] is False and ret["weeks_active"] == 0


def test_cli_set_steps_and_seed(run_cli):
    r = run_cli(["run", "thaad-2017", "--set", "steps=7", "--seed", "5", "--json"])
    d = json.loads(r.out)
    assert d["steps"] == 7 and d["seed"] == 5


# --- a scenario with its own graph ------------------------------------------------------------
def test_scenario_with_graph_file_next_to_it(tmp_path, run_cli, monkeypatch):
    sub = tmp_path / "study"
    sub.mkdir()
    assert run_cli(["graph", "export", sub / "g.graphml"]).rc == 0
    scen = sub / "own.toml"
    scen.write_bytes(tomli_w.dumps({"name": "own", "steps": 3,
                                    "graph": str(sub / "g.graphml")}).encode())
    r = run_cli(["validate", scen])
    assert r.rc == 0, r.err
    r = run_cli(["run", scen, "--json"])
    assert r.rc == 0, r.err
    assert json.loads(r.out)["scenario"] == "own"


def test_relative_graph_path_is_relative_to_the_scenario_file(tmp_path, run_cli, monkeypatch):
    sub = tmp_path / "study"
    sub.mkdir()
    assert run_cli(["graph", "export", sub / "g.graphml"]).rc == 0
    scen = sub / "own.toml"
    scen.write_text('name = "own"\nsteps = 3\ngraph = "g.graphml"\n')
    monkeypatch.chdir(tmp_path)
    m = Chip4Model("study/own.toml", collect=False)  # the model finds it
    assert m.graph.n_nodes > 0
    r = run_cli(["validate", "study/own.toml"])
    assert r.rc == 0, r.err
    r = run_cli(["run", "study/own.toml", "--json"])
    assert r.rc == 0, r.err


def test_edit_sets_and_drops_values_inside_lists():
    from chip4model.scenario import edit

    s = load_scenario("thaad-2017")
    assert s.shocks[0].duration == 36
    out = edit(s, {"shocks.0.duration": None, "shocks.1.intensity": 0.5})
    assert out.shocks[0].duration is None and out.shocks[1].intensity == 0.5
    by_type = edit(load_scenario("kor-aligns-collective"),
                   [("rules.input_sharing.delay", 20), ("rules.input_sharing.delay", None)])
    assert by_type.rules[1].delay == 8          # back to its default, in the order given
    assert edit(s, {"shocks.9.duration": None}) == s   # a path that leads nowhere
