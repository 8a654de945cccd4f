"""What the dashboard's "Sweep results" view shows of a ``chip4 sweep`` folder (no Solara).

:func:`find_sweeps` lists the finished sweep folders under a root. :func:`open_sweep` reads one
into a :class:`SweepView`: the experiment, its design, the claims with PASS/FAIL, the Sobol or
Morris indices, the table of design points and the report's figures. It reads DIR/report when
``chip4 report`` (or :func:`make_report`) has written it; otherwise it computes the tables with
:mod:`chip4model.report`, writing nothing, and the view has no figures. It never raises: a
folder it cannot show (not a sweep, an interrupted sweep, unreadable files) gives a view whose
:attr:`SweepView.error` says why in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

MAX_DEPTH = 3             # how deep under the root find_sweeps looks
CLAIM_COLUMNS = ["status", "claim", "measured", "detail", "check"]
FIGURE_KINDS = ("heatmap", "by", "scatter", "distributions", "sobol", "morris")
SAMPLERS = {"full_factorial": "full factorial", "latin_hypercube": "Latin hypercube",
            "sobol": "Sobol (Saltelli)", "morris": "Morris"}


# --- finding sweep folders -------------------------------------------------------------------
def is_sweep(folder: Path) -> bool:
    """A finished sweep folder: it holds manifest.json and runs.parquet."""
    return (folder / "manifest.json").is_file() and (folder / "runs.parquet").is_file()


def find_sweeps(root) -> list[Path]:
    """The sweep folders at or under ``root`` (up to :data:`MAX_DEPTH` levels down), sorted.

    Hidden folders and the insides of sweep folders are not searched; unreadable folders are
    skipped.
    """
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        if is_sweep(folder):
            found.append(folder)
            return
        if depth >= MAX_DEPTH:
            return
        try:
            subs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            return
        for sub in subs:
            walk(sub, depth + 1)

    root = Path(root)
    if root.is_dir():
        walk(root, 0)
    return sorted(found)


# --- what the view shows ---------------------------------------------------------------------
@dataclass
class Design:
    """The design of a sweep, and how far it got."""

    sampler: str              # e.g. "full factorial", "Sobol (Saltelli), N = 32"
    points: int
    replications: int
    runs_done: int
    runs_total: int
    failed: int
    quick: bool
    factors: list[str]
    metrics: list[str]

    def line(self) -> str:
        """One line, e.g. "full factorial: 12 points x 2 replications; 24 of 24 runs, 0 failed"."""
        quick = " (quick mode)" if self.quick else ""
        return (f"{self.sampler}: {self.points} point{'s' * (self.points != 1)} x "
                f"{self.replications} replication{'s' * (self.replications != 1)}{quick}; "
                f"{self.runs_done} of {self.runs_total} runs done, {self.failed} failed")


@dataclass
class Figure:
    """A figure of the report: its PNG, a short title and a caption."""

    path: Path
    title: str
    caption: str
    data: bytes = field(repr=False, default=b"")

    @property
    def sensitivity(self) -> bool:
        """A Sobol or Morris figure (shown with the indices)."""
        return self.path.name.startswith(("sobol_", "morris_"))

    @property
    def width(self) -> int:
        """The PNG's width in pixels (0 if the header is not a PNG's)."""
        ok = self.data[:8] == b"\x89PNG\r\n\x1a\n" and self.data[12:16] == b"IHDR"
        return int.from_bytes(self.data[16:20], "big") if ok else 0


@dataclass(eq=False)
class SweepView:
    """Everything the view shows of one sweep folder; ``error`` set if it cannot show it.

    Views compare by identity (the tables are DataFrames): a folder opened again is a new view.
    """

    folder: Path
    error: str | None = None
    name: str = ""
    question: str = ""
    description: str = ""
    design: Design | None = None
    claims: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CLAIM_COLUMNS))
    claims_note: str = ""     # why there are no claims, if there are none
    sensitivity: pd.DataFrame | None = None
    points: pd.DataFrame | None = None
    figures: list[Figure] = field(default_factory=list)
    has_report: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def report(self) -> Path:
        return self.folder / "report"

    @property
    def passed(self) -> int:
        return int((self.claims["status"] == "PASS").sum())


# --- opening a folder ------------------------------------------------------------------------
def open_sweep(folder) -> SweepView:
    """Read a sweep folder for the view; never raises (see :attr:`SweepView.error`)."""
    folder = Path(str(folder).strip() or ".").expanduser()
    try:
        return _open(folder)
    except InputError as exc:
        return SweepView(folder, error=exc.one_line())
    except Exception as exc:  # noqa: BLE001 - whatever goes wrong, the UI shows one line
        why = " ".join(str(exc).split()) or "no details"
        return SweepView(folder, error=f"{folder}: cannot read it ({type(exc).__name__}: {why})")


def _open(folder: Path) -> SweepView:
    from ..report import load_sweep
    from ..sweep import read_manifest

    if not folder.is_dir():
        why = "is a file, not a sweep folder" if folder.exists() else "no such folder"
        return SweepView(folder, error=f"{folder}: {why}")
    manifest = read_manifest(folder)
    if not isinstance(manifest, dict):
        return SweepView(folder, error=f"{folder}: manifest.json is not a chip4 sweep manifest")
    unfinished = incomplete_message(folder, manifest)
    if unfinished:
        view = _header(SweepView(folder, error=unfinished), manifest, {})
        view.design = _design(manifest, runs_done=_runs_in_parts(folder), failed=None)
        return view
    sw = load_sweep(folder)
    view = _header(SweepView(folder), sw.manifest, sw.doc)
    n_failed = int((sw.runs["status"] != "ok").sum())
    view.design = _design(sw.manifest, runs_done=len(sw.runs), failed=n_failed,
                          points=sw.n_points)
    _tables(view, sw)
    return view


def incomplete_message(folder: Path, manifest: dict) -> str | None:
    """The message for a sweep that has not finished (None if it has)."""
    if manifest.get("status") == "complete" and (folder / "runs.parquet").is_file():
        return None
    total = manifest.get("n_runs", "?")
    if manifest.get("status") == "complete":
        return (f"{folder}: runs.parquet is missing although the manifest says the sweep is "
                "complete; sweep the experiment again into a new folder")
    exp = manifest.get("file") or str(folder / "experiment.toml")
    quick = " --quick" if manifest.get("quick") else ""
    return (f"incomplete sweep: {_runs_in_parts(folder)} of {total} runs; resume with "
            f"chip4 sweep {exp} --out {folder} --resume{quick}")


def _runs_in_parts(folder: Path) -> int:
    """Runs saved in parts/ by an unfinished sweep (unreadable parts count 0)."""
    import pyarrow.parquet as pq

    n = 0
    for p in (folder / "parts").glob("runs-*.parquet"):
        try:
            n += pq.read_metadata(p).num_rows
        except (OSError, ValueError):
            pass
    return n


def _header(view: SweepView, manifest: dict, doc: dict) -> SweepView:
    view.name = str(manifest.get("experiment") or doc.get("name") or view.folder.name)
    view.question = str(doc.get("question") or "")
    view.description = str(doc.get("description") or "")
    return view


def _design(m: dict, runs_done: int, failed: int | None, points: int | None = None) -> Design:
    samp = m.get("sampler") or {}
    method = samp.get("method", "full_factorial")
    sampler = SAMPLERS.get(method, str(method))
    if method in ("latin_hypercube", "sobol", "morris") and samp.get("n"):
        sampler += f", {'N' if method == 'sobol' else 'n'} = {samp['n']}"
    return Design(sampler=sampler, points=int(points if points is not None
                                              else m.get("n_points") or 0),
                  replications=int(m.get("replications") or 1), runs_done=runs_done,
                  runs_total=int(m.get("n_runs") or 0), failed=failed or 0,
                  quick=bool(m.get("quick")),
                  factors=[str(f.get("name")) for f in m.get("factors") or []],
                  metrics=[str(x) for x in m.get("metrics") or []])


# --- the tables: from DIR/report, else computed ----------------------------------------------
def _tables(view: SweepView, sw) -> None:
    """Fill claims, sensitivity, points and figures, from the report where it has them."""
    from ..report.claims import claims_frame, sweep_claims
    from ..report.indices import sensitivity_long
    from ..report.sweep import points_table

    report = view.report
    view.has_report = (report / "summary.md").is_file()
    claims_csv = report / "claims.csv"
    if view.has_report and claims_csv.is_file():
        raw = pd.read_csv(claims_csv, dtype=str, keep_default_na=False)
    else:
        raw = claims_frame(sweep_claims(sw))
    view.claims = claims_table(raw)
    if not (sw.folder / "experiment.toml").is_file():
        view.claims_note = "The sweep folder has no experiment.toml: no claims were checked."
    elif view.claims.empty:
        view.claims_note = "The experiment states no claims ([[expect]])."
    if sw.method in ("sobol", "morris"):
        sens_csv = report / "sensitivity.csv"
        use_csv = view.has_report and sens_csv.is_file()
        view.sensitivity = pd.read_csv(sens_csv) if use_csv else sensitivity_long(sw)
        if not use_csv:
            view.notes += [n.replace("`", "") for n in sw.sensitivity[1]]
    points_csv = report / "points.csv"
    use_csv = view.has_report and points_csv.is_file()
    view.points = points_view(pd.read_csv(points_csv) if use_csv else points_table(sw),
                              [f["name"] for f in sw.factors], sw.metrics)
    if view.has_report:
        view.figures = report_figures(report, sw.slugs)


def claims_table(raw: pd.DataFrame) -> pd.DataFrame:
    """claims.csv (claim, check, passed, lhs, rhs, detail, p_value) as the view's table:
    status (PASS / FAIL), claim, measured (the left side's value), detail, check."""
    if raw.empty:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    passed = raw["passed"].astype(str).str.lower().isin(["true", "1"])
    return pd.DataFrame({"status": np.where(passed, "PASS", "FAIL"),
                         "claim": raw["claim"].astype(str),
                         "measured": [_short(x) for x in raw["lhs"]],
                         "detail": raw["detail"].astype(str),
                         "check": raw["check"].astype(str)}).reset_index(drop=True)


def _short(x) -> str:
    """A measured value as text: numbers to 4 significant digits, labels as they are."""
    if x is None or (isinstance(x, float) and np.isnan(x)) or x == "":
        return "?"
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError):
        return str(x)


