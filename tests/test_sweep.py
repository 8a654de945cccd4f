"""Sweeps: identical tables whatever the executor, kill and resume, refusals, failing runs,
progress and time series. Real executors (in-process, a spawn process pool, a local Dask
cluster) and the real ``chip4`` command; small experiments of 20-30 weeks."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from chip4model.experiment import apply_point, base_scenario, design, load_experiment
from chip4model.graph import default_graph, write_graph
from chip4model.metrics import metric_value
from chip4model.runner import run
from chip4model.sweep import read_manifest, read_runs, sweep

SMALL = """\
name = "small"
steps = 20
seed = 5
replications = 2
metrics = ["absorption_ratio", "KOR.net_loss_pct", "retaliation.started",
           "retaliation.weeks_active"]
timeseries = ["retaliation_intensity"]

[[factors]]
name = "rules"
kind = "rules"
values = ["none", "market_absorption", "all"]

[[factors]]
name = "resolve"
set = ["china.resolve"]
values = [0.3, 0.9]

[quick]
replications = 1
"""

# 2 x 3 points x 16 replications = 96 runs: long enough to be stopped half-way
LONG = """\
name = "long"
steps = 30
seed = 9
replications = 16
metrics = ["absorption_ratio", "KOR.net_loss_pct", "retaliation.weeks_active"]

[[factors]]
name = "rules"
kind = "rules"
values = ["none", "all"]

