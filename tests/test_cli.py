"""The ``chip4`` command: listing, running, JSON summary, output folder, the console script."""

from __future__ import annotations

import json
import struct

import matplotlib.image as mpimg
import pandas as pd
import pytest

from chip4model.scenario import builtin_names

BUILTINS = {"baseline", "critical-minerals", "japan-2019", "kor-aligns", "kor-aligns-collective",
            "thaad-2017"}
COUNTRIES = {"USA", "KOR", "JPN", "TWN", "CHN"}
TOP_KEYS = {"scenario", "seed", "steps", "countries", "firms", "segments", "retaliation",
            "deterred", "absorption_ratio", "shock_absorption", "target_loss", "recovery_weeks"}
RETALIATION_KEYS = {"started", "target", "instruments", "weeks_active", "mean_intensity"}


def check_summary(d: dict, scenario: str, steps: int) -> None:
    """The documented shape of the JSON summary (extra keys are allowed)."""
    assert TOP_KEYS <= set(d), TOP_KEYS - set(d)
    assert d["scenario"] == scenario
    assert d["steps"] == steps
    assert isinstance(d["seed"], int)
    assert set(d["countries"]) == COUNTRIES
    for iso, c in d["countries"].items():
        assert {"output_loss_pct", "gdp_loss_pct", "alignment"} <= set(c), iso
        assert isinstance(c["output_loss_pct"], float) and isinstance(c["gdp_loss_pct"], float)
        if iso == "CHN":
            assert c["alignment"] is None
        else:
            assert 0.0 <= c["alignment"] <= 1.0
    assert {"Samsung Electronics", "SK Hynix"} <= set(d["firms"])
    for name, f in d["firms"].items():
        assert isinstance(f["revenue_loss_pct"], float), name
    assert d["segments"]
    for name, s in d["segments"].items():
        assert isinstance(s["shortfall_pct"], float), name
        assert -1e-9 <= s["shortfall_pct"] <= 100 + 1e-9
    r = d["retaliation"]
    assert RETALIATION_KEYS <= set(r)
    assert isinstance(r["started"], bool)
    assert isinstance(r["instruments"], list)
    assert 0 <= r["weeks_active"] <= steps
    assert 0.0 <= r["mean_intensity"] <= 1.0
    if not r["started"]:
        assert r["weeks_active"] == 0 and r["target"] is None
    else:
        assert r["weeks_active"] > 0 and r["target"] in COUNTRIES - {"CHN"}
    assert isinstance(d["deterred"], bool)
    assert d["absorption_ratio"] is None or d["absorption_ratio"] <= 1.0
    assert d["recovery_weeks"] is None or 0 <= d["recovery_weeks"] <= steps


# --- scenarios ---------------------------------------------------------------------------------
def test_scenarios_lists_the_six_builtins_one_per_line(run_cli):
    r = run_cli(["scenarios"])
    assert r.rc == 0 and r.err == ""
    lines = r.out.strip().splitlines()
    assert len(lines) == 6
    assert {ln.split()[0] for ln in lines} == BUILTINS == set(builtin_names())


def test_no_command_prints_help(run_cli):
    r = run_cli([])
    assert r.rc == 0
    assert "run" in r.out and "scenarios" in r.out


# --- run -----------------------------------------------------------------------------------------
def test_run_thaad_prints_a_table_naming_korea(run_cli):
    r = run_cli(["run", "thaad-2017", "--steps", "52"])
    assert r.rc == 0, r.err
    assert r.err == ""
    assert "thaad-2017" in r.out
    assert any(line.split()[:1] == ["KOR"] for line in r.out.splitlines())
    assert "retaliated against KOR" in r.out
    for firm in ("Samsung Electronics", "SK Hynix"):
        assert firm in r.out


@pytest.fixture(scope="module")
def thaad_json():
    """``chip4 run thaad-2017 --steps 30 --json``, run once for the module."""
    import contextlib
    import io

    from chip4model import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["run", "thaad-2017", "--steps", "30", "--json"])
    assert rc == 0
    return buf.getvalue()


def test_run_json_is_one_document_with_the_documented_keys(thaad_json):
    d = json.loads(thaad_json)  # fails if anything else is printed
    check_summary(d, "thaad-2017", 30)
    assert d["seed"] == 1  # the scenario's seed
    r = d["retaliation"]
    assert r["started"] and r["target"] == "KOR" and r["instruments"] == ["consumer_boycott"]
    assert d["countries"]["KOR"]["gdp_loss_pct"] > 0
    assert d["absorption_ratio"] == 0.0  # no rules: the run is its own counterfactual


def test_run_json_and_out_agree(run_cli, tmp_path, thaad_json):
    out = tmp_path / "results" / "thaad"
    r = run_cli(["run", "thaad-2017", "--steps", "30", "--out", out])
    assert r.rc == 0, r.err
    assert "summary.json" in r.out
    assert json.loads((out / "summary.json").read_text()) == json.loads(thaad_json)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    from chip4model import cli

    out = tmp_path_factory.mktemp("run") / "kor"
    rc = cli.main(["run", "kor-aligns-collective", "--steps", "40", "--out", str(out), "--json"])
    assert rc == 0
    return out


