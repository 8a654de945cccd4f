"""Reports of real (small) sweeps: files per design, statistics, SALib indices, claims, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chip4model.errors import InputError
from chip4model.experiment import load_experiment
from chip4model.report import evaluate_folder_claims, slug, write_report
from chip4model.sweep import read_runs, sweep

RULES3 = ('["rules.market_absorption.{0}", "rules.input_sharing.{0}", '
          '"rules.compensation_fund.{0}"]')

EXPERIMENTS = {
    "factorial": f"""
name = "factorial"
question = "Where is the absorption frontier?"
replications = 2
steps = 30
metrics = ["absorption_ratio", "KOR.net_loss_pct"]

[[factors]]
name = "commitment"
set = {RULES3.format("commitment")}
range = [0.0, 1.0]
levels = 3

[[factors]]
name = "delay"
set = {RULES3.format("delay")}
values = [0, 16]
""",
    "rules": """
name = "rules"
description = "No rules against all rules."
replications = 3
steps = 30
metrics = ["absorption_ratio", "deterred", "KOR.net_loss_pct"]

[[factors]]
name = "rules"
kind = "rules"
values = ["none", "all"]

[[expect]]
claim = "Without rules nothing is absorbed"
check = "max(absorption_ratio | rules=none) == 0"

[[expect]]
claim = "Without rules most of the loss is absorbed"
check = "mean(absorption_ratio | rules=none) > 0.5"
""",
    "sobol": """
name = "sobol"
steps = 30
metrics = ["KOR.net_loss_pct", "absorption_ratio"]

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
""",
    "one": """
