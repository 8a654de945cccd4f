"""The dashboard's "Sweep results" view: finding and opening sweep folders (with and without a
report, interrupted, garbage), and the Solara component driven like a user would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chip4model.dashboard.sweep_data import figure_title, find_sweeps, make_report, open_sweep
from chip4model.experiment import load_experiment
from chip4model.report import write_report
from chip4model.sweep import sweep

FACTORIAL = """
name = "tiny"
question = "Does a committed, fast response absorb the shock?"
description = "Two commitments by two delays, two replications each."
replications = 2
steps = 30
metrics = ["absorption_ratio", "KOR.net_loss_pct"]

[[factors]]
name = "commitment"
set = ["rules.market_absorption.commitment", "rules.input_sharing.commitment"]
values = [0.0, 1.0]

[[factors]]
name = "delay"
set = ["rules.market_absorption.delay", "rules.input_sharing.delay"]
values = [0, 16]

[[expect]]
claim = "Korea loses something"
check = "mean(KOR.net_loss_pct) > 0"

[[expect]]
claim = "Everything is absorbed twice over"
check = "min(absorption_ratio) > 2"
"""
ST_OF = "mean(ST | metric=KOR.net_loss_pct, factor={})"
SOBOL = f"""
name = "tinysobol"
steps = 30
metrics = ["KOR.net_loss_pct"]

[[factors]]
name = "resolve"
set = ["china.resolve"]
range = [0.2, 0.9]

[[factors]]
name = "tol"
set = ["countries.KOR.cost_tolerance_pct_gdp"]
range = [0.2, 2.0]

[sampler]
method = "sobol"
n = 4

[[expect]]
claim = "China's resolve matters more than Korea's tolerance"
check = "{ST_OF.format("resolve")} > {ST_OF.format("tol")}"
on = "sensitivity"
"""
N_RUNS = 8                 # 2 x 2 points x 2 replications


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict[str, Path]:
    """The two experiments above swept once, in-process, into root/tiny and root/tinysobol."""
    root = tmp_path_factory.mktemp("sweeps")
    out = {}
    for name, text in {"tiny": FACTORIAL, "tinysobol": SOBOL}.items():
        path = root / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        sweep(load_experiment(path), root / name, workers=1, progress=False)
        out[name] = root / name
    return out


@pytest.fixture
def copy_of(swept, tmp_path):
    """A fresh copy of a swept folder (under tmp_path/sweeps), to modify or report into."""

    def _copy(name: str) -> Path:
        dst = tmp_path / "sweeps" / name
        shutil.copytree(swept[name], dst)
        return dst

    return _copy


def interrupt(folder: Path, keep_runs: int = 3) -> None:
    """Make a finished sweep look interrupted: no runs.parquet, ``keep_runs`` runs in parts/."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(status="interrupted", finished=None)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    table = pq.read_table(folder / "runs.parquet").slice(0, keep_runs)
    (folder / "parts").mkdir()
    pq.write_table(table, folder / "parts" / "runs-000000.parquet")
    (folder / "runs.parquet").unlink()


# --- finding and opening folders -------------------------------------------------------------
def test_find_sweeps_lists_sweep_folders_only(swept, tmp_path):
    assert find_sweeps(swept["tiny"].parent) == [swept["tiny"], swept["tinysobol"]]
    assert find_sweeps(swept["tiny"]) == [swept["tiny"]]          # the root itself is one

    def fake(*parts: str, manifest: bool = True) -> Path:
        d = tmp_path.joinpath(*parts)
        d.mkdir(parents=True)
        (d / "runs.parquet").write_bytes(b"")
        if manifest:
            (d / "manifest.json").write_text("{}")
        return d

    deep = fake("a", "b", "c")                            # 3 levels down: found
    fake("a", "b", "c2", "d")                             # 4 levels down: too deep
    fake("no_manifest", manifest=False)
    fake(".hidden")
    inside = fake("a", "b", "c", "report", "nested")      # inside a sweep: not searched
    assert find_sweeps(tmp_path) == [deep]
    assert inside not in find_sweeps(tmp_path / "a")
    assert find_sweeps(tmp_path / "missing") == []


def test_open_sweep_without_a_report_computes_claims_and_points(copy_of):
    folder = copy_of("tiny")
    view = open_sweep(folder)
    assert view.error is None
    assert (view.name, view.question) == ("tiny", "Does a committed, fast response absorb the "
                                                  "shock?")
    assert view.description.startswith("Two commitments")
    d = view.design
    assert (d.sampler, d.points, d.replications) == ("full factorial", 4, 2)
    assert (d.runs_done, d.runs_total, d.failed) == (N_RUNS, N_RUNS, 0)
    assert d.line() == ("full factorial: 4 points x 2 replications; 8 of 8 runs done, "
                        "0 failed")

    assert view.claims["status"].tolist() == ["PASS", "FAIL"]
    assert view.claims["claim"].tolist() == ["Korea loses something",
                                             "Everything is absorbed twice over"]
    assert float(view.claims["measured"][0]) > 0
    assert "does not hold" in view.claims["detail"][1]
    assert view.passed == 1

    assert list(view.points.columns) == ["point", "commitment", "delay", "runs_ok",
                                         "absorption_ratio", "KOR.net_loss_pct"]
    assert len(view.points) == 4
    assert view.points["runs_ok"].tolist() == [2, 2, 2, 2]
    assert view.sensitivity is None
    assert (view.has_report, view.figures) == (False, [])
    assert not (folder / "report").exists()                # nothing written


