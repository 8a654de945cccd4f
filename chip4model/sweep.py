"""Sweeps: map :func:`chip4model.run` over an experiment's design, streaming to Parquet.

Runs are grouped in chunks; each chunk is one task for a ``concurrent.futures``-style executor
(a local process pool, a Dask cluster's executor, or in-process for one worker). A finished
chunk is written at once as ``parts/runs-NNNNNN.parquet`` (and ``parts/ts-NNNNNN.parquet``),
atomically, so the coordinator never holds more than a few chunks and a killed sweep loses
nothing that finished. When every chunk is in, the parts are concatenated in run order into
``runs.parquet`` (one row per run) and ``timeseries.parquet``.

The output folder::

    manifest.json       what ran: experiment hash, version, git commit, sampler, seeds, times
    experiment.toml     a copy of the experiment file
    design.parquet      the sampled points (factor values; SALib's matrix as x_<factor>)
    runs.parquet        run_id, point, rep, seed, factors..., metrics..., status, error
    timeseries.parquet  run_id, week, entity, variable, value (if the experiment asks)

Every run's seed comes from the experiment's seed, and results are written in run order, so
the tables are identical whatever the executor, the number of workers or the completion order.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .errors import InputError
from .experiment import Design, Experiment, FactorSpec, apply_point, base_scenario, design
from .metrics import metric_value

RUNS_PER_CHUNK = 16      # ~1 s of work on the default graph: task overhead stays negligible
ROW_GROUP = 1024         # rows per Parquet row group: bounds what consolidation buffers
GC_EVERY = 200           # runs between full garbage collections in a worker
PART = "parts"


# --- the worker side -------------------------------------------------------------------------
@dataclass
class Chunk:
    """One task: a contiguous range of runs, with all they need (picklable)."""

    chunk_id: int
    base: object                 # the base Scenario
    factors: list[FactorSpec]
    runs: list[tuple[int, int, int, int, dict]]   # run_id, point, rep, seed, factor values
    metrics: list[str]
    timeseries: list[str]
    counterfactual: bool


def run_chunk(chunk: Chunk) -> tuple[int, dict, object]:
    """Run every run of ``chunk``; a failing run becomes a row with its error, not an exception.

    Returns (chunk id, columns of the runs table, time-series frame or None).
    """
    from .runner import run

    global _runs_since_gc
    cols: dict[str, list] = {k: [] for k in ("run_id", "point", "rep", "seed", "status",
                                             "error", *chunk.metrics)}
    series = []
    for run_id, point, rep, seed, values in chunk.runs:
        cols["run_id"].append(run_id)
        cols["point"].append(point)
        cols["rep"].append(rep)
        cols["seed"].append(seed)
        try:
            s = apply_point(chunk.base, chunk.factors, values)
            r = run(s, seed=seed, counterfactual=chunk.counterfactual)
            vals = [metric_value(r.summary, m) for m in chunk.metrics]
            if chunk.timeseries:
                ts = r.timeseries
                ts = ts[ts.variable.isin(chunk.timeseries)]
                ts.insert(0, "run_id", np.int64(run_id))
                series.append(ts)
            status, error = "ok", ""
        except Exception as exc:  # a failing run is recorded and the sweep goes on
            vals = [float("nan")] * len(chunk.metrics)
            status, error = "error", f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]
        cols["status"].append(status)
        cols["error"].append(error)
        _runs_since_gc += 1
        if _runs_since_gc >= GC_EVERY:
            # A model and its agents refer to each other: only a full collection frees them,
            # and Python runs one too rarely for a long-lived worker's memory to stay flat.
            gc.collect()
            _runs_since_gc = 0
        for m, v in zip(chunk.metrics, vals, strict=True):
            cols[m].append(v)
    ts_frame = None
    if series:
        import pandas as pd

        ts_frame = pd.concat(series, ignore_index=True)
    return chunk.chunk_id, cols, ts_frame


_runs_since_gc = 0


def _init_worker() -> None:
    """Process-pool workers leave Ctrl-C to the coordinator, which shuts them down cleanly,
    and exit on their own if the coordinator is killed outright (SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _worker_version() -> str:
    return f"{__version__} (code {code_fingerprint()[:12]})"


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of chip4model's own files (code, data tables, built-in scenarios): two processes
    with the same fingerprint compute the same results."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".csv", ".toml") and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


# --- executors -------------------------------------------------------------------------------
class SerialExecutor:
    """A ``concurrent.futures``-style executor that runs each task in this process on submit."""

    def submit(self, fn, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


@contextmanager
def single_threaded_numba() -> Iterator[None]:
    """Workers run one model each: numba's parallel kernel must not also use every core."""
    old = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = old


@contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None):
    """Yield (executor, parallel slots, description) for a local pool or a Dask cluster."""
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError) as exc:      # unreachable, or not an address at all
            raise InputError(scheduler, "--scheduler", f"cannot reach the Dask scheduler "
                             f"({exc}); allowed: an address like tcp://host:8786") from None
        try:
            versions = set(client.run(_worker_version).values())
            if versions and versions != {_worker_version()}:
                raise InputError(scheduler, "--scheduler", f"workers run chip4model "
                                 f"{', '.join(sorted(versions))}, this is "
                                 f"{_worker_version()} (install the same code on the workers)")
            slots = sum(w.get("nthreads", 1)
                        for w in client.scheduler_info()["workers"].values()) or 1
            yield client.get_executor(pure=False), slots, f"dask {scheduler}"
        finally:
            client.close()
        return
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        yield SerialExecutor(), 1, "in-process (1 worker)"
        return
    with single_threaded_numba():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                   initializer=_init_worker)
        try:
            yield pool, workers, f"process pool ({workers} workers)"
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