name = "one"
replications = 2
steps = 20
counterfactual = false
metrics = ["absorption_ratio", "KOR.net_loss_pct"]
""",
}
ST_OF = "mean(ST | metric=KOR.net_loss_pct, factor={})"
SENSITIVITY_CLAIM = f"""
[[expect]]
claim = "China's resolve matters more for Korea's loss than Korea's cost tolerance"
check = "{ST_OF.format("resolve")} > {ST_OF.format("tol")}"
on = "sensitivity"
"""
EXPERIMENTS["morris"] = (EXPERIMENTS["sobol"].replace('"sobol"', '"morris"')
                         .replace("n = 4", "n = 3\nlevels = 4"))
EXPERIMENTS["lhs"] = (EXPERIMENTS["sobol"].replace('"sobol"', '"latin_hypercube"')
                      .replace('name = "latin_hypercube"', 'name = "lhs"')
                      .replace("n = 4", "n = 5"))
EXPERIMENTS["sobol"] += SENSITIVITY_CLAIM


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict[str, Path]:
    """Every experiment above swept once (in-process) into its own folder."""
    root = tmp_path_factory.mktemp("sweeps")
    out = {}
    for name, text in EXPERIMENTS.items():
        path = root / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        sweep(load_experiment(path), root / name, workers=1, progress=False)
        out[name] = root / name
    return out


@pytest.fixture
def copy_of(swept, tmp_path):
    """A fresh copy of a swept folder (without any report), to modify or report into."""

    def _copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(swept[name], dst, ignore=shutil.ignore_patterns("report"))
        return dst

    return _copy


def csv_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def point_means(folder: Path, metric: str) -> np.ndarray:
    runs = read_runs(folder)
    return runs[runs.status == "ok"].groupby("point")[metric].mean().sort_index().to_numpy()


def test_slug():
    assert slug("KOR.net_loss_pct") == "KOR-net_loss_pct"
    assert slug("firms.SK Hynix.revenue_loss_pct") == "firms-SK_Hynix-revenue_loss_pct"


def test_factorial_report_heatmaps_and_point_statistics(copy_of):
    folder = copy_of("factorial")
    out = write_report(folder)
    assert out == folder / "report"
    names = {p.name for p in out.iterdir()}
    assert {"summary.md", "points.csv", "claims.csv", "heatmap_absorption_ratio.png",
            "heatmap_KOR-net_loss_pct.png", "distributions.png"} <= names
    assert not any(n.startswith("by_") or n.startswith("sensitivity") for n in names)

    points = pd.read_csv(out / "points.csv")
    assert len(points) == 6
    runs = read_runs(folder)
    for p, g in runs.groupby("point"):
        v = g["KOR.net_loss_pct"].to_numpy()
        row = points[points.point == p].iloc[0]
        assert row["KOR.net_loss_pct_n"] == 2
        assert row["KOR.net_loss_pct_mean"] == pytest.approx(v.mean(), rel=1e-9, abs=1e-12)
        half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
        assert row["KOR.net_loss_pct_ci95"] == pytest.approx(half, rel=1e-8, abs=1e-12)
        assert (row["commitment"], row["delay"]) == (g.commitment.iloc[0], g.delay.iloc[0])

    text = (out / "summary.md").read_text()
    assert text.startswith("# factorial\n")
    assert "Where is the absorption frontier?" in text
    assert "Runs: 12, of which 0 failed" in text
    assert "](heatmap_absorption_ratio.png)" in text
    # the frontier is drawn (and said to be) exactly when the cell means cross 0.5
    means = points["absorption_ratio_mean"].dropna()
    crosses = means.min() < 0.5 < means.max()
    assert ("absorption frontier" in text) == crosses


def test_rules_report_bars_distributions_and_claims(copy_of):
    folder = copy_of("rules")
    out = write_report(folder)
    names = {p.name for p in out.iterdir()}
    assert {"by_rules.png", "distributions.png", "claims.csv"} <= names
    assert not any(n.startswith("heatmap") for n in names)

    text = (out / "summary.md").read_text()
    assert "No rules against all rules." in text
    assert "1 of 2 claims hold" in text
    assert "| PASS | Without rules nothing is absorbed |" in text
    assert "| FAIL | Without rules most of the loss is absorbed |" in text

    claims = pd.read_csv(out / "claims.csv")
    assert claims["passed"].tolist() == [True, False]
    assert claims["claim"].tolist() == ["Without rules nothing is absorbed",
                                        "Without rules most of the loss is absorbed"]

    results = evaluate_folder_claims(folder)
    assert [r.passed for r in results] == [True, False]
    assert results[1].lhs == pytest.approx(0.0)


def test_sobol_indices_match_a_direct_salib_call(swept, copy_of):
    from SALib.analyze import sobol

    folder = copy_of("sobol")
    out = write_report(folder)
    table = pd.read_csv(out / "sensitivity_KOR-net_loss_pct.csv")
    assert table["factor"].tolist() == ["resolve", "tol"]
    assert list(table.columns) == ["factor", "S1", "S1_conf", "ST", "ST_conf"]

    manifest = json.loads((folder / "manifest.json").read_text())
    y = point_means(folder, "KOR.net_loss_pct")
    assert len(y) == 16                                   # N (k + 2) = 4 * 4 points
    si = sobol.analyze(manifest["problem"], y, calc_second_order=False, seed=1)
    for key in ("S1", "ST", "S1_conf", "ST_conf"):
        np.testing.assert_allclose(table[key], si[key], rtol=1e-8, atol=1e-12)
    assert (out / "sobol_KOR-net_loss_pct.png").exists()
    text = (out / "summary.md").read_text()
    assert "## Sensitivity" in text and "### KOR.net_loss_pct" in text

    # a claim on = "sensitivity" reads the indices, not the runs
    long = pd.read_csv(out / "sensitivity.csv")
    st = long[long.metric == "KOR.net_loss_pct"].set_index("factor")["ST"]
    np.testing.assert_allclose(st.to_numpy(), table["ST"].to_numpy())
    (result,) = evaluate_folder_claims(folder)
    assert result.lhs == pytest.approx(st["resolve"], rel=1e-8)
    assert result.rhs == pytest.approx(st["tol"], abs=1e-9)
    assert result.passed == (st["resolve"] > st["tol"])
    assert ("| PASS |" if result.passed else "| FAIL |") in text


def test_morris_indices_match_a_direct_salib_call(copy_of):
    from SALib.analyze import morris

    folder = copy_of("morris")
    out = write_report(folder)
    table = pd.read_csv(out / "sensitivity_KOR-net_loss_pct.csv")
    assert list(table.columns) == ["factor", "mu", "mu_star", "mu_star_conf", "sigma"]
    assert table["factor"].tolist() == ["resolve", "tol"]

    manifest = json.loads((folder / "manifest.json").read_text())
    design = pd.read_parquet(folder / "design.parquet")
    X = design[["x_resolve", "x_tol"]].to_numpy()
    y = point_means(folder, "KOR.net_loss_pct")
    si = morris.analyze(manifest["problem"], X, y, num_levels=4, seed=1)
    for key in ("mu", "mu_star", "mu_star_conf", "sigma"):
        np.testing.assert_allclose(table[key], si[key], rtol=1e-8, atol=1e-12)
    assert (out / "morris_KOR-net_loss_pct.png").exists()


def test_latin_hypercube_scatter_per_metric(copy_of):
    out = write_report(copy_of("lhs"))
    names = {p.name for p in out.iterdir()}
    assert {"scatter_KOR-net_loss_pct.png", "scatter_absorption_ratio.png"} <= names
    assert not any(n.startswith(("heatmap", "sensitivity", "sobol", "by_")) for n in names)
    assert "Latin hypercube, n = 5; 5 design points" in (out / "summary.md").read_text()


def test_failed_runs_are_left_out_and_sensitivity_skips_missing_points(copy_of):
    folder = copy_of("sobol")
    runs = read_runs(folder)
    runs.loc[runs.point == 3, ["KOR.net_loss_pct", "absorption_ratio"]] = np.nan
    runs.loc[runs.point == 3, ["status", "error"]] = ["error", "RuntimeError: boom"]
    runs.to_parquet(folder / "runs.parquet", index=False)
    out = write_report(folder)
    assert not list(out.glob("sensitivity_*.csv"))       # point 3 has no value in any metric
    text = (out / "summary.md").read_text()
    assert "1 of 16 runs failed" in text and "RuntimeError: boom" in text
    assert "`KOR.net_loss_pct`: no sobol indices, 1 of 16 design points have no value" in text
    points = pd.read_csv(out / "points.csv")
    assert points.loc[points.point == 3, "runs_ok"].item() == 0
    assert points.loc[points.point == 3, "KOR.net_loss_pct_n"].item() == 0


def test_single_point_and_metric_without_values(copy_of):
    folder = copy_of("one")
    out = write_report(folder)
    points = pd.read_csv(out / "points.csv")
    assert len(points) == 1 and points["absorption_ratio_n"].item() == 0
    text = (out / "summary.md").read_text()
    assert "; 1 design point\n" in text
    assert "| 0 | n/a |" in text
    assert "`absorption_ratio` has no value in any ok run" in text
    assert (out / "distributions.png").exists()


def test_rerun_writes_identical_tables_and_replaces_the_old_report(copy_of):
    folder = copy_of("sobol")
    out = write_report(folder)
    first = csv_bytes(out)
    assert {"points.csv", "claims.csv", "sensitivity_KOR-net_loss_pct.csv"} <= set(first)
    (out / "stale.png").write_bytes(b"old")
    assert write_report(folder) == out
    assert csv_bytes(out) == first
    assert not (out / "stale.png").exists()
    other = write_report(folder, folder.parent / "elsewhere")
    assert csv_bytes(other) == first


def test_not_a_finished_sweep_is_an_input_error_and_writes_nothing(copy_of, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="manifest.json: missing"):
        write_report(empty)
    assert list(empty.iterdir()) == []
    with pytest.raises(InputError, match="no such folder"):
        write_report(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()

    folder = copy_of("rules")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["status"] = "running"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError, match="not 'complete'") as err:
        write_report(folder)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="not 'complete'"):
        evaluate_folder_claims(folder)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_out_folder_with_other_files_is_refused(copy_of):
    folder = copy_of("one")
    with pytest.raises(InputError, match="not part of a report"):
        write_report(folder, folder)              # the sweep folder itself
    assert not (folder / "summary.md").exists()


def test_error_bars_of_a_yes_no_metric_stay_within_0_and_1():
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from chip4model.report.figures import _clipped_err

    sw = SimpleNamespace(runs=pd.DataFrame({"deterred": [True, False, True],
                                            "loss": [0.2, 0.7, 1.4]}))
    lo, hi = _clipped_err(sw, "deterred", np.array([0.8, 0.1]), np.array([0.46, 0.3]))
    assert np.allclose(0.8 + hi[0], 1.0) and np.allclose(0.1 - lo[1], 0.0)
    assert np.allclose(lo[0], 0.46) and np.allclose(hi[1], 0.3)
    same = _clipped_err(sw, "loss", np.array([0.8]), np.array([0.46]))
    assert np.array_equal(same, np.array([0.46]))