def points_view(points: pd.DataFrame, factors: list[str], metrics: list[str]) -> pd.DataFrame:
    """points.csv cut to what the view shows: point, factors, ok runs, each metric's mean."""
    cols = {c: c for c in ["point", *factors, "runs_ok"] if c in points.columns}
    cols |= {f"{m}_mean": m for m in metrics if f"{m}_mean" in points.columns}
    out = points[list(cols)].rename(columns=cols).reset_index(drop=True)
    for c in out.columns.drop(["point", "runs_ok"], errors="ignore"):
        if pd.api.types.is_integer_dtype(out[c]):       # read back from points.csv
            out[c] = out[c].astype(float)
    return out


# --- figures ---------------------------------------------------------------------------------
def report_figures(report: Path, slugs: dict[str, str] | None = None) -> list[Figure]:
    """The PNG figures of a report folder, each with a title and the caption summary.md gives
    it (else one made from the file name); sorted by kind (:data:`FIGURE_KINDS`: heatmaps
    first), then by name, pages in order."""
    metric_of = {s: m for m, s in (slugs or {}).items()}
    captions = summary_captions(report / "summary.md")
    figs = []
    for p in sorted(report.glob("*.png"), key=_figure_order):
        title = figure_title(p.name, metric_of)
        figs.append(Figure(p, title, captions.get(p.name, title + "."), p.read_bytes()))
    return figs


