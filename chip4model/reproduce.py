"""``chip4 reproduce``: sweep each experiment, write its report and check its claims.

Every experiment file is loaded and checked before anything runs, so a malformed one stops
the command at once (exit 2) with nothing written. Each experiment's results go to
``OUT/<name>`` (``OUT/<name>-quick`` with ``--quick``). A folder from an earlier, identical
sweep (same experiment file, same chip4model files: ``code_sha256`` in its manifest) is
reused, an interrupted one is resumed, and any other is replaced. The exit code is 0 if every
claim holds, 1 if any fails or any run failed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .errors import InputError
from .experiment import Experiment, load_experiment


def experiment_files(paths: list[str]) -> list[Path]:
    """The files to reproduce: the given ones, else every ``experiments/*.toml``."""
    if paths:
        return [Path(p) for p in paths]
    files = sorted(Path("experiments").glob("*.toml"))
    if not files:
        raise InputError("experiments", "", "no experiment files found (run from the "
                         "repository root, or give experiment .toml paths)")
    return files


def _prepare_folder(folder: Path, exp: Experiment, quick: bool) -> None:
    """Keep a folder this exact sweep can reuse or resume; clear one from another sweep."""
    from .sweep import code_fingerprint, read_manifest

    if not folder.exists():
        return
    if not (folder / "manifest.json").exists():
        if any(folder.iterdir()):
            raise InputError(folder, "--out", "holds files that are not a chip4 sweep "
                             "(choose another --out)")
        return
    m = read_manifest(folder)
    same_code = m.get("code_sha256") == code_fingerprint()
    if m.get("experiment_sha256") == exp.digest and bool(m.get("quick")) == quick \
            and (same_code or m.get("status") != "complete"):
        return
    shutil.rmtree(folder)


def reproduce(paths: list[str], *, quick: bool = False, out: str = "results/reproduce",
              workers: int | None = None, scheduler: str | None = None,
              chunk_size: int | None = None, progress: bool = True, stream=None) -> int:
    """Run, report and check every experiment; print each claim with PASS/FAIL."""
    from .claims import format_results
    from .report import report_with_claims
    from .sweep import SweepInterrupted, sweep

    stream = stream or sys.stdout
    experiments = [load_experiment(p) for p in experiment_files(paths)]
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(dup, "name", "two experiment files share this name (each needs its "
                         "own results folder)")
    total = passed = failed_runs = 0
    for exp in experiments:
        folder = Path(out) / (exp.name + ("-quick" if quick else ""))
        _prepare_folder(folder, exp, quick)
        print(f"== {exp.name}{' (quick)' if quick else ''}: {exp.question or exp.description}",
              file=stream, flush=True)
        try:
            res = sweep(exp, folder, quick=quick, workers=workers, scheduler=scheduler,
                        resume=True, chunk_size=chunk_size, progress=progress)
        except SweepInterrupted as exc:
            print(f"chip4: {exc}; run the same command again to continue", file=sys.stderr)
            return 130
        report, results = report_with_claims(folder)
        print(f"   {res.n_runs} runs"
              + (f", {res.failed} failed" if res.failed else "")
              + f"; report: {report / 'summary.md'}", file=stream)
        if results:
            print(format_results(results), file=stream)
        total += len(results)
        passed += sum(r.passed for r in results)
        failed_runs += res.failed
        print(file=stream, flush=True)
    print(f"{passed} of {total} claims hold across {len(experiments)} experiment(s)"
          + (f"; {failed_runs} run(s) failed" if failed_runs else ""), file=stream)
    return 0 if passed == total and not failed_runs else 1