def test_open_sweep_with_a_report_reads_it_and_lists_figures(copy_of):
    folder = copy_of("tiny")
    computed = open_sweep(folder)
    write_report(folder)
    view = open_sweep(folder)
    assert view.error is None and view.has_report
    pd.testing.assert_frame_equal(view.claims, computed.claims)
    pd.testing.assert_frame_equal(view.points, computed.points, check_exact=False)

    names = [f.path.name for f in view.figures]
    pngs = sorted(p.name for p in (folder / "report").glob("*.png"))
    assert sorted(names) == pngs
    assert "heatmap_absorption_ratio.png" in names and "distributions.png" in names
    heat = view.figures[names.index("heatmap_KOR-net_loss_pct.png")]
    assert heat.title == "Heatmap of KOR.net_loss_pct"
    assert heat.caption.startswith("Mean KOR.net_loss_pct over replications for each "
                                   "commitment (rows) and delay (columns)")
    assert heat.data == heat.path.read_bytes() and heat.data.startswith(b"\x89PNG")
    assert not heat.sensitivity


def test_open_sobol_sweep_gives_indices_and_a_sensitivity_claim(copy_of):
    folder = copy_of("tinysobol")
    view = open_sweep(folder)
    assert view.error is None
    assert view.design.sampler == "Sobol (Saltelli), N = 4"
    assert set(view.sensitivity["factor"]) == {"resolve", "tol"}
    assert {"S1", "ST", "S1_conf", "ST_conf"} <= set(view.sensitivity.columns)
    assert view.claims["status"].tolist() == ["PASS"]
    assert len(view.points) == view.design.points == 16

    ok, message = make_report(folder)
    assert ok and message == f"Wrote {folder / 'report'} (1 figure)"
    after = open_sweep(folder)
    assert [(f.path.name, f.sensitivity) for f in after.figures] == [
        ("sobol_KOR-net_loss_pct.png", True)]
    assert after.sensitivity[["S1", "ST"]].to_numpy() == pytest.approx(
        view.sensitivity[["S1", "ST"]].to_numpy(), abs=1e-9)


def test_no_experiment_file_means_no_claims_with_a_note(copy_of):
    folder = copy_of("tiny")
    (folder / "experiment.toml").unlink()
    view = open_sweep(folder)
    assert view.error is None and view.claims.empty
    assert "no experiment.toml" in view.claims_note


def test_interrupted_sweep_says_how_far_it_got_and_how_to_resume(copy_of):
    folder = copy_of("tiny")
    interrupt(folder, keep_runs=3)
    file = json.loads((folder / "manifest.json").read_text())["file"]
    view = open_sweep(folder)
    assert view.error == (f"incomplete sweep: 3 of {N_RUNS} runs; resume with chip4 sweep "
                          f"{file} --out {folder} --resume")
    assert view.name == "tiny" and view.design.runs_done == 3
    assert find_sweeps(folder.parent) == []                # not listed as a finished sweep


@pytest.mark.parametrize("damage", ["missing", "empty", "bad_json", "not_a_manifest",
                                    "corrupt_runs", "file"])
def test_garbage_gives_a_one_line_error_not_an_exception(copy_of, tmp_path, damage):
    folder = copy_of("tiny")
    if damage == "missing":
        folder = tmp_path / "nowhere"
    elif damage == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif damage == "bad_json":
        (folder / "manifest.json").write_text("{ not json")
    elif damage == "not_a_manifest":
        (folder / "manifest.json").write_text('{"status": "complete"}')
    elif damage == "corrupt_runs":
        (folder / "runs.parquet").write_bytes(b"garbage, not parquet")
    else:
        folder = folder / "experiment.toml"
    view = open_sweep(folder)
    assert view.error and "\n" not in view.error
    assert str(folder) in view.error
    expected = {"missing": "no such folder", "empty": "not a chip4 sweep folder",
                "bad_json": "not valid JSON", "not_a_manifest": "no metrics",
                "corrupt_runs": "cannot read it", "file": "is a file"}[damage]
    assert expected in view.error
    assert view.claims.empty and view.figures == []


def test_report_refused_when_the_report_folder_holds_other_files(copy_of):
    folder = copy_of("tiny")
    (folder / "report").mkdir()
    (folder / "report" / "notes.txt").write_text("mine")
    ok, message = make_report(folder)
    assert not ok and "not part of a report" in message and "\n" not in message


