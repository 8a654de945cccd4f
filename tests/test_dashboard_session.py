"""The dashboard's Solara-free core: sessions, scenario edits, downloads."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from chip4model.dashboard import params as P
from chip4model.dashboard.session import Session, edit, parse_scenario_toml
from chip4model.errors import InputError
from chip4model.runner import run
from chip4model.scenario import load_scenario


def _same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("name", ["kor-aligns-collective", "thaad-2017"])
def test_stepping_to_the_end_is_run(name):
    s = Session.from_name(name)
    while not s.done:
        s.step(7)
    assert s.week == s.steps
    assert _same(s.result().summary, run(name).summary)


def test_step_stops_at_the_last_week_and_reset_starts_over():
    s = Session(edit(load_scenario("thaad-2017"), {"steps": 12}))
    assert s.step(5) == 5
    assert s.step(100) == 7
    assert s.step() == 0 and s.done
    first = s.result().summary
    s.reset()
    assert s.week == 0 and not s.done
    s.run_to_end()
    assert _same(s.result().summary, first)


def test_partial_results_count_only_the_weeks_run():
    s = Session.from_name("thaad-2017")
    s.step(20)
    r = s.result()
    assert r.summary["steps"] == 20
    assert r.timeseries.week.max() == 20
    assert r.summary["countries"]["KOR"]["gdp_loss_pct"] > 0


def test_interleaved_sessions_do_not_share_state():
    """Two tabs step their own models; the shared compiled graph must stay untouched."""
    a = Session.from_name("kor-aligns-collective")
    b = Session(edit(load_scenario("kor-aligns-collective"), {"china.resolve": 0.95}))
    for _ in range(40):
        a.step(2)
        b.step(3)
    a.run_to_end()
    b.run_to_end()
    assert _same(a.result().summary, run("kor-aligns-collective").summary)
    assert _same(b.result().summary,
                 run("kor-aligns-collective", sets=["china.resolve=0.95"]).summary)
    assert not _same(a.result().summary, b.result().summary)


def test_toml_download_reproduces_the_run_with_chip4_run(tmp_path):
    s0 = load_scenario("kor-aligns-collective")
    s0 = P.set_rule(s0, "counter_retaliation", on=False)
    s0 = P.set_member(s0, "KOR", "threat_perception", 0.62)
    s0 = edit(P.set_china(s0, resolve=0.7), {"seed": 11, "steps": 60})
    sess = Session(s0)
    sess.run_to_end()
    path = tmp_path / "page.toml"
    path.write_text(sess.to_toml(), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "chip4model.cli", "run", str(path), "--json"],
                         capture_output=True, text=True, check=True)
    cli = json.loads(out.stdout)
    assert _same(cli, sess.result().summary)
    assert cli["seed"] == 11 and cli["steps"] == 60


def test_csv_download_has_both_runs_up_to_the_current_week():
    s = Session.from_name("kor-aligns-collective")
    s.step(15)
    df = pd.read_csv(io.StringIO(s.to_csv()))
    assert set(df.run) == {"rules", "no_rules"}
    assert df.week.max() == 15
    got = df[(df.run == "rules") & (df.variable == "alignment") & (df.entity == "KOR")]
    want = s.result().series("alignment", "KOR")
    assert got.sort_values("week").value.tolist() == pytest.approx(want.tolist(), rel=1e-15)


def test_csv_of_a_scenario_without_rules_has_one_run():
    s = Session.from_name("thaad-2017")
    s.step(3)
    assert set(pd.read_csv(io.StringIO(s.to_csv())).run) == {"scenario"}


@pytest.mark.parametrize("text, field", [
    ("steps = [", "toml"),
    ("stepz = 10", "stepz"),
    ("steps = 0", "steps"),
    ('[[shocks]]\ntype = "firm_sanction"\nfirm = "Samsong"\nintensity = 0.5', "firm"),
    ('[[rules]]\ntype = "market_absorptionn"', "rules[0]"),
])
def test_malformed_upload_is_one_line_naming_the_file_and_field(text, field):
    with pytest.raises(InputError) as e:
        parse_scenario_toml(text.encode(), "mine.toml")
    msg = str(e.value)
    assert msg.startswith("mine.toml: ") and field in msg and "\n" not in msg


def test_non_utf8_upload_is_rejected():
    with pytest.raises(InputError, match="mine.toml: file: not a UTF-8"):
        parse_scenario_toml(b"\xff\xfe\x00", "mine.toml")


# --- the controls' edits -------------------------------------------------------------------
def test_current_shows_calibrated_defaults_and_scenario_values():
    cur = P.current(load_scenario("kor-aligns-collective"))
    assert cur["members"]["KOR"]["china_trade_share"] == pytest.approx(0.239)
    assert cur["rules"]["counter_retaliation"] == {"on": True, "commitment": 0.75,
                                                   "delay": 12, "credibility": 0.8}
    assert cur["provocation_week"] == 4 and cur["china_decides"]
    cur = P.current(load_scenario("thaad-2017"))
    assert not any(r["on"] for r in cur["rules"].values())
    assert [sh["type"] for sh in cur["shocks"]] == ["consumer_boycott"] * 3


def test_set_target_moves_shocks_event_and_firm_sanction():
    s = P.add_shock(load_scenario("kor-aligns-collective"), "firm_sanction")
    assert s.shocks[0].firm == "Samsung Electronics"
    t = P.set_target(s, "TWN")
    assert t.target == "TWN" and t.events[0].member == "TWN"
    assert t.shocks[0].firm == "TSMC"
    with pytest.raises(InputError, match="allowed: JPN, KOR, TWN, USA"):
        P.set_target(s, "CHN")


def test_rules_switch_on_and_off_keeping_their_settings():
    s = load_scenario("kor-aligns-collective")
    off = P.set_rule(s, "market_absorption", on=False)
    assert [r.type for r in off.rules] == ["input_sharing", "counter_retaliation",
                                          "compensation_fund"]
    changed = P.set_rule(s, "input_sharing", delay=20, commitment=0.9)
    assert changed.rules[1].delay == 20 and changed.rules[1].commitment == 0.9
    none = load_scenario("thaad-2017")
    on = P.set_rule(none, "compensation_fund", on=True)
    assert [r.type for r in on.rules] == ["compensation_fund"]
    with pytest.raises(InputError):
        P.set_rule(s, "input_sharing", credibility=1.5)


def test_china_and_shock_edits():
    s = load_scenario("kor-aligns")
    assert P.set_china(s, max_intensity=0.5).china.intensities == [0.25, 0.5]
    with pytest.raises(InputError, match="at least one instrument"):
        P.set_china(s, instruments=[])
    assert P.set_provocation_week(s, 10).events[0].week == 10
    t = load_scenario("thaad-2017")
    t2 = P.set_shock(t, 0, intensity=0.9, onset=5, duration=None)
    assert (t2.shocks[0].intensity, t2.shocks[0].onset, t2.shocks[0].duration) == (0.9, 5, None)
    assert len(P.remove_shock(t2, 1).shocks) == 2
    with pytest.raises(InputError, match=r"shocks\[7\]"):
        P.set_shock(t, 7, intensity=0.1)
    with pytest.raises(InputError, match="onset"):
        P.set_shock(t, 0, onset=-3)


def test_module_examples():
    import doctest

    from chip4model.dashboard import session

    for module in (session, P):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_verdict_speaks_of_deterrence_only_when_it_can():
    s = Session.from_name("kor-aligns-collective")
    s.step(3)
    assert "deter" not in s.verdict()
    s.run_to_end()
    assert "deterred by the rules: without them it would have lasted 16 weeks" in s.verdict()
    t = Session.from_name("thaad-2017")
    t.run_to_end()
    assert "No collective-resilience rules" in t.verdict()


def test_verdict_when_neither_run_retaliates_is_not_deterrence():
    s = Session(P.set_china(load_scenario("kor-aligns-collective"), resolve=0.0))
    s.run_to_end()
    r = s.result()
    assert not r.summary["retaliation"]["started"]
    assert not r.counterfactual.summary["retaliation"]["started"]
    assert r.summary["deterred"] is False
    assert "nothing to deter" in s.verdict()


def test_caveat_for_a_target_already_in_the_controls():
    s = Session(P.set_target(load_scenario("kor-aligns-collective"), "JPN"))
    from chip4model.dashboard.session import caveats

    assert any("JPN is inside the U.S. export controls from the start" in c
               for c in caveats(s))
    s.run_to_end()
    assert not s.result().summary["retaliation"]["started"]
    assert caveats(Session.from_name("kor-aligns-collective")) == []
    low = P.set_member(P.set_target(load_scenario("kor-aligns-collective"), "JPN"), "JPN",
                       "threat_perception", 0.45)
    assert caveats(Session(low)) == []