[[factors]]
name = "resolve"
set = ["china.resolve"]
values = [0.3, 0.6, 0.9]
"""


def write(folder: Path, text: str, name: str = "exp.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- 1. the same table whatever executes it --------------------------------------------------
# A Dask LocalCluster sets OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1 for its workers (and in
# this process's environment): results must not depend on that, which
# test_results_do_not_depend_on_blas_threads checks directly.


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    environ = dict(os.environ)          # LocalCluster sets *_NUM_THREADS, PYTHONHASHSEED here
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as c:
            yield c
    finally:
        os.environ.clear()
        os.environ.update(environ)


def test_same_tables_whatever_the_executor_and_chunk_size(tmp_path, cluster, chip4_exe):
    exp_file = write(tmp_path, SMALL)
    exp = load_experiment(exp_file)
    p = subprocess.run([chip4_exe, "sweep", exp_file, "--out", tmp_path / "serial",
                        "--workers", "1", "--chunk-size", "3", "--no-progress"],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    runs = {
        "pool": dict(workers=2, chunk_size=3),
        "dask": dict(scheduler=cluster.scheduler_address, chunk_size=3),
        "dask-chunk5": dict(scheduler=cluster.scheduler_address, chunk_size=5),
        "here": dict(workers=1, chunk_size=3),
    }
    for name, kw in runs.items():
        res = sweep(exp, tmp_path / name, progress=False, **kw)
        assert (res.status, res.n_runs, res.ran, res.failed) == ("complete", 12, 12, 0)

    executors = {k: read_manifest(tmp_path / k)["sessions"][0]["executor"]
                 for k in ("serial", *runs)}
    assert executors["serial"] == executors["here"] == "in-process (1 worker)"
    assert executors["pool"] == "process pool (2 workers)"
    assert executors["dask"] == f"dask {cluster.scheduler_address}"

    ref = read_runs(tmp_path / "serial")
    assert list(ref.run_id) == list(range(12))
    assert (ref.status == "ok").all()
    assert ref["KOR.net_loss_pct"].notna().all()
    assert ref["KOR.net_loss_pct"].nunique() > 6            # not a constant table
    ref_ts = pd.read_parquet(tmp_path / "serial" / "timeseries.parquet")
    for name in ("pool", "dask", "dask-chunk5"):
        assert_frame_equal(read_runs(tmp_path / name), ref, check_exact=True)
        assert_frame_equal(pd.read_parquet(tmp_path / name / "timeseries.parquet"), ref_ts,
                           check_exact=True)
    # the files are byte for byte the same, whatever the chunk size
    for name in ("pool", "dask", "dask-chunk5"):
        for f in ("runs.parquet", "timeseries.parquet", "design.parquet"):
            assert (tmp_path / name / f).read_bytes() == (tmp_path / "serial" / f).read_bytes()
    # and in this process
    assert_frame_equal(read_runs(tmp_path / "here"), ref, check_exact=True)


def test_results_do_not_depend_on_blas_threads(chip4_exe, tmp_path):
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
        p = subprocess.run([chip4_exe, "run", "kor-aligns-collective", "--steps", "10",
                            "--json"], capture_output=True, text=True, env=env, check=False)
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]


def test_rows_are_the_runs_they_say(tmp_path):
    """A row's metrics are those of run() on its point's scenario with its seed."""
    exp = load_experiment(write(tmp_path, SMALL))
    sweep(exp, tmp_path / "out", workers=1, progress=False)
    table = read_runs(tmp_path / "out")
    d = design(exp)
    base = base_scenario(exp, d.steps)
    for run_id in (0, 7, 11):
        values, point, rep, seed = d.run(run_id)
        row = table.iloc[run_id]
        assert (row.run_id, row.point, row.rep, row.seed) == (run_id, point, rep, seed)
        assert (row.rules, row.resolve) == (values["rules"], values["resolve"])
        r = run(apply_point(base, exp.factors, values), seed=seed)
        for m in exp.metrics:
            assert row[m] == pytest.approx(metric_value(r.summary, m), nan_ok=True)
    # replication k of every point shares seed k
    assert table.groupby("rep").seed.nunique().eq(1).all()
    assert table.groupby("point").seed.nunique().eq(2).all()


# --- 2. kill and resume ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    """The LONG experiment swept without interruption (in-process)."""
    folder = tmp_path_factory.mktemp("long-ref")
    exp = load_experiment(write(folder, LONG))
    sweep(exp, folder / "out", workers=1, chunk_size=2, progress=False)
    return read_runs(folder / "out")


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (Linux /proc)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _wait_until(cond, what: str, limit: float = 120.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs POSIX and /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_stopped_sweep_resumes_to_the_uninterrupted_table(tmp_path, chip4_exe, run_cli,
                                                          long_reference, sig):
    exp = write(tmp_path, LONG)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([chip4_exe, "sweep", exp, "--out", out, "--workers", "2",
                             "--chunk-size", "2", "--no-progress"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        def started():
            if proc.poll() is not None:
                pytest.fail(f"the sweep ended (rc {proc.returncode}) before it could be "
                            f"stopped: {proc.communicate()}")
            return any((out / "parts").glob("runs-*.parquet"))

        _wait_until(started, "a first part file")
        assert not (out / "runs.parquet").exists()
        os.killpg(proc.pid, sig)            # the whole group, as Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=120)
        _wait_until(lambda: not _alive_in_group(proc.pid), "the worker processes to end")
    finally:
        if proc.poll() is None or _alive_in_group(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    manifest = json.loads((out / "manifest.json").read_text())
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert manifest["status"] == "running"
    else:
        assert proc.returncode == 130, stderr
        assert manifest["status"] == "interrupted"
        last = stderr.strip().splitlines()[-1]
        assert re.match(r"chip4: interrupted after \d+ of 96 runs", last), stderr
        assert f"chip4 sweep {exp} --out {out} --resume" in last
    assert not (out / "runs.parquet").exists()
    kept = len(list((out / "parts").glob("runs-*.parquet")))
    assert 0 < kept < 48

    r = run_cli(["sweep", exp, "--out", out, "--resume", "--workers", "1", "--no-progress"])
    assert r.rc == 0, r.err
    assert f"96 runs ({96 - 2 * kept} this time)" in r.out    # finished chunks were kept
    table = read_runs(out)
    assert sorted(table.run_id) == list(range(96))              # none missing, none twice
    assert_frame_equal(table, long_reference, check_exact=True)
    manifest = read_manifest(out)
    assert manifest["status"] == "complete" and len(manifest["sessions"]) == 2
    assert not (out / "parts").exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs POSIX and /proc")
def test_workers_exit_when_the_coordinator_alone_is_killed(tmp_path, chip4_exe):
    """SIGKILL to the coordinator only (not its group): its pool workers notice and exit."""
    exp = write(tmp_path, LONG)
    out = tmp_path / "out"
    proc = subprocess.Popen([chip4_exe, "sweep", exp, "--out", out, "--workers", "2",
                             "--chunk-size", "2", "--no-progress"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: any((out / "parts").glob("runs-*.parquet")) or
                    proc.poll() is not None, "a first part file")
        assert proc.poll() is None, "the sweep ended before it could be killed"
        workers = [pid for pid in _alive_in_group(proc.pid) if pid != proc.pid]
        assert workers                          # the pool's processes (and resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_until(lambda: not [p for p in _alive_in_group(proc.pid) if p in workers
                                 and _is_worker(p)], "the orphaned workers to exit")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _is_worker(pid: int) -> bool:
    """A pool worker runs multiprocessing's spawn main (the resource tracker does not)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"spawn_main" in cmd


