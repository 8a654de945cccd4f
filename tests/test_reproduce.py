"""``chip4 reproduce``: sweeps, reports and claims, with the exit code saying whether they hold."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPOSED = ROOT / "experiments" / "who_is_exposed.toml"


@pytest.fixture
def exposed(tmp_path) -> Path:
    """who_is_exposed (4 quick runs) with its scenarios folder, copied where a test may edit it."""
    shutil.copytree(ROOT / "experiments" / "scenarios", tmp_path / "scenarios")
    path = tmp_path / "who_is_exposed.toml"
    path.write_text(EXPOSED.read_text())
    return path


def test_every_claim_holds_and_reports_are_written(run_cli, exposed, tmp_path):
    out = tmp_path / "out"
    r = run_cli(["reproduce", "--quick", exposed, "--out", out, "--workers", "1",
                 "--no-progress"])
    assert r.rc == 0, r.out + r.err
    lines = r.out.splitlines()
    claims = [ln for ln in lines if ln.startswith(("PASS", "FAIL"))]
    assert len(claims) == 5 and all(ln.startswith("PASS") for ln in claims)
    assert "5 of 5 claims hold" in lines[-1]
    folder = out / "who_is_exposed-quick"
    assert (folder / "runs.parquet").exists()
    assert (folder / "report" / "summary.md").exists()
    import pandas as pd

    table = pd.read_csv(folder / "report" / "claims.csv")
    assert len(table) == 5 and table["passed"].all()


def test_a_false_claim_fails_with_exit_code_1(run_cli, exposed, tmp_path):
    text = exposed.read_text().replace("argmin(mean(target.net_loss_pct) by target) == USA",
                                       "argmin(mean(target.net_loss_pct) by target) == KOR")
    assert "== KOR" in text
    exposed.write_text(text)
    r = run_cli(["reproduce", "--quick", exposed, "--out", tmp_path / "out", "--workers", "1",
                 "--no-progress"])
    assert r.rc == 1
    fails = [ln for ln in r.out.splitlines() if ln.startswith("FAIL")]
    assert fails == ["FAIL  The United States is the least exposed"]
    assert "USA == KOR" in r.out  # the measured value is printed next to the claim
    assert "4 of 5 claims hold" in r.out


def test_a_numeric_claim_made_false_fails(run_cli, exposed, tmp_path):
    text = exposed.read_text().replace(
        "max(mean(target.alignment | target!=USA, target!=JPN) by target) < 0.1",
        "max(mean(target.alignment | target!=USA, target!=JPN) by target) > 0.1")
    exposed.write_text(text)
    r = run_cli(["reproduce", "--quick", exposed, "--out", tmp_path / "out", "--workers", "1",
                 "--no-progress"])
    assert r.rc == 1
    assert sum(ln.startswith("FAIL") for ln in r.out.splitlines()) == 1


def test_a_malformed_experiment_stops_everything_before_running(run_cli, exposed, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(exposed.read_text().replace('method = "full_factorial"',
                                               'method = "fractional"'))
    out = tmp_path / "out"
    r = run_cli(["reproduce", "--quick", exposed, bad, "--out", out, "--no-progress"])
    assert r.rc == 2
    assert len(r.err_lines) == 1
    assert str(bad) in r.err and "sampler.method" in r.err and "full_factorial" in r.err
    assert not out.exists()  # the good experiment did not run either


def test_an_identical_finished_sweep_is_reused(run_cli, exposed, tmp_path):
    out = tmp_path / "out"
    args = ["reproduce", "--quick", exposed, "--out", out, "--workers", "1", "--no-progress"]
    assert run_cli(args).rc == 0
    runs = out / "who_is_exposed-quick" / "runs.parquet"
    before = runs.read_bytes()
    assert run_cli(args).rc == 0
    assert runs.read_bytes() == before


def test_a_sweep_made_by_other_code_is_swept_again(run_cli, exposed, tmp_path):
    import json

    out = tmp_path / "out"
    args = ["reproduce", "--quick", exposed, "--out", out, "--workers", "1", "--no-progress"]
    assert run_cli(args).rc == 0
    manifest = out / "who_is_exposed-quick" / "manifest.json"
    doc = json.loads(manifest.read_text())
    first = doc["started"]
    doc["code_sha256"] = "0" * 64               # as if swept by another version of the model
    doc["started"] = "2000-01-01T00:00:00+00:00"
    manifest.write_text(json.dumps(doc))
    assert run_cli(args).rc == 0
    again = json.loads(manifest.read_text())
    assert again["code_sha256"] != "0" * 64 and again["started"] != "2000-01-01T00:00:00+00:00"
    assert again["started"] >= first
