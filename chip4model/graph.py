"""The supply-chain graph: built from the calibration tables, read from users' files, validated.

A graph is a :class:`networkx.DiGraph` whose nodes are production units (a country's segment,
or one firm's facilities in one country) and final-demand markets, and whose edges carry the
baseline weekly flow of goods from supplier to buyer in US$ million per week.

Node attributes
    ``kind``            ``"producer"`` or ``"final_demand"``
    ``segment``         the product the node makes (``"final_demand"`` for markets)
    ``stage``           design, equipment, material, critical_input, fab, atp, assembly, nonchip
    ``country``         ISO3-style region code
    ``firm``            owning firm, ``""`` for aggregates
    ``inventory_weeks`` weeks of use that buyers stock of this node's product
    ``substitutability`` in [0, 1]: how fast buyers can move orders to other suppliers
    ``spare_capacity``  extra output available at once (fraction of baseline)
    ``ramp_max``        extra output reachable by ramping up (fraction of baseline)
    ``ramp_weeks``      time constant of ramp-up

Edge attributes
    ``flow``            baseline flow, US$ million per week (> 0)
    ``source``          where the number comes from

networkx is used to build, check, read and write graphs; the simulation runs on the arrays of
:mod:`chip4model.engine`, compiled once by :func:`chip4model.engine.compile_graph`.

>>> G = default_graph()
>>> G.nodes["kor_memory_samsung"]["firm"]
'Samsung Electronics'
"""

from __future__ import annotations

import csv
import functools
import math
import tomllib
from importlib import resources
from pathlib import Path

import networkx as nx
import numpy as np

from .errors import InputError, allowed

WEEKS_PER_YEAR = 52.0
STAGES = ("design", "equipment", "material", "critical_input", "fab", "atp", "assembly", "nonchip")
KINDS = ("producer", "final_demand")
NODE_FLOAT_ATTRS = {
    "inventory_weeks": (0.0, 520.0),
    "substitutability": (0.0, 1.0),
    "spare_capacity": (0.0, 10.0),
    "ramp_max": (0.0, 100.0),
    "ramp_weeks": (0.5, 1000.0),
}
SEGMENT_COLUMNS = ("segment", "stage", "description", *NODE_FLOAT_ATTRS, "source")


# --------------------------------------------------------------------------------------------
# Calibration tables shipped in chip4model/data
# --------------------------------------------------------------------------------------------