# --- progress --------------------------------------------------------------------------------
class Progress:
    """``runs done / total, rate, ETA`` on stderr: redrawn in place on a terminal, a line
    every 10% otherwise."""

    def __init__(self, total: int, done: int = 0, enabled: bool = True, stream=None):
        self.total, self.done, self.start_done = total, done, done
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.t0 = time.monotonic()
        self.next_line = 0.0

    def line(self) -> str:
        dt = time.monotonic() - self.t0
        n = self.done - self.start_done
        rate = n / dt if dt > 0 else 0.0
        left = self.total - self.done
        eta = f"{int(left / rate) // 60}:{int(left / rate) % 60:02d}" if rate > 0 else "?"
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {self.done}/{self.total} runs  {rate:.1f} runs/s  ETA {eta}"

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.tty:
            print("\r" + self.line(), end="", file=self.stream, flush=True)
        elif self.done / max(self.total, 1) >= self.next_line or self.done == self.total:
            print(self.line(), file=self.stream, flush=True)
            self.next_line = self.done / max(self.total, 1) + 0.1

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=self.stream, flush=True)


# --- the output folder -----------------------------------------------------------------------
def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_json(path: Path, doc: dict) -> None:
    _atomic_write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode())


def _write_table(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def runs_schema(exp: Experiment) -> pa.Schema:
    """Columns of ``runs.parquet``: ids, factors (float64 or string), metrics (float64)."""
    fields = [pa.field(k, pa.int64()) for k in ("run_id", "point", "rep", "seed")]
    fields += [pa.field(f.name, pa.float64() if f.numeric else pa.string())
               for f in exp.factors]
    fields += [pa.field(m, pa.float64()) for m in exp.metrics]
    fields += [pa.field("status", pa.string()), pa.field("error", pa.string())]
    return pa.schema(fields)


TS_SCHEMA = pa.schema([("run_id", pa.int64()), ("week", pa.int64()), ("entity", pa.string()),
                       ("variable", pa.string()), ("value", pa.float64())])


def _factor_column(f: FactorSpec, values: list):
    if f.numeric:
        return pa.array([float(v) for v in values], pa.float64())
    return pa.array([str(v) for v in values], pa.string())


def design_table(exp: Experiment, d: Design) -> pa.Table:
    cols = {"point": pa.array(np.arange(len(d.points)), pa.int64())}
    for f in exp.factors:
        cols[f.name] = _factor_column(f, [p[f.name] for p in d.points])
    if d.unit is not None:
        for j, f in enumerate(exp.factors):
            cols[f"x_{f.name}"] = pa.array(d.unit[:, j], pa.float64())
    return pa.table(cols)


def chunk_table(exp: Experiment, d: Design, cols: dict) -> pa.Table:
    schema = runs_schema(exp)
    points = [d.points[p] for p in cols["point"]]
    arrays = []
    for field in schema:
        name = field.name
        if name in ("run_id", "point", "rep", "seed"):
            arrays.append(pa.array(cols[name], pa.int64()))
        elif name in exp.factor_names:
            f = exp.factors[exp.factor_names.index(name)]
            arrays.append(_factor_column(f, [p[name] for p in points]))
        elif name in ("status", "error"):
            arrays.append(pa.array(cols[name], pa.string()))
        else:
            arrays.append(pa.array(cols[name], pa.float64()))
    return pa.Table.from_arrays(arrays, schema=schema)


def git_commit() -> str | None:
    """The commit of the source tree chip4model runs from (``+dirty`` if modified), if any."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SweepResult:
    out: Path
    n_runs: int
    failed: int
    status: str          # "complete" or "interrupted"
    ran: int             # runs executed by this call (0 if it was already complete)


class SweepInterrupted(Exception):
    """Ctrl-C (or SIGTERM) stopped the sweep; finished chunks are on disk, ``--resume`` goes on."""

    def __init__(self, out: Path, done: int, total: int):
        self.out, self.done, self.total = out, done, total
        super().__init__(f"interrupted after {done} of {total} runs")


def _chunks(d: Design, size: int) -> list[range]:
    return [range(a, min(a + size, d.n_runs)) for a in range(0, d.n_runs, size)]


def _done_chunks(parts: Path) -> set[int]:
    return {int(p.stem.split("-")[1]) for p in parts.glob("runs-*.parquet")}


def _check_out(out: Path, exp: Experiment, quick: bool, resume: bool) -> dict | None:
    """Validate the output folder before anything is written; return the manifest to resume."""
    manifest_path = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out", "is an existing file (allowed: a folder path)")
    if not resume:
        if out.exists() and any(out.iterdir()):
            raise InputError(out, "--out", "already holds files (use --resume to continue a "
                             "sweep there, or choose a new folder)")
        return None
    if not manifest_path.exists():
        if out.exists() and any(out.iterdir()):
            raise InputError(out, "--resume", "has no manifest.json: not a sweep folder")
        return None                       # nothing to resume: start afresh
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(manifest_path, "manifest", f"unreadable ({exc})") from None
    if manifest.get("experiment_sha256") != exp.digest:
        raise InputError(out, "--resume", f"was swept from a different version of "
                         f"{Path(exp.source).name} (the file changed; sweep into a new folder)")
    if bool(manifest.get("quick")) != quick:
        was = "with" if manifest.get("quick") else "without"
        raise InputError(out, "--resume", f"was swept {was} --quick; resume it the same way")
    return manifest


def sweep(exp: Experiment, out: str | Path, *, quick: bool = False, workers: int | None = None,
          scheduler: str | None = None, executor=None, resume: bool = False,
          chunk_size: int | None = None, progress: bool = True) -> SweepResult:
    """Run every run of ``exp`` into folder ``out`` and return what happened.

    ``executor`` (any object with ``submit`` returning futures) overrides ``workers`` and
    ``scheduler``. With ``resume``, chunks already on disk are kept and only the rest run.
    Raises :class:`InputError` before writing anything if the inputs are bad, and
    :class:`SweepInterrupted` on Ctrl-C after saving what finished.
    """
    out = Path(out)
    d = design(exp, quick)
    base = base_scenario(exp, d.steps)
    manifest = _check_out(out, exp, quick, resume)
    if workers is not None and workers < 1:
        raise InputError("--workers", "", f"{workers} is out of range (allowed: 1 or more)")
    if chunk_size is not None and chunk_size < 1:
        raise InputError("--chunk-size", "", f"{chunk_size} is out of range (allowed: 1 or more)")

    parts = out / PART
    if manifest is not None and manifest.get("status") == "complete":
        return SweepResult(out, manifest["n_runs"], manifest.get("failed", 0), "complete", 0)
    size = (manifest or {}).get("chunk_size") or chunk_size or RUNS_PER_CHUNK
    chunks = _chunks(d, size)

    def task(c: int) -> Chunk:
        runs = []
        for i in chunks[c]:
            values, p, r, seed = d.run(i)
            runs.append((i, p, r, seed, values))
        return Chunk(c, base, exp.factors, runs, exp.metrics, exp.timeseries, exp.counterfactual)

    def save(cid: int, cols: dict, ts) -> None:
        if exp.timeseries:
            _write_table(parts / f"ts-{cid:06d}.parquet", _ts_table(ts))
        _write_table(parts / f"runs-{cid:06d}.parquet", chunk_table(exp, d, cols))
        bar.update(len(cols["run_id"]))

    with _executor_for(executor, workers, scheduler) as (ex, slots, desc):
        # Nothing is written before the executor is up (a bad --scheduler leaves no folder).
        manifest = _start_session(out, exp, d, manifest, quick, size, desc)
        done = _done_chunks(parts)
        todo = [c for c in range(len(chunks)) if c not in done]
        bar = Progress(d.n_runs, sum(len(chunks[c]) for c in done), enabled=progress)
        try:
            _run_chunks(ex, max(2, 3 * slots), (task(c) for c in todo), save)
        except KeyboardInterrupt:
            bar.close()
            manifest["status"] = "interrupted"
            manifest["sessions"][-1]["ended"] = _now()
            _write_json(out / "manifest.json", manifest)
            raise SweepInterrupted(out, bar.done, d.n_runs) from None
    bar.close()
    failed = _consolidate(out, exp, len(chunks))
    manifest.update(status="complete", failed=failed, finished=_now())
    manifest["sessions"][-1]["ended"] = manifest["finished"]
    _write_json(out / "manifest.json", manifest)
    shutil.rmtree(parts, ignore_errors=True)
    return SweepResult(out, d.n_runs, failed, "complete", bar.done - bar.start_done)


def _start_session(out: Path, exp: Experiment, d: Design, manifest: dict | None, quick: bool,
                   size: int, desc: str) -> dict:
    """Write the manifest first (so a sweep killed at any point can be resumed), then the copy
    of the experiment file and the design, if they are not there yet."""
    if manifest is None:
        manifest = _new_manifest(exp, d, quick, size)
    manifest["status"] = "running"
    manifest.setdefault("sessions", []).append({"started": _now(), "executor": desc})
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "manifest.json", manifest)
    src = Path(exp.source)
    if src.is_file() and not (out / "experiment.toml").exists():
        _atomic_write_bytes(out / "experiment.toml", src.read_bytes())
    if not (out / "design.parquet").exists():
        _write_table(out / "design.parquet", design_table(exp, d))
    (out / PART).mkdir(exist_ok=True)
    return manifest


def _run_chunks(ex, window: int, tasks, save) -> None:
    """Submit chunks to ``ex`` keeping at most ``window`` in flight, and ``save`` each result
    as it comes back (in any order). On Ctrl-C the chunks not yet started are cancelled."""
    pending: set[Future] = set()
    try:
        while True:
            while len(pending) < window:
                chunk = next(tasks, None)
                if chunk is None:
                    break
                pending.add(ex.submit(run_chunk, chunk))
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                save(*fut.result())
    except KeyboardInterrupt:
        for fut in pending:
            fut.cancel()
        raise


@contextmanager
def _executor_for(executor, workers, scheduler):
    if executor is not None:
        slots = getattr(executor, "_max_workers", None) or workers or os.cpu_count() or 1
        yield executor, slots, type(executor).__name__
        return
    with open_executor(workers, scheduler) as opened:
        yield opened


def _ts_table(ts) -> pa.Table:
    if ts is None or len(ts) == 0:
        return TS_SCHEMA.empty_table()
    return pa.Table.from_pandas(ts, schema=TS_SCHEMA, preserve_index=False)


def _new_manifest(exp: Experiment, d: Design, quick: bool, size: int) -> dict:
    from .experiment import seeds_for

    sampler_seed, _ = seeds_for(exp, 1)
    return {
        "experiment": exp.name,
        "file": exp.source,
        "experiment_sha256": exp.digest,
        "chip4model_version": __version__,
        "git_commit": git_commit(),
        "code_sha256": code_fingerprint(),
        "python": sys.version.split()[0],
        "quick": quick,
        "sampler": exp.sampler.model_dump() | ({"n": exp.quick.n} if quick and exp.quick.n
                                                 else {}),
        "problem": d.problem,
        "seed": exp.seed,
        "sampler_seed": sampler_seed,
        "replication_seeds": d.seeds,
        "replications": d.replications,
        "steps": d.steps,
        "factors": [f.model_dump(exclude_none=True) | {"numeric": f.numeric}
                    for f in exp.factors],
        "metrics": exp.metrics,
        "timeseries": exp.timeseries,
        "n_points": len(d.points),
        "n_runs": d.n_runs,
        "chunk_size": size,
        "started": _now(),
        "finished": None,
        "status": "running",
        "failed": 0,
    }


class _RowGroups:
    """Write tables to a Parquet file in row groups of exactly ``size`` rows (the last one
    shorter), whatever sizes the tables come in: the file does not depend on the chunk size,
    and the writer's metadata stays small however many chunks there were."""

    def __init__(self, path: Path, schema: pa.Schema, size: int | None = None):
        self.writer = pq.ParquetWriter(path, schema)
        self.size, self.buffer, self.rows = size or ROW_GROUP, [], 0

    def write(self, table: pa.Table) -> None:
        self.buffer.append(table)
        self.rows += table.num_rows
        if len(self.buffer) >= 64:
            # many small tables cost far more memory than their rows: pack them into one
            self.buffer = [pa.concat_tables(self.buffer).combine_chunks()]
        if self.rows >= self.size:
            whole = pa.concat_tables(self.buffer)
            n = (self.rows // self.size) * self.size
            self.writer.write_table(whole.slice(0, n), row_group_size=self.size)
            rest = whole.slice(n)
            self.buffer, self.rows = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> None:
        if self.rows:
            self.writer.write_table(pa.concat_tables(self.buffer), row_group_size=self.size)
        self.writer.close()


def _consolidate(out: Path, exp: Experiment, n_chunks: int) -> int:
    """Concatenate the parts in run order into runs.parquet (and timeseries.parquet);
    return the number of failed runs."""
    parts = out / PART
    failed = 0
    tmp = out / "runs.parquet.tmp"
    w = _RowGroups(tmp, runs_schema(exp))
    for c in range(n_chunks):
        t = pq.read_table(parts / f"runs-{c:06d}.parquet")
        failed += int(np.sum(np.asarray(t.column("status").to_pylist()) != "ok"))
        w.write(t)
    w.close()
    os.replace(tmp, out / "runs.parquet")
    if exp.timeseries:
        tmp = out / "timeseries.parquet.tmp"
        w = _RowGroups(tmp, TS_SCHEMA, ROW_GROUP * 16)
        for c in range(n_chunks):
            w.write(pq.read_table(parts / f"ts-{c:06d}.parquet"))
        w.close()
        os.replace(tmp, out / "timeseries.parquet")
    return failed


def read_runs(out: str | Path):
    """The runs table of a finished sweep, as a pandas DataFrame."""
    p = Path(out) / "runs.parquet"
    if not p.exists():
        raise InputError(out, "runs.parquet", "missing: the sweep has not finished "
                         "(continue it with chip4 sweep ... --resume)")
    return pq.read_table(p).to_pandas()


def read_manifest(out: str | Path) -> dict:
    p = Path(out) / "manifest.json"
    if not p.exists():
        raise InputError(out, "manifest.json", "missing: not a chip4 sweep folder")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(p, "manifest", f"not valid JSON ({exc})") from None