# --- 3. what --resume and --out refuse ---------------------------------------------------------
TINY = """\
name = "tiny"
steps = 20
seed = 1
metrics = ["KOR.net_loss_pct"]

[[factors]]
name = "resolve"
set = ["china.resolve"]
values = [0.3, 0.9]

[quick]
steps = 10
"""


def test_resume_refusals_and_no_op(tmp_path, run_cli):
    exp = write(tmp_path, TINY)
    out = tmp_path / "out"
    r = run_cli(["sweep", exp, "--out", out, "--workers", "1", "--no-progress"])
    assert r.rc == 0, r.err
    before = snapshot(out)
    assert {"manifest.json", "experiment.toml", "design.parquet", "runs.parquet"} <= set(before)

    # --resume on a complete sweep: nothing to do, nothing touched
    r = run_cli(["sweep", exp, "--out", out, "--resume", "--workers", "1", "--no-progress"])
    assert r.rc == 0 and "already complete (2 runs)" in r.out and r.err == ""
    assert snapshot(out) == before

    def refused(args, *words):
        r = run_cli(args)
        assert r.rc == 2 and r.out == "", (r.rc, r.out, r.err)
        assert len(r.err_lines) == 1 and r.err_lines[0].startswith("chip4: error: "), r.err
        for w in words:
            assert w in r.err_lines[0], r.err
        assert snapshot(out) == before

    # without --resume, a folder that holds files is refused
    refused(["sweep", exp, "--out", out, "--workers", "1"], str(out), "--out",
            "already holds files", "--resume")
    # a quick/non-quick mismatch
    refused(["sweep", exp, "--out", out, "--resume", "--quick"], "--resume",
            "without --quick")
    # the experiment file changed (even by a comment)
    exp.write_text(TINY + "# changed\n", encoding="utf-8")
    refused(["sweep", exp, "--out", out, "--resume"], str(out), "--resume",
            "different version of exp.toml")

    # and the other way round: a --quick sweep resumed without --quick
    exp.write_text(TINY, encoding="utf-8")
    quick_out = tmp_path / "quick"
    assert run_cli(["sweep", exp, "--out", quick_out, "--quick", "--workers", "1",
                    "--no-progress"]).rc == 0
    assert read_manifest(quick_out)["steps"] == 10
    r = run_cli(["sweep", exp, "--out", quick_out, "--resume"])
    assert r.rc == 2 and len(r.err_lines) == 1 and "with --quick" in r.err


def test_empty_out_folder_is_fine_and_a_file_is_refused(tmp_path, run_cli):
    exp = write(tmp_path, TINY)
    (tmp_path / "empty").mkdir()
    r = run_cli(["sweep", exp, "--out", tmp_path / "empty", "--workers", "1", "--no-progress"])
    assert r.rc == 0, r.err
    (tmp_path / "file").write_text("x")
    r = run_cli(["sweep", exp, "--out", tmp_path / "file", "--workers", "1"])
    assert r.rc == 2 and len(r.err_lines) == 1 and "is an existing file" in r.err
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize(("args", "words"), [
    (["--workers", "0"], ["chip4: error: --workers: 0 is out of range", "allowed: 1 or more"]),
    (["--chunk-size", "0"], ["chip4: error: --chunk-size: 0 is out of range",
                             "allowed: 1 or more"]),
    (["--scheduler", "foo://bar"], ["chip4: error: foo://bar: --scheduler: cannot reach",
                                    "unknown address scheme", "allowed: an address like tcp://"]),
], ids=["workers", "chunk-size", "scheduler"])
def test_bad_executor_arguments_write_nothing(tmp_path, run_cli, args, words):
    exp = write(tmp_path, TINY)
    r = run_cli(["sweep", exp, "--out", tmp_path / "out", *args])
    assert r.rc == 2 and len(r.err_lines) == 1, r.err
    for w in words:
        assert w in r.err, r.err
    assert not (tmp_path / "out").exists()