def solve_exactly_once(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``M x = b`` by Gaussian elimination with partial pivoting, in plain numpy.

    ``np.linalg.solve`` calls LAPACK, whose last bits depend on how many threads BLAS uses, so
    the calibrated flows (and every result after them) would differ at 1e-15 between a
    process with one BLAS thread (a Dask worker) and one with several. Here every operation
    is element-wise or a numpy sum, so the answer is the same in any process. The default
    graph has ~150 nodes: the cost is negligible.

    >>> solve_exactly_once(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([3.0, 5.0]))
    array([0.8, 1.4])
    """
    a = np.array(M, dtype=float)
    x = np.array(b, dtype=float)
    n = len(x)
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if a[p, k] == 0.0:
            raise np.linalg.LinAlgError("singular matrix")
        if p != k:
            a[[k, p]] = a[[p, k]]
            x[[k, p]] = x[[p, k]]
        factor = a[k + 1:, k] / a[k, k]
        a[k + 1:, k:] -= factor[:, None] * a[k, k:][None, :]
        x[k + 1:] -= factor * x[k]
    for k in range(n - 1, -1, -1):
        x[k] = (x[k] - np.sum(a[k, k + 1:] * x[k + 1:])) / a[k, k]
    return x

def _data_path(name: str) -> Path:
    return Path(str(resources.files("chip4model") / "data" / name))


def read_table(name: str, columns: tuple[str, ...], path: Path | None = None,
               require_source: bool = True) -> list[dict]:
    """Read a CSV table, checking its header and (for calibration tables) that every row cites
    a source."""
    path = path or _data_path(name)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(path, "header", f"missing column(s) {missing} ({allowed(columns)})")
    for i, row in enumerate(rows):
        if require_source and "source" in columns and not (row.get("source") or "").strip():
            raise InputError(path, f"row {i + 2}.source", "every number needs a source")
    return rows


def _float(path, field, value, lo=-math.inf, hi=math.inf) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(path, field, f"expected a number, got {value!r}") from None
    if not (lo <= x <= hi) or math.isnan(x):
        raise InputError(path, field, f"{x} is out of range (allowed: {lo} to {hi})")
    return x


def read_toml(name: str) -> dict:
    with open(_data_path(name), "rb") as fh:
        return tomllib.load(fh)


@functools.cache
def countries() -> dict:
    """Country and region parameters (GDP, exposure, threat perception, ...) with sources."""
    return read_toml("countries.toml")


@functools.cache
def firms() -> dict:
    """Firm parameters (headquarters, sales share from China, compliance) with sources."""
    return read_toml("firms.toml")


def build_graph_from_tables(data_dir: Path | None = None) -> nx.DiGraph:
    """Build the calibrated supply-chain graph from the tables in ``chip4model/data``.

    Outputs are derived Leontief-style: final sales (``final_demand.csv``) are split among the
    producers of a segment by their world shares (``nodes.csv``); each producer buys the inputs
    of its segment's recipe (``recipes.csv``) split among supplier nodes by the buyer country's
    sourcing shares (``sourcing.csv``) or, where none is given, by world production shares.
    Solving ``x = (I - A)^-1 f`` gives every node's output; an edge's flow is ``A[i, j] x_j``.
    """
    d = Path(data_dir) if data_dir else None

    def p(name):
        return (d / name) if d else _data_path(name)

    seg_rows = read_table("segments.csv", SEGMENT_COLUMNS, p("segments.csv"))
    segs = {r["segment"]: r for r in seg_rows}
    node_rows = read_table(
        "nodes.csv", ("id", "segment", "country", "firm", "share", "source"), p("nodes.csv")
    )
    recipe_rows = read_table(
        "recipes.csv", ("segment", "input", "coefficient", "source"), p("recipes.csv")
    )
    sourcing_rows = read_table(
        "sourcing.csv",
        ("buyer_country", "input", "supplier_country", "share", "source"),
        p("sourcing.csv"),
    )
    fd_rows = read_table(
        "final_demand.csv",
        ("segment", "producer_country", "market", "value_busd", "source"),
        p("final_demand.csv"),
    )

    ids = [r["id"] for r in node_rows]
    {n: i for i, n in enumerate(ids)}
    n = len(ids)
    share = np.array(
        [_float(p("nodes.csv"), f"{r['id']}.share", r["share"], 0, 1) for r in node_rows]
    )
    seg_of = [r["segment"] for r in node_rows]
    country_of = [r["country"] for r in node_rows]
    for r in node_rows:
        if r["segment"] not in segs:
            raise InputError(p("nodes.csv"), f"{r['id']}.segment", allowed(segs))

    # sourcing overrides: (buyer country, input) -> {supplier country: share}
    sourcing: dict[tuple[str, str], dict[str, tuple[float, str]]] = {}
    for r in sourcing_rows:
        key = (r["buyer_country"], r["input"])
        sourcing.setdefault(key, {})[r["supplier_country"]] = (
            _float(p("sourcing.csv"), f"{key}.share", r["share"], 0, 1),
            r["source"],
        )

    def supplier_weights(buyer_country: str, segment: str) -> tuple[np.ndarray, str]:
        cand = np.array([seg_of[i] == segment for i in range(n)])
        w = np.where(cand, share, 0.0)
        over = sourcing.get((buyer_country, segment))
        if not over:
            return w / w.sum(), "world production shares (nodes.csv)"
        out = np.zeros(n)
        for c, (s, _) in over.items():
            m = cand & (np.array(country_of) == c)
            if not m.any() or w[m].sum() == 0:
                raise InputError(
                    p("sourcing.csv"),
                    f"{buyer_country}.{segment}.{c}",
                    f"no {segment} producer in {c}",
                )
            out[m] = s * w[m] / w[m].sum()
        srcs = sorted({src for _, src in over.values()})
        return out / out.sum(), "; ".join(srcs)

    A = np.zeros((n, n))
    edge_source: dict[tuple[int, int], str] = {}
    recipes: dict[str, list[dict]] = {}
    for r in recipe_rows:
        recipes.setdefault(r["segment"], []).append(r)
    for j in range(n):
        for r in recipes.get(seg_of[j], []):
            c = _float(p("recipes.csv"), f"{r['segment']}.{r['input']}", r["coefficient"], 0, 1)
            w, wsrc = supplier_weights(country_of[j], r["input"])
            for i in np.flatnonzero(w):
                A[i, j] += c * w[i]
                edge_source[(i, j)] = f"derived: recipe ({r['source']}) x sourcing ({wsrc})"

    markets = sorted({r["market"] for r in fd_rows})
    f = np.zeros(n)
    fd_flow = np.zeros((n, len(markets)))
    fd_source: dict[tuple[int, int], str] = {}
    for r in fd_rows:
        v = _float(p("final_demand.csv"), f"{r['segment']}.{r['market']}.value_busd",
                   r["value_busd"], 0)
        m = np.array([seg_of[i] == r["segment"] for i in range(n)])
        if r["producer_country"] != "*":
            m &= np.array(country_of) == r["producer_country"]
        if not m.any():
            raise InputError(p("final_demand.csv"), f"{r['segment']}.{r['producer_country']}",
                             "no producer of this segment in that country")
        w = np.where(m, share, 0.0)
        w /= w.sum()
        k = markets.index(r["market"])
        fd_flow[:, k] += v * w
        for i in np.flatnonzero(w):
            fd_source[(i, k)] = f"derived: final demand ({r['source']}) x node shares"
    f = fd_flow.sum(axis=1)
    x = solve_exactly_once(np.eye(n) - A, f)
    if (x < -1e-9).any():
        bad = ids[int(np.argmin(x))]
        raise InputError(p("recipes.csv"), bad, "recipes give negative output; check coefficients")

    to_week = 1000.0 / WEEKS_PER_YEAR  # US$ bn per year -> US$ m per week
    G = nx.DiGraph(name="chip4model default graph", flow_unit="US$ million per week")
    for r in node_rows:
        s = segs[r["segment"]]
        G.add_node(
            r["id"],
            kind="producer",
            segment=r["segment"],
            stage=s["stage"],
            country=r["country"],
            firm=r.get("firm") or "",
            **{k: float(s[k]) for k in NODE_FLOAT_ATTRS},
            source=r["source"],
        )
    for m in markets:
        G.add_node(f"fd_{m.lower()}", kind="final_demand", segment="final_demand",
                   stage="final", country=m, firm="", inventory_weeks=0.0, substitutability=0.0,
                   spare_capacity=0.0, ramp_max=0.0, ramp_weeks=1.0,
                   source="final demand market")
    for (i, j), src in edge_source.items():
        flow = A[i, j] * x[j] * to_week
        if flow > 0:
            G.add_edge(ids[i], ids[j], flow=float(flow), source=src)
    for (i, k), src in fd_source.items():
        flow = fd_flow[i, k] * to_week
        if flow > 0:
            G.add_edge(ids[i], f"fd_{markets[k].lower()}", flow=float(flow), source=src)
    return G


@functools.cache
def _default_graph() -> nx.DiGraph:
    G = build_graph_from_tables()
    validate_graph(G, "chip4model/data")
    return G


def default_graph() -> nx.DiGraph:
    """The calibrated graph shipped with the package (a fresh copy each call)."""
    return _default_graph().copy()


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

def validate_graph(G: nx.DiGraph, source: str = "<graph>") -> nx.DiGraph:
    """Check a supply-chain graph; raise :class:`InputError` naming the first problem.

    Checks: attribute types and ranges, positive flows, that no producer buys more than it sells
    (value added >= 0), that final-demand markets do not sell, and that every producer sells.
    """
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        raise InputError(source, "graph", "must be a directed graph without parallel edges")
    if G.number_of_nodes() == 0:
        raise InputError(source, "nodes", "the graph has no nodes")
    for v, d in G.nodes(data=True):
        kind = d.get("kind", "producer")
        if kind not in KINDS:
            raise InputError(source, f"nodes.{v}.kind", f"{kind!r} ({allowed(KINDS)})")
        for key in ("segment", "country"):
            if not str(d.get(key, "")).strip():
                raise InputError(source, f"nodes.{v}.{key}", "missing (a non-empty string)")
        if kind == "producer":
            if d.get("stage") not in STAGES:
                raise InputError(source, f"nodes.{v}.stage", f"{d.get('stage')!r} "
                                 f"({allowed(STAGES)})")
            for key, (lo, hi) in NODE_FLOAT_ATTRS.items():
                _float(source, f"nodes.{v}.{key}", d.get(key), lo, hi)
    for u, v, d in G.edges(data=True):
        flow = _float(source, f"edges.{u}->{v}.flow", d.get("flow"), 0.0)
        if flow <= 0:
            raise InputError(source, f"edges.{u}->{v}.flow", "must be > 0 (a negative capacity "
                             "or flow is not allowed)")
        if G.nodes[u].get("kind", "producer") == "final_demand":
            raise InputError(source, f"edges.{u}->{v}", "a final_demand node cannot supply")
    for v, d in G.nodes(data=True):
        if d.get("kind", "producer") != "producer":
            continue
        out = sum(e["flow"] for _, _, e in G.out_edges(v, data=True))
        inp = sum(e["flow"] for _, _, e in G.in_edges(v, data=True))
        if out <= 0:
            raise InputError(source, f"nodes.{v}", "a producer must have at least one buyer")
        if inp > out * (1 + 1e-9):
            raise InputError(source, f"nodes.{v}", f"buys {inp:.6g} but sells {out:.6g}: input "
                             "shares sum to more than 1 (value added must be >= 0)")
    return G


# --------------------------------------------------------------------------------------------
# Reading and writing users' graphs
# --------------------------------------------------------------------------------------------

NODE_CSV_COLUMNS = ("id", "kind", "segment", "stage", "country", "firm", *NODE_FLOAT_ATTRS)
NODE_CSV_OPTIONAL = ("source",)
EDGE_CSV_COLUMNS = ("source_node", "target_node", "flow", "source")


def read_graph(path: str | Path) -> nx.DiGraph:
    """Read and validate a graph: a ``.graphml`` file, or a folder with ``nodes.csv`` and
    ``edges.csv`` (the format :func:`write_graph` writes).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "graph", "no such file or folder")
    if path.is_dir():
        G = _read_csv_graph(path)
    elif path.suffix.lower() == ".graphml":
        try:
            G = nx.read_graphml(path)
        except Exception as exc:  # networkx raises several types on bad XML
            raise InputError(path, "graphml", f"cannot parse: {exc}") from None
        G = nx.DiGraph(G)
    else:
        raise InputError(path, "graph", "unknown format (allowed: .graphml file, or a folder "
                         "with nodes.csv and edges.csv)")
    for _, d in G.nodes(data=True):
        d.setdefault("kind", "producer")
        d.setdefault("firm", "")
    return validate_graph(G, str(path))