def test_out_writes_exactly_three_files(out_dir):
    assert sorted(p.name for p in out_dir.iterdir()) == ["paths.png", "summary.json",
                                                          "timeseries.parquet"]
    assert not list(out_dir.parent.glob(".chip4-*"))
    check_summary(json.loads((out_dir / "summary.json").read_text()),
                  "kor-aligns-collective", 40)


def test_timeseries_parquet_is_tidy(out_dir):
    ts = pd.read_parquet(out_dir / "timeseries.parquet")
    assert list(ts.columns) == ["week", "entity", "variable", "value"]
    assert ts.week.min() == 1 and ts.week.max() == 40
    variables = set(ts.variable)
    for v in ("output", "value_added", "alignment", "credibility", "retaliation_intensity",
              "revenue"):
        assert v in variables, v
    shares = sorted(v for v in variables if v.startswith("supplier_share:"))
    assert shares
    for v in shares:
        _, inp, iso = v.split(":")
        assert inp and len(iso) == 3 and iso.isupper()
    assert set(ts[ts.variable == "output"].entity) >= COUNTRIES
    assert set(ts[ts.variable == "revenue"].entity) >= {"Samsung Electronics", "SK Hynix"}
    assert set(ts[ts.variable == "alignment"].entity) == {"USA", "KOR", "JPN", "TWN"}
    # one value per (week, entity, variable), all finite
    assert not ts.duplicated(["week", "entity", "variable"]).any()
    assert ts.value.notna().all()
    sh = ts[ts.variable.str.startswith("supplier_share:")]
    assert sh.value.between(-1e-12, 1 + 1e-12).all()
    per_buyer = sh.assign(inp=sh.variable.str.split(":").str[1]).groupby(
        ["week", "entity", "inp"]).value.sum()
    # shares of one input sum to 1 (or to 0 in a week a buyer received none of it)
    assert (((per_buyer - 1).abs() < 1e-9) | (per_buyer.abs() < 1e-12)).all()
    assert ((per_buyer - 1).abs() < 1e-9).mean() > 0.5


def test_paths_png_is_a_valid_png(out_dir):
    data = (out_dir / "paths.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 200 and height > 200
    img = mpimg.imread(out_dir / "paths.png")
    assert img.shape[:2] == (height, width)


def test_out_overwrites_an_existing_folder(run_cli, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.json").write_text("stale")
    (out / "keep.txt").write_text("mine")
    r = run_cli(["run", "thaad-2017", "--steps", "5", "--out", out])
    assert r.rc == 0, r.err
    assert json.loads((out / "summary.json").read_text())["steps"] == 5
    assert (out / "keep.txt").read_text() == "mine"


def test_default_run_is_kor_aligns_collective_with_an_absorption_ratio(run_cli):
    r = run_cli(["run", "--json"])
    assert r.rc == 0, r.err
    d = json.loads(r.out)
    check_summary(d, "kor-aligns-collective", 156)
    assert d["absorption_ratio"] is not None
    assert d["absorption_ratio"] <= 1.0
    assert [x["type"] for x in d["rules"]] == ["market_absorption", "input_sharing",
                                               "counter_retaliation", "compensation_fund"]


def test_no_counterfactual_gives_no_absorption_ratio(run_cli):
    r = run_cli(["run", "kor-aligns-collective", "--steps", "20", "--json",
                 "--no-counterfactual"])
    assert r.rc == 0, r.err
    assert json.loads(r.out)["absorption_ratio"] is None


def test_same_command_twice_gives_the_same_json(run_cli):
    args = ["run", "kor-aligns-collective", "--steps", "30", "--seed", "4", "--json"]
    a, b = run_cli(args), run_cli(args)
    assert a.rc == b.rc == 0
    assert a.out == b.out
    assert json.loads(a.out)["seed"] == 4


def test_baseline_run_reports_no_losses(run_cli):
    d = json.loads(run_cli(["run", "baseline", "--steps", "52", "--json"]).out)
    check_summary(d, "baseline", 52)
    for iso, c in d["countries"].items():
        assert abs(c["gdp_loss_pct"]) < 1e-9 and abs(c["output_loss_pct"]) < 1e-9, iso
    assert d["retaliation"]["started"] is False
    assert d["recovery_weeks"] is None


# --- the real console script --------------------------------------------------------------------
def test_console_script_end_to_end(run_chip4, tmp_path):
    r = run_chip4(["scenarios"])
    assert r.rc == 0 and {ln.split()[0] for ln in r.out.strip().splitlines()} == BUILTINS
    r = run_chip4(["run", "thaad-2017", "--steps", "12", "--json", "--out", "res"])
    assert r.rc == 0, r.err
    d = json.loads(r.out)
    check_summary(d, "thaad-2017", 12)
    assert json.loads((tmp_path / "res" / "summary.json").read_text()) == d


@pytest.mark.parametrize("steps,active", [(2, 0), (3, 1), (10, 8)])
def test_weeks_active_counts_the_weeks_simulated(steps, active):
    """thaad-2017's boycott starts in week 2 (0-based): regression for an off-by-one that
    counted the week after the last one simulated."""
    from chip4model import run

    r = run("thaad-2017", steps=steps).summary["retaliation"]
    assert r["weeks_active"] == active
    assert r["started"] == (active > 0)
    assert r["instruments"] == (["consumer_boycott"] if active else [])
    assert r["target"] == ("KOR" if active else None)
