"""Writing a report folder: every file built in a temporary folder, then moved into place.

A failure leaves no partial report, and an earlier report in the same place is replaced
only once the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import InputError
from .claims import claims_frame, sweep_claims
from .figures import figures
from .indices import sensitivity_long
from .markdown import summary_md
from .sweep import Sweep, load_sweep, points_table, write_csv

REPORT_SUFFIXES = (".md", ".csv", ".png")


def _check_out(out: Path) -> None:
    """``out`` must be new, empty, or an earlier report (only .md, .csv and .png files)."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out", "is an existing file (allowed: a folder path)")
    if out.is_dir():
        other = [p.name for p in out.iterdir()
                 if not (p.is_file() and p.suffix in REPORT_SUFFIXES)]
        if other:
            raise InputError(out, "--out", f"holds files that are not part of a report "
                             f"({', '.join(sorted(other)[:3])}); choose another folder")


def _write_all(sw: Sweep, tmp: Path, results: list) -> None:
    write_csv(points_table(sw), tmp / "points.csv")
    sens, sens_notes = sw.sensitivity
    for m, table in sens.items():
        write_csv(table, tmp / f"sensitivity_{sw.slugs[m]}.csv")
    if sw.method in ("sobol", "morris"):
        write_csv(sensitivity_long(sw), tmp / "sensitivity.csv")
    write_csv(claims_frame(results), tmp / "claims.csv")
    figs, fig_notes = figures(sw, tmp, sens)
    text = summary_md(sw, figs, fig_notes, sens, sens_notes, results)
    (tmp / "summary.md").write_text(text, encoding="utf-8")


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished report ``tmp`` to ``out``, replacing an earlier report."""
    mask = os.umask(0o022)
    os.umask(mask)
    tmp.chmod(0o777 & ~mask)
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def write_report(folder, out=None) -> Path:
    """Write the report of the finished sweep in ``folder`` to ``out`` (default
    ``folder/report``) and return ``out``.

    Raises :class:`InputError`, writing nothing, if ``folder`` is not a finished sweep or
    ``out`` holds other files. The report is built in a temporary folder and moved into place
    at the end, so a failure leaves no partial report.
    """
    return report_with_claims(folder, out)[0]


def report_with_claims(folder, out=None) -> tuple[Path, list]:
    """As :func:`write_report`, and also return the claims it evaluated (the
    :class:`~chip4model.claims.ClaimResult` list behind claims.csv), so that a caller who
    prints them need not read the sweep and compute its indices again."""
    sw = load_sweep(folder)
    out = Path(out) if out is not None else sw.folder / "report"
    _check_out(out)
    results = sweep_claims(sw)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _write_all(sw, tmp, results)
        _replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out, results
