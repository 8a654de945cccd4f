"""Fixed 2-D positions of the supply-chain nodes for the dashboard's network chart.

Columns run from upstream on the left to final demand on the right, in the order goods flow
through the model (not the textbook order: here the chip sellers, memory, analog and
logic_design, buy foundry wafers and assembly-test services, so those come first):

====  ==========================  =====================================================
col   label                       stages / segments
====  ==========================  =====================================================
0     Critical inputs             stage ``critical_input`` (HF, neon, gallium, ...)
1     Materials, EDA/IP           stage ``material``; segment ``eda_ip``
2     Equipment                   stage ``equipment``
3     Foundry, assembly-test      segment ``foundry``; stage ``atp``
4     Chips                       stage ``fab`` (memory, analog); segment ``logic_design``
5     End products                stages ``assembly`` (electronics) and ``nonchip``
6     Final demand                the final-demand markets (``kind = final_demand``)
====  ==========================  =====================================================

Rows are country bands, the Chip 4 members on top (USA, KOR, JPN, TWN), then China, then
EUR, SEA and ROW (any other country after them, alphabetically). Within one column and band
the nodes sit on a small grid (ordered by segment, then node id), so no two share a place.
Columns or bands without nodes are left out.

Coordinates are in layout units (one grid slot = 1) with ``y`` growing downward, as on a
screen and in ECharts: members have the smallest ``y``. Results are computed once per graph.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import wraps

import numpy as np

from ..engine import CompiledGraph

BAND_ORDER = ("USA", "KOR", "JPN", "TWN", "CHN", "EUR", "SEA", "ROW")

COLUMN_LABELS = ("Critical inputs", "Materials, EDA/IP", "Equipment", "Foundry, assembly-test",
                 "Chips", "End products", "Final demand")
STAGE_COLUMN = {"critical_input": 0, "material": 1, "design": 1, "equipment": 2, "atp": 3,
                "fab": 4, "assembly": 5, "nonchip": 5, "final": 6}
SEGMENT_COLUMN = {"eda_ip": 1, "foundry": 3, "logic_design": 4, "memory": 4, "analog": 4,
                  "electronics": 5, "batteries": 5, "consumer_goods": 5, "tourism": 5}
# segments in their column, upstream first (others after these, alphabetically)
SEGMENT_ORDER = ("silicon_wafers", "other_materials", "eda_ip", "foundry", "atp", "memory",
                 "logic_design", "analog", "electronics", "batteries", "consumer_goods",
                 "tourism")

COL_GAP = 1.6    # empty slots between columns
BAND_GAP = 0.9   # empty rows between country bands
WIDE = 4.0       # a cell of k nodes gets about sqrt(WIDE * k) slots across (wider than tall)


@dataclass(frozen=True)
class Layout:
    """Node positions and where the column and band labels go (layout units)."""

    x: np.ndarray                 # per node
    y: np.ndarray
    columns: tuple                # ((label, x centre, x start, x end), ...) left to right
    bands: tuple                  # ((country, y centre, y start, y end), ...) top to bottom
    extent: tuple                 # (x min, x max, y min, y max) of the nodes


def per_graph(fn):
    """Cache ``fn(g)`` per :class:`CompiledGraph` object (graphs are neither hashable nor
    changed after compiling; a weak reference guards against a recycled ``id``)."""
    cache: dict[int, tuple] = {}

    @wraps(fn)
    def wrapper(g):
        hit = cache.get(id(g))
        if hit is not None and hit[0]() is g:
            return hit[1]
        value = fn(g)
        if len(cache) > 16:
            cache.clear()
        cache[id(g)] = (weakref.ref(g), value)
        return value

    wrapper.cache_clear = cache.clear
    return wrapper


def node_column(g: CompiledGraph, i: int) -> int:
    """The column of node ``i`` (see the module docstring)."""
    if g.is_sink[i]:
        return 6
    seg = g.segments[g.segment[i]]
    if seg in SEGMENT_COLUMN:
        return SEGMENT_COLUMN[seg]
    return STAGE_COLUMN.get(g.stage[i], 4)


def band_order(countries) -> list[str]:
    """Countries top to bottom: members, China, the rest of the world, others."""
    known = [c for c in BAND_ORDER if c in countries]
    return known + sorted(c for c in countries if c not in BAND_ORDER)


@per_graph
def graph_layout(g: CompiledGraph) -> Layout:
    """Positions and label guides for ``g`` (cached per graph; arrays are read-only)."""
    n = g.n_nodes
    bands = band_order(g.countries)
    band_of = {c: b for b, c in enumerate(bands)}
    col = np.array([node_column(g, i) for i in range(n)], dtype=np.int64)
    band = np.array([band_of[g.countries[g.country[i]]] for i in range(n)], dtype=np.int64)
    seg_rank = {s: k for k, s in enumerate(SEGMENT_ORDER)}
    cells: dict[tuple[int, int], list[int]] = {}
    for i in sorted(range(n), key=lambda i: (seg_rank.get(g.segments[g.segment[i]], 99),
                                             g.segments[g.segment[i]], str(g.node_ids[i]))):
        cells.setdefault((int(col[i]), int(band[i])), []).append(i)

    used_cols = sorted({c for c, _ in cells})
    used_bands = sorted({b for _, b in cells})
    width = {}   # slots across per column
    for c in used_cols:
        k = max(len(v) for (cc, _), v in cells.items() if cc == c)
        width[c] = min(k, math.ceil(math.sqrt(WIDE * k)))
    rows = {b: max(math.ceil(len(v) / width[c]) for (c, bb), v in cells.items() if bb == b)
            for b in used_bands}

    col_start, pos = {}, 0.0
    for c in used_cols:
        col_start[c] = pos
        pos += width[c] + COL_GAP
    band_start, pos = {}, 0.0
    for b in used_bands:
        band_start[b] = pos
        pos += rows[b] + BAND_GAP

    x, y = np.zeros(n), np.zeros(n)
    for (c, b), members in cells.items():
        w, k = width[c], len(members)
        n_rows = math.ceil(k / w)
        y0 = band_start[b] + (rows[b] - n_rows) / 2
        for j, i in enumerate(members):
            r, slot = divmod(j, w)
            in_row = min(w, k - r * w)
            x[i] = col_start[c] + (w - in_row) / 2 + slot
            y[i] = y0 + r
    x.setflags(write=False)
    y.setflags(write=False)
    columns = tuple((COLUMN_LABELS[c], col_start[c] + (width[c] - 1) / 2, col_start[c],
                     col_start[c] + width[c] - 1) for c in used_cols)
    band_rows = tuple((bands[b], band_start[b] + (rows[b] - 1) / 2, band_start[b],
                       band_start[b] + rows[b] - 1) for b in used_bands)
    extent = (float(x.min()), float(x.max()), float(y.min()), float(y.max())) if n else \
        (0.0, 1.0, 0.0, 1.0)
    return Layout(x, y, columns, band_rows, extent)


def network_layout(g: CompiledGraph) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic ``(x, y)`` positions of every node of ``g``, in node order.

    ``x`` runs by production stage from upstream (critical inputs) to the final-demand
    markets; ``y`` by country band, members on top (``y`` grows downward, as on screen).
    Computed once per graph; the arrays are read-only.

    >>> from chip4model.model import compiled_graph
    >>> g = compiled_graph()
    >>> x, y = network_layout(g)
    >>> len(x) == len(y) == g.n_nodes
    True
    >>> i, j = g.index["kor_hf_soulbrain"], g.index["fd_kor"]
    >>> bool(x[i] < x[j]), bool(y[i] < y[g.index["fd_chn"]])   # upstream left; KOR above CHN
    (True, True)
    >>> len(set(zip(x.tolist(), y.tolist()))) == g.n_nodes  # no two nodes share a place
    True
    >>> network_layout(g)[0] is x                            # cached
    True
    """
    lay = graph_layout(g)
    return lay.x, lay.y


__all__ = ["BAND_ORDER", "COLUMN_LABELS", "Layout", "band_order", "graph_layout",
           "network_layout", "node_column", "per_graph"]