def _figure_order(p: Path) -> tuple[int, str, int]:
    """Heatmaps before bars before scatter plots ..., and by_rules.png before by_rules-2.png."""
    kind = p.stem.split("_")[0].split("-")[0]
    rank = FIGURE_KINDS.index(kind) if kind in FIGURE_KINDS else len(FIGURE_KINDS)
    m = re.fullmatch(r"(.+)-(\d+)", p.stem)
    if m and p.stem.startswith(("by_", "distributions")):
        return rank, m[1], int(m[2])
    return rank, p.stem, 1


def summary_captions(summary: Path) -> dict[str, str]:
    """file name -> caption, from the ``*caption* ([file](file))`` lines of summary.md."""
    try:
        text = summary.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    pattern = r"^\*(.+)\* \(\[([^\]]+\.png)\]\([^)]*\)\)$"
    return {m[2]: m[1] for m in re.finditer(pattern, text, flags=re.MULTILINE)}


def figure_title(name: str, metric_of: dict[str, str] | None = None) -> str:
    """A short title from a figure's file name.

    >>> figure_title("heatmap_KOR-net_loss_pct.png")
    'Heatmap of KOR.net_loss_pct'
    >>> figure_title("by_rules-2.png"), figure_title("distributions.png")
    ('Mean by rules (page 2)', 'Distributions over replications')
    """
    stem = name.removesuffix(".png")
    page = ""
    m = re.fullmatch(r"((?:by_|distributions).*?)-(\d+)", stem)
    if m:
        stem, page = m[1], f" (page {m[2]})"
    kind, _, rest = stem.partition("_")
    metric = (metric_of or {}).get(rest) or rest.replace("-", ".")
    title = {"heatmap": f"Heatmap of {metric}", "by": f"Mean by {rest}",
             "sobol": f"Sobol indices of {metric}", "morris": f"Morris screening of {metric}",
             "scatter": f"{metric} against each factor"}.get(kind)
    if stem == "distributions":
        title = "Distributions over replications"
    return (title or stem.replace("_", " ").capitalize()) + page


# --- writing the report ----------------------------------------------------------------------
def make_report(folder) -> tuple[bool, str]:
    """Write DIR/report (tables, figures, summary.md) as ``chip4 report DIR`` does; return
    (ok, one-line message). Never raises."""
    from ..report import write_report

    try:
        out = write_report(Path(folder))
    except InputError as exc:
        return False, exc.one_line()
    except Exception as exc:  # noqa: BLE001 - the UI shows one line
        return False, f"{folder}: could not write the report ({type(exc).__name__}: {exc})"
    n = len(list(out.glob("*.png")))
    return True, f"Wrote {out} ({n} figure{'s' * (n != 1)})"