# --- 4. a failing run is recorded --------------------------------------------------------------
def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, run_cli):
    # the graph path is not read when the experiment is checked, only when a run starts
    good = write_graph(default_graph(), tmp_path / "default.graphml")
    missing = tmp_path / "no-such-graph.graphml"
    exp = write(tmp_path, f"""\
name = "failing"
steps = 20
replications = 2
metrics = ["KOR.net_loss_pct", "absorption_ratio"]

[[factors]]
name = "graph"
set = ["graph"]
values = ["{good}", "{missing}"]

[[factors]]
name = "rules"
kind = "rules"
values = ["none", "all"]
""")
    out = tmp_path / "out"
    r = run_cli(["sweep", exp, "--out", out, "--workers", "1", "--chunk-size", "3",
                 "--no-progress"])
    assert r.rc == 1
    assert r.err_lines == ["chip4: 4 of 8 runs failed; their errors are in the 'error' column "
                           "of runs.parquet"]
    table = read_runs(out)
    assert list(table.run_id) == list(range(8))
    bad = table[table.graph == str(missing)]
    ok = table[table.graph == str(good)]
    assert len(bad) == 4 and (bad.status == "error").all()
    assert bad.error.str.contains("no-such-graph.graphml").all()
    assert bad.error.str.contains("no such file").all()
    assert bad["KOR.net_loss_pct"].isna().all()
    assert (ok.status == "ok").all() and (ok.error == "").all()
    assert ok["KOR.net_loss_pct"].notna().all()
    manifest = read_manifest(out)
    assert manifest["status"] == "complete" and manifest["failed"] == 4


# --- 5. progress -------------------------------------------------------------------------------
def test_progress_lines_on_a_non_tty(tmp_path, run_cli):
    exp = write(tmp_path, TINY.replace("seed = 1", "seed = 1\nreplications = 10"))
    r = run_cli(["sweep", exp, "--out", tmp_path / "out", "--workers", "1",
                 "--chunk-size", "1"])
    assert r.rc == 0, r.err
    assert "\r" not in r.err
    done = []
    for line in r.err_lines:
        m = re.match(r"\[[#.]{24}\] (\d+)/20 runs  \d+\.\d runs/s  ETA \S+$", line)
        assert m, line
        done.append(int(m.group(1)))
    assert done == sorted(done) and done[-1] == 20
    assert 5 <= len(done) <= 11                 # about one line per 10%, not one per chunk
    assert "#" * 24 in r.err_lines[-1]

    r = run_cli(["sweep", exp, "--out", tmp_path / "quiet", "--workers", "1", "--no-progress"])
    assert r.rc == 0 and r.err == ""


# --- 6. time series ----------------------------------------------------------------------------
def test_timeseries_for_every_run(tmp_path):
    exp = load_experiment(write(tmp_path, SMALL.replace(
        'timeseries = ["retaliation_intensity"]',
        'timeseries = ["alignment", "retaliation_intensity"]')))
    sweep(exp, tmp_path / "out", workers=1, chunk_size=5, progress=False)
    ts = pd.read_parquet(tmp_path / "out" / "timeseries.parquet")
    assert list(ts.columns) == ["run_id", "week", "entity", "variable", "value"]
    assert str(ts.run_id.dtype) == "int64" and str(ts.week.dtype) == "int64"
    assert str(ts.value.dtype) == "float64"
    assert sorted(ts.run_id.unique()) == list(range(12))
    assert list(ts.run_id) == sorted(ts.run_id)                  # in run order
    for _, g in ts.groupby("run_id"):
        assert set(g.variable) == {"alignment", "retaliation_intensity"}
        for _, gv in g.groupby(["variable", "entity"]):
            assert list(gv.week) == list(range(1, 21))
    # run 5's rows are that run's own time series
    d = design(exp)
    values, _, _, seed = d.run(5)
    r = run(apply_point(base_scenario(exp, d.steps), exp.factors, values), seed=seed)
    want = r.timeseries[r.timeseries.variable.isin(["alignment", "retaliation_intensity"])]
    got = ts[ts.run_id == 5].drop(columns="run_id")
    assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                       check_dtype=False)
    assert np.isfinite(got.value).all()


def test_row_groups_do_not_follow_the_chunks(tmp_path, monkeypatch):
    """runs.parquet is cut into fixed-size row groups, not one per chunk: the file is the same
    for any chunk size and its metadata does not grow with the number of chunks."""
    import chip4model.sweep as sw

    monkeypatch.setattr(sw, "ROW_GROUP", 5)
    exp = load_experiment(write(tmp_path, SMALL))
    for size in (1, 3, 7):
        sweep(exp, tmp_path / f"c{size}", workers=1, chunk_size=size, progress=False)
    files = [pq.ParquetFile(tmp_path / f"c{size}" / "runs.parquet") for size in (1, 3, 7)]
    assert [f.metadata.row_group(i).num_rows for f in files[:1]
            for i in range(f.num_row_groups)] == [5, 5, 2]
    blobs = {(tmp_path / f"c{size}" / "runs.parquet").read_bytes() for size in (1, 3, 7)}
    assert len(blobs) == 1