def test_figure_titles_from_file_names():
    assert figure_title("heatmap_KOR-net_loss_pct.png") == "Heatmap of KOR.net_loss_pct"
    assert figure_title("by_rules-2.png") == "Mean by rules (page 2)"
    assert figure_title("distributions-2.png") == "Distributions over replications (page 2)"
    assert figure_title("morris_x.png", {"x": "firms.SK Hynix.revenue_loss_pct"}) == \
        "Morris screening of firms.SK Hynix.revenue_loss_pct"
    assert figure_title("scatter_absorption_ratio.png") == "absorption_ratio against each factor"


# --- the Solara component --------------------------------------------------------------------
@pytest.fixture
def ui():
    """(solara, ipyvuetify, ipywidgets): runtime dependencies of the dashboard."""
    import ipyvuetify
    import ipywidgets
    import solara

    return solara, ipyvuetify, ipywidgets


def open_in(rc, v, folder) -> None:
    """Type a folder path and click Open."""
    rc.find(v.TextField).widget.v_model = str(folder)
    rc.find(v.Btn, children=["Open"]).widget.click()


def test_component_opens_a_sweep_writes_its_report_and_shows_figures(ui, copy_of):
    solara, v, widgets = ui
    from chip4model.dashboard.sweeps import SweepResults

    folder = copy_of("tiny")
    _, rc = solara.render(SweepResults(root=str(folder.parent)), handle_error=False)
    assert rc.find(v.Select).widget.items == [str(folder)]
    assert rc.find(v.Btn, children=["Open"]).widget.disabled         # nothing typed yet

    # picking the folder in the list fills in the path
    rc.find(v.Select).widget.v_model = str(folder)
    assert rc.find(v.TextField).widget.v_model == str(folder)
    rc.find(v.Btn, children=["Open"]).widget.click()
    rc.find(v.Html, children=["1 of 2 claims hold"]).wait_for(timeout=30)
    rc.find(v.Chip, children=["PASS"]).assert_single()
    assert rc.find(v.Chip, children=["FAIL"]).widget.color == "error"
    rc.find(v.Html, children=["Everything is absorbed twice over"]).assert_single()
    rc.find(v.Html, children=["full factorial: 4 points x 2 replications; 8 of 8 runs done, "
                              "0 failed"]).assert_single()
    rc.find(widgets.Image).assert_empty()

    rc.find(v.Btn, children=["Write report (figures)"]).widget.click()
    rc.find(v.Alert, children=[f"Wrote {folder / 'report'} (3 figures)"]).wait_for(timeout=60)
    rc.find(widgets.Image).wait_for(timeout=30)
    n_png = len(list((folder / "report").glob("*.png")))
    assert len(rc.find(widgets.Image).widgets) == n_png == 3
    rc.find(v.Html, children=["Heatmap of absorption_ratio"]).assert_single()
    rc.find(v.Btn, children=["Write report (figures)"]).assert_empty()
    rc.find(v.Html, children=["1 of 2 claims hold"]).assert_single()


def test_component_shows_errors_and_incomplete_sweeps(ui, copy_of, tmp_path):
    solara, v, _ = ui
    from chip4model.dashboard.sweeps import SweepResults

    folder = copy_of("tiny")
    interrupt(folder)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "manifest.json").write_text("{ not json")
    _, rc = solara.render(SweepResults(root=str(tmp_path / "nothing here")), handle_error=False)
    assert rc.find(v.Select).widget.items == []
    rc.find(v.Html, children=[f"No finished sweep folders under "
                              f"{str(tmp_path / 'nothing here')!r}: type a folder path, or "
                              "run chip4 sweep EXPERIMENT --out DIR."]).assert_single()

    open_in(rc, v, garbage)
    rc.find(v.Alert, children=[open_sweep(garbage).error]).wait_for(timeout=30)

    open_in(rc, v, folder)
    message = open_sweep(folder).error
    assert message.startswith("incomplete sweep: 3 of 8 runs; resume with chip4 sweep ")
    rc.find(v.Alert, children=[message]).wait_for(timeout=30)
    rc.find(v.Chip).assert_empty()
    rc.find(v.Alert, children=[open_sweep(garbage).error]).assert_empty()


def test_component_instances_are_independent(ui, swept):
    solara, v, _ = ui
    from chip4model.dashboard.sweeps import SweepResults

    root = str(swept["tiny"].parent)
    _, rc1 = solara.render(SweepResults(root=root), handle_error=False)
    _, rc2 = solara.render(SweepResults(root=root), handle_error=False)
    open_in(rc1, v, swept["tinysobol"])
    rc1.find(v.Html, children=["1 of 1 claims hold"]).wait_for(timeout=30)
    rc1.find(v.CardTitle, children=["Sensitivity indices"]).assert_single()
    rc1.find(v.Html, tag="th", children=["ST_conf"]).assert_single()
    rc1.find(v.Html, children=["Sobol indices of KOR.net_loss_pct"]).assert_empty()  # no report
    assert rc2.find(v.TextField).widget.v_model == ""
    rc2.find(v.Chip).assert_empty()