def _read_csv_graph(folder: Path) -> nx.DiGraph:
    nodes = read_table("nodes.csv", NODE_CSV_COLUMNS, folder / "nodes.csv",
                       require_source=False) if (folder / "nodes.csv").exists() else None
    if nodes is None or not (folder / "edges.csv").exists():
        raise InputError(folder, "graph", "a graph folder needs nodes.csv and edges.csv")
    # users' graphs should cite sources, but an empty source is not an error
    edges = read_table("edges.csv", EDGE_CSV_COLUMNS, folder / "edges.csv", require_source=False)
    G = nx.DiGraph()
    for i, r in enumerate(nodes):
        attrs = {k: r[k] for k in NODE_CSV_COLUMNS if k != "id"}
        attrs.update({k: r[k] for k in NODE_CSV_OPTIONAL if r.get(k)})
        for k, (lo, hi) in NODE_FLOAT_ATTRS.items():
            attrs[k] = _float(folder / "nodes.csv", f"row {i + 2}.{k}", r[k], lo, hi)
        if r["id"] in G:
            raise InputError(folder / "nodes.csv", f"row {i + 2}.id", f"duplicate id {r['id']!r}")
        G.add_node(r["id"], **attrs)
    for i, r in enumerate(edges):
        for end in ("source_node", "target_node"):
            if r[end] not in G:
                raise InputError(folder / "edges.csv", f"row {i + 2}.{end}",
                                 f"unknown node {r[end]!r}")
        G.add_edge(r["source_node"], r["target_node"],
                   flow=_float(folder / "edges.csv", f"row {i + 2}.flow", r["flow"]),
                   source=r["source"])
    return G


def write_graph(G: nx.DiGraph, path: str | Path) -> Path:
    """Write a graph as GraphML (``*.graphml``) or as a folder of ``nodes.csv``/``edges.csv``."""
    path = Path(path)
    if path.suffix.lower() == ".graphml":
        path.parent.mkdir(parents=True, exist_ok=True)
        nx.write_graphml(G, path)
        return path
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "nodes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(NODE_CSV_COLUMNS + NODE_CSV_OPTIONAL)
        for v, d in G.nodes(data=True):
            w.writerow([v, *(d.get(k, "") for k in NODE_CSV_COLUMNS[1:] + NODE_CSV_OPTIONAL)])
    with open(path / "edges.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(EDGE_CSV_COLUMNS)
        for u, v, d in G.edges(data=True):
            w.writerow([u, v, repr(float(d["flow"])), d.get("source", "")])
    return path
