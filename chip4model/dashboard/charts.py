"""ECharts options for the dashboard, built from a :class:`~.session.Session`.

Each function returns a plain dict for ``solara.FigureEcharts(option=...)`` (ECharts 5.4):
only Python ``str``/``int``/``float``/``bool``/``None``/``list``/``dict`` (so ``json.dumps``
takes it as is), floats rounded to 4 significant digits, ``"animation": False`` so that
screenshots are stable. They read the :class:`~chip4model.results.Recorder` arrays directly
(weeks ``1 .. session.week``) and are cheap enough to rebuild every week while playing.

Series charts share one x axis, weeks ``1 .. session.steps`` (fixed, so the axis does not move
while the run plays), and one colour per country, :data:`COUNTRY_COLOURS`.

>>> from chip4model.dashboard.session import Session
>>> s = Session.from_name("kor-aligns-collective")
>>> s.step(10)
10
>>> opt = loss_option(s)
>>> [x["name"] for x in opt["series"]]
['USA', 'KOR', 'JPN', 'TWN', 'CHN', 'KOR without rules']
>>> len(opt["series"][0]["data"]), opt["animation"]
(10, False)
"""

from __future__ import annotations

import html
import math

import numpy as np

from ..agents import JOIN_THRESHOLD, LEAVE_THRESHOLD
from ..engine import CompiledGraph
from .layout import graph_layout, per_graph
from .session import shortfall_by_node

COUNTRY_COLOURS = {
    "USA": "#1f77b4",   # blue
    "KOR": "#2ca02c",   # green
    "JPN": "#ff7f0e",   # orange
    "TWN": "#9467bd",   # purple
    "CHN": "#d62728",   # red
    "EUR": "#8c7b6b",   # the rest of the world in greyer tones
    "SEA": "#a8a383",
    "ROW": "#9e9e9e",
}
OTHER_COLOUR = "#7f7f7f"
MAIN_COUNTRIES = ("USA", "KOR", "JPN", "TWN", "CHN")
ALWAYS_FIRMS = ("Samsung Electronics", "SK Hynix")
EDGE_SHARE = 0.95          # the network chart draws the edges carrying this share of flow,
MAX_EDGES = 2000           # but no more than this many (large user graphs)
DASHES = ("solid", "dashed", "dotted", [8, 3, 2, 3])   # for several firms of one country

# Node colours are computed here and written into each node's itemStyle; the visualMap is a
# legend only (``seriesIndex: []`` targets no series, so it cannot override those colours).
# Piecewise bins rather than a continuous ramp: small shortfalls of 1-5 % stay visible next to
# the 100 % of a banned market, and the legend shows exactly the colours drawn.
SHORTFALL_BINS = (          # (upper bound of shortfall, colour, label), in order
    (-0.05, "#2166ac", "> 5% above"),
    (-0.01, "#92c5de", "1-5% above"),
    (0.01, "#e0e0e0", "within 1%"),
    (0.05, "#fee391", "1-5% short"),     # yellow-orange-brown, so that the red ring of
    (0.20, "#fe9929", "5-20% short"),     # a node hit by a shock stands out
    (0.50, "#cc4c02", "20-50% short"),
    (math.inf, "#662506", "50%+ short"),
)
UTILISATION_BINS = (        # (upper bound of output / capacity at baseline, colour, label)
    (0.50, "#deebf7", "< 50%"),
    (0.80, "#9ecae1", "50-80%"),
    (0.95, "#4292c6", "80-95%"),
    (1.0 + 1e-9, "#08519c", "95-100%"),
    (math.inf, "#e6550d", "> 100% (ramped up)"),
)
SINK_COLOUR = "#bdbdbd"    # final-demand markets have no capacity to use
HIT_BORDER = {"borderColor": "#ff0000", "borderWidth": 3}
EDGE_GREY, EDGE_SHORT, EDGE_MORE = "#9aa0a6", "#d7301f", "#2166ac"


# --- helpers ---------------------------------------------------------------------------------
def sig(values, digits: int = 4, tiny: float = 1e-9) -> list:
    """``values`` as a list of Python floats rounded to ``digits`` significant digits, those
    smaller than ``tiny`` in magnitude (rounding noise) as 0, and NaN or infinite values as
    ``None`` (which JSON cannot carry otherwise).

    >>> sig([123456.7, 0.000123456, -2.5e-14, float("nan")])
    [123500.0, 0.0001235, 0.0, None]
    """
    a = np.asarray(values, dtype=float)
    finite = np.isfinite(a)
    safe = np.where(finite & (np.abs(a) >= tiny), a, 0.0)
    with np.errstate(divide="ignore"):
        mag = np.floor(np.log10(np.abs(safe), where=safe != 0, out=np.zeros_like(safe)))
    e = digits - 1 - mag
    p = 10.0 ** np.abs(e)
    out = np.where(e >= 0, np.round(safe * p) / p, np.round(safe / p) * p) + 0.0
    if finite.all():
        return out.tolist()
    return [v if ok else None for v, ok in zip(out.tolist(), finite.tolist(), strict=True)]


def _sig1(v: float, digits: int = 4) -> float | None:
    return sig([v], digits)[0]


def _fmt(v: float, decimals: int) -> str:
    """``v`` with ``decimals`` decimals, never as ``-0.0``."""
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _pairs(values, weeks: int) -> list[list]:
    """``[[1, v1], [2, v2], ...]`` for the first ``weeks`` values."""
    return [[w, v] for w, v in zip(range(1, weeks + 1), sig(values[:weeks]), strict=True)]


def colour_of(iso: str) -> str:
    return COUNTRY_COLOURS.get(iso, OTHER_COLOUR)


def _series_base(session, title: str, subtitle: str, y_name: str, y_min=None,
                 y_max=None) -> dict:
    """The parts every weekly series chart shares: title, axes, tooltip, legend, grid."""
    y_axis = {"type": "value", "name": y_name, "nameLocation": "end",
              "nameTextStyle": {"align": "left"}}
    if y_min is not None:
        y_axis["min"] = y_min
    if y_max is not None:
        y_axis["max"] = y_max
    if y_min is None and y_max is None:
        y_axis["scale"] = True
    return {
        "animation": False,
        "title": {"text": title, "subtext": subtitle, "left": 10, "top": 0,
                  "textStyle": {"fontSize": 15}, "subtextStyle": {"fontSize": 11}},
        "tooltip": {"trigger": "axis", "confine": True},
        # a plain legend wraps onto a second line rather than hiding entries behind arrows
        "legend": {"type": "plain", "bottom": 0, "itemGap": 6, "itemWidth": 16,
                   "itemHeight": 8, "textStyle": {"fontSize": 10}},
        "grid": {"left": 12, "right": 24, "top": 72, "bottom": 66, "containLabel": True},
        "xAxis": {"type": "value", "name": "week", "nameLocation": "middle", "nameGap": 24,
                  "min": 1, "max": max(int(session.steps), 2), "minInterval": 1},
        "yAxis": y_axis,
        "series": [],
    }


def _line(name: str, data: list, colour: str, dash="solid", width: float = 2.0,
          step: str | None = None) -> dict:
    s = {"type": "line", "name": name, "data": data, "showSymbol": False,
         "color": colour, "lineStyle": {"width": width, "type": dash, "color": colour}}
    if step:
        s["step"] = step
    return s


def empty_option(message: str) -> dict:
    """An option showing only ``message``, centred (for week 0, or when a chart fails)."""
    return {
        "animation": False,
        "title": {"text": str(message), "left": "center", "top": "middle",
                  "textStyle": {"fontSize": 14, "fontWeight": "normal", "color": "#666"}},
        "series": [],
    }


# --- weekly series ---------------------------------------------------------------------------
def loss_option(session, measure: str = "output") -> dict:
    """Weekly loss of USA, KOR, JPN, TWN and CHN, in % of each one's modelled baseline, with the
    scenario's rules (solid lines): gross ``output`` (default; ``1 - output / output0``) or
    ``value_added`` (``va_loss / va0``). When the scenario has rules, the target's path without
    them is added, dashed (``"KOR without rules"``)."""
    if measure not in ("output", "value_added"):
        raise ValueError(f"measure {measure!r} not in ('output', 'value_added')")
    rec, m, T = session.rec, session.model, session.week
    countries = list(m.graph.countries)
    what = "Output" if measure == "output" else "Value-added"
    opt = _series_base(session, f"{what} loss by country",
                       f"weekly loss, % of the country's modelled baseline {what.lower()}"
                       + ("; dashed: the target without the rules" if session.has_rules
                          else ""),
                       "% of baseline")

    def pct(r, i):
        if measure == "output":
            base = m.x0_country[i]
            return 100.0 * (1.0 - r.output[:T, i] / base) if base > 0 else np.zeros(T)
        base = m.va0_country[i]
        return 100.0 * r.va_loss[:T, i] / base if base > 0 else np.zeros(T)

    for iso in MAIN_COUNTRIES:
        if iso in countries:
            opt["series"].append(_line(iso, _pairs(pct(rec, countries.index(iso)), T),
                                       colour_of(iso)))
    target = m.target or m.campaign_target
    if session.has_rules and target in countries:
        i = countries.index(target)
        opt["series"].append(_line(f"{target} without rules", _pairs(pct(session.cf_rec, i), T),
                                   colour_of(target), dash="dashed", width=1.6))
    return opt


def alignment_option(session) -> dict:
    """Each member's alignment with the U.S.-led controls (solid) and its belief that the
    allies will honour the rules, its credibility of allies (dashed), from 0 to 1. A dotted
    line marks the alignment at which a member joins the controls."""
    rec, T = session.rec, session.week
    members = [x.iso3 for x in session.model.members]
    opt = _series_base(session, "Alignment and credibility of allies",
                       "solid: alignment with U.S.-led controls; dashed: credibility of allies",
                       "0 to 1", 0, 1)
    for k, iso in enumerate(members):
        c = colour_of(iso)
        opt["series"].append(_line(f"{iso} alignment", _pairs(rec.alignment[:, k], T), c))
        opt["series"].append(_line(f"{iso} credibility", _pairs(rec.credibility[:, k], T), c,
                                   dash="dashed", width=1.4))
    if opt["series"]:   # the thresholds of the members' choice (agents.Member)
        opt["series"][0]["markLine"] = {
            "silent": True, "symbol": "none", "animation": False,
            "lineStyle": {"type": "dotted", "color": "#888", "width": 1},
            "label": {"position": "insideStartTop", "color": "#666", "fontSize": 10},
            "data": [{"yAxis": JOIN_THRESHOLD,
                      "label": {"formatter": "in the controls from the start"}},
                     {"yAxis": LEAVE_THRESHOLD,
                      "label": {"formatter": "below: leaves the controls"}}]}
    return opt


def intensity_option(session) -> dict:
    """China's retaliation intensity each week (0 none, 1 all instruments at full strength),
    with the rules (red step line) and, when the scenario has rules, without them (grey,
    dashed)."""
    T = session.week
    opt = _series_base(session, "China's retaliation intensity",
                       "0 = none, 1 = full" + ("; grey dashed: without the rules"
                                               if session.has_rules else ""),
                       "intensity (0 to 1)", 0, 1)
    opt["series"].append(_line("with rules" if session.has_rules else "retaliation intensity",
                               _pairs(session.rec.intensity, T), colour_of("CHN"), step="end"))
    if session.has_rules:
        opt["series"].append(_line("without rules", _pairs(session.cf_rec.intensity, T),
                                   "#888888", dash="dashed", width=1.6, step="end"))
    return opt


def firms_option(session, top: int = 8) -> dict:
    """Weekly revenue of the most affected firms, in % of their baseline weekly revenue.

    Samsung Electronics and SK Hynix are always shown; the other places up to ``top`` go to
    the firms whose revenue strayed furthest from baseline so far (mean absolute gap). Lines
    take the colour of the firm's home country; firms of one country differ by dash.
    """
    rec, T = session.rec, session.week
    firms = session.model.firms
    names = [f.name for f in firms]
    base = np.array([f.baseline_revenue for f in firms], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(base > 0, 100.0 * rec.revenue[:T] / base, 100.0)
    gap = np.abs(pct - 100.0).mean(0) if T else np.zeros(len(names))
    chosen = [names.index(n) for n in ALWAYS_FIRMS if n in names]
    for j in sorted(range(len(names)), key=lambda j: (-round(float(gap[j]), 9), names[j])):
        if len(chosen) >= top:
            break
        if j not in chosen:
            chosen.append(j)
    opt = _series_base(session, "Firm revenue",
                       "weekly revenue, % of the firm's baseline; colour: home country",
                       "% of baseline revenue")
    seen: dict[str, int] = {}
    for j in chosen:
        hq = firms[j].hq
        dash = DASHES[seen.get(hq, 0) % len(DASHES)]
        seen[hq] = seen.get(hq, 0) + 1
        opt["series"].append(_line(names[j], _pairs(pct[:, j], T), colour_of(hq), dash=dash))
    if opt["series"]:
        opt["series"][0]["markLine"] = {
            "silent": True, "symbol": "none", "animation": False,
            "lineStyle": {"type": "dotted", "color": "#888", "width": 1},
            "label": {"formatter": "baseline", "position": "insideStartTop", "color": "#666",
                      "fontSize": 10},
            "data": [{"yAxis": 100}]}
    return opt


def comparison_option(session) -> dict:
    """Cumulative net loss so far (value-added loss less transfers received), % of annual
    GDP, per country: with the rules and, when the scenario has rules, without them, side by
    side. Bars take the country's colour; the bars without rules are paler."""
    if session.week == 0:
        return empty_option("No weeks run yet")
    res = session.result()
    cols = res.summary["countries"]
    isos = [c for c in MAIN_COUNTRIES if c in cols]
    runs = [("with rules" if session.has_rules else "net loss", cols, 1.0)]
    if res.counterfactual is not None:
        runs.append(("without rules", res.counterfactual.summary["countries"], 0.4))
    series = []
    for name, table, opacity in runs:
        values = [round(float(table[c]["net_loss_pct"]), 3) + 0.0 for c in isos]
        series.append({
            "type": "bar", "name": name, "barGap": "10%", "barMaxWidth": 36,
            # the series colour is the legend's; each bar carries its country's colour
            "itemStyle": {"color": "#555555", "opacity": opacity},
            "label": {"show": True, "position": "top", "fontSize": 9, "color": "#333"},
            "data": [{"value": v, "itemStyle": {"color": colour_of(c), "opacity": opacity,
                                                "borderColor": colour_of(c),
                                                "borderWidth": 1 if opacity < 1 else 0}}
                     for c, v in zip(isos, values, strict=True)],
        })
    week = session.week
    return {
        "animation": False,
        "title": {"text": f"Net loss so far (week {week}), % of annual GDP",
                  "subtext": "value-added loss less transfers received, summed over the weeks "
                             "run" + ("; pale: without the rules" if len(runs) > 1 else ""),
                  "left": 10, "top": 0, "textStyle": {"fontSize": 15},
                  "subtextStyle": {"fontSize": 11}},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}, "confine": True},
        "legend": {"bottom": 0},
        "grid": {"left": 12, "right": 24, "top": 72, "bottom": 52, "containLabel": True},
        "xAxis": {"type": "category", "data": isos, "name": "country",
                  "nameLocation": "middle", "nameGap": 26},
        "yAxis": {"type": "value", "name": "% of annual GDP", "nameLocation": "end",
                  "nameTextStyle": {"align": "left"}},
        "series": series,
    }


# --- the network -----------------------------------------------------------------------------
@per_graph
def network_edges(g: CompiledGraph) -> np.ndarray:
    """Indices of the largest edges that together carry :data:`EDGE_SHARE` of the baseline
    flow (at most :data:`MAX_EDGES` of them), in edge order; the network chart draws only
    these. Computed once per graph."""
    if g.n_edges == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-g.f0, kind="stable")
    cum = np.cumsum(g.f0[order])
    k = int(np.searchsorted(cum, EDGE_SHARE * cum[-1])) + 1
    keep = np.sort(order[:min(k, g.n_edges, MAX_EDGES)])
    keep.setflags(write=False)
    return keep


@per_graph
def _network_static(g: CompiledGraph) -> dict:
    """What the network chart draws the same way every week (cached per graph)."""
    lay = graph_layout(g)
    xmin, xmax, ymin, ymax = lay.extent
    px, py = sig(lay.x), sig(lay.y)
    x0 = g.x0
    big = float(x0.max()) if len(x0) and x0.max() > 0 else 1.0
    size = sig(5.0 + 19.0 * np.sqrt(np.clip(x0, 0, None) / big), 3)
    heads, nodes = [], []
    for i, nid in enumerate(map(str, g.node_ids)):   # ids may be any hashable
        seg = g.segments[g.segment[i]]
        iso = g.countries[g.country[i]]
        firm = g.firms[g.firm[i]] if g.firm[i] >= 0 else ""
        kind = "final-demand market" if g.is_sink[i] else seg
        heads.append(f"<b>{html.escape(nid)}</b><br/>{html.escape(kind)}, {html.escape(iso)}"
                     + (f", {html.escape(firm)}" if firm else "") + "<br/>")
        node = {"name": nid, "value": [px[i], py[i]], "symbolSize": size[i]}
        if g.is_sink[i]:
            node["symbol"] = "diamond"
        nodes.append(node)
    edges = network_edges(g)
    src, dst, f0 = g.src[edges], g.dst[edges], g.f0[edges]
    fmax = float(f0.max()) if len(f0) else 1.0
    # labels: a silent scatter series on the same axes, so they line up with the nodes at any
    # chart size; pale bands behind the members, China and the rest of the world
    labels, areas = [], []
    for iso, yc, y0, y1 in lay.bands:
        labels.append({"name": iso, "value": sig([xmin - 0.9, yc]),
                       "label": {"position": "left", "color": colour_of(iso),
                                 "fontWeight": "bold", "fontSize": 12}})
        tint = ("rgba(31,119,180,0.06)" if iso in MAIN_COUNTRIES[:4] else
                "rgba(214,39,40,0.06)" if iso == "CHN" else "rgba(0,0,0,0.03)")
        areas.append([{"yAxis": _sig1(y0 - 0.45), "itemStyle": {"color": tint}},
                      {"yAxis": _sig1(y1 + 0.45)}])
    for k, (label, xc, _, _) in enumerate(lay.columns):   # staggered: narrow columns
        labels.append({"name": label, "value": sig([xc, ymin - (1.0 if k % 2 else 1.8)]),
                       "label": {"position": "top", "color": "#444", "fontSize": 11}})
    return {
        "nodes": nodes, "heads": heads, "edges": edges, "src": src.tolist(),
        "dst": dst.tolist(), "f0": f0, "fmax": fmax, "labels": labels, "areas": areas,
        "x_range": (_sig1(xmin - 2.2), _sig1(xmax + 1.6)),
        "y_range": (_sig1(ymin - 2.4), _sig1(ymax + 0.8)),
        "cap_base": g.x0 * (1.0 + g.spare),
        "n_edges": g.n_edges,
        "share": float(f0.sum() / g.f0.sum()) if g.n_edges else 1.0,
    }


def _bin(values: np.ndarray, bins) -> np.ndarray:
    bounds = np.array([b for b, _, _ in bins[:-1]])
    return np.searchsorted(bounds, values, side="right")


def _legend_map(bins, title: str) -> dict:
    """A piecewise visualMap used as a colour legend only (it targets no series)."""
    pieces, lo = [], None
    for hi, colour, label in bins:
        piece = {"label": label, "color": colour}
        if lo is not None:
            piece["min"] = lo
        if math.isfinite(hi):
            piece["max"] = hi
        pieces.append(piece)
        lo = hi if math.isfinite(hi) else lo
    return {"type": "piecewise", "seriesIndex": [], "pieces": pieces, "orient": "horizontal",
            "left": "center", "bottom": 4, "itemWidth": 14, "itemHeight": 10, "itemGap": 18,
            "text": [None, title], "textGap": 6, "selectedMode": False,
            "textStyle": {"fontSize": 10, "color": "#444"}, "showLabel": True}


def network_option(session, color_by: str = "shortfall", which: str = "rules",
                   compact: bool = False) -> dict:
    """The supply chain this week: nodes at fixed places (columns by stage, upstream left;
    bands by country, members on top), coloured by this week's shortfall (1 - output /
    baseline output) or, with ``color_by="utilisation"``, by output / capacity at baseline
    (baseline output x (1 + spare capacity)); sized by baseline output (square root).

    Final-demand markets are diamonds; a red ring marks nodes whose capacity a shock cut
    this week. Edges are the ones carrying 95% of baseline flow (the minor ones are hidden),
    as wide as this week's delivered flow; red where less than 95% of the baseline flow is
    delivered, blue where more than 105%. ``which="no_rules"`` draws the run without the
    rules (a message if the scenario has none).
    """
    if color_by not in ("shortfall", "utilisation"):
        raise ValueError(f"color_by {color_by!r} not in ('shortfall', 'utilisation')")
    if which not in ("rules", "no_rules"):
        raise ValueError(f"which {which!r} not in ('rules', 'no_rules')")
    model = session.model if which == "rules" else session.cf_model
    if model is None:
        return empty_option("This scenario has no rules, so there is no run without them.")
    g = model.graph
    st = _network_static(g)
    eng = model.engine
    out = eng.output
    x0 = g.x0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x0 > 0, out / x0, 1.0)
        util = np.where(st["cap_base"] > 0, out / st["cap_base"], 0.0)
    short = shortfall_by_node(model)
    if color_by == "shortfall":
        bins, title = SHORTFALL_BINS, "Output vs baseline:"
        colours = [bins[k][1] for k in _bin(short, bins).tolist()]
    else:
        bins, title = UTILISATION_BINS, "Output / capacity:"
        colours = [SINK_COLOUR if s else bins[k][1]
                   for k, s in zip(_bin(util, bins).tolist(), g.is_sink.tolist(), strict=True)]
    hit = model.hit_nodes
    ratio_l, short_l = sig(100 * ratio, 4), sig(100 * short, 3)
    util_l = sig(100 * util, 3)
    nodes = []
    for i, base in enumerate(st["nodes"]):
        tip = (st["heads"][i] + f"output {_fmt(ratio_l[i], 1)}% of baseline<br/>"
               f"shortfall {_fmt(short_l[i], 1)}%")
        node = dict(base)
        style = {"color": colours[i]}
        if not g.is_sink[i]:
            tip += f"<br/>capacity used {_fmt(util_l[i], 0)}%"
        if hit[i]:
            style.update(HIT_BORDER)
            tip += f"<br/><b>capacity cut by a shock</b> (x{model.cap_mult[i]:.2f})"
        node["itemStyle"] = style
        node["tooltip"] = {"formatter": tip}
        nodes.append(node)

    e = st["edges"]
    delivered = eng.delivered[e]
    f0 = st["f0"]
    er = np.divide(delivered, f0, out=np.ones_like(f0), where=f0 > 0)
    width = sig(0.4 + 3.6 * np.sqrt(np.clip(delivered, 0, None) / st["fmax"]), 2)
    er_l = sig(100 * er, 3)
    short_e = er < 0.95
    more_e = er > 1.05
    # fading red: the larger the drop, the more opaque
    alpha = sig(np.clip(0.35 + 0.65 * (1 - er) / 0.5, 0.35, 1.0), 2)
    links = []
    # grey edges first, so the changed ones are drawn on top
    for k in np.argsort(short_e | more_e, kind="stable").tolist():
        link = {"source": st["src"][k], "target": st["dst"][k], "value": er_l[k]}
        if short_e[k]:
            link["lineStyle"] = {"width": width[k], "color": EDGE_SHORT, "opacity": alpha[k]}
        elif more_e[k]:
            link["lineStyle"] = {"width": width[k], "color": EDGE_MORE, "opacity": 0.6}
        else:
            link["lineStyle"] = {"width": width[k]}
        links.append(link)

    run = ("without rules" if which == "no_rules" else
           "with rules" if session.has_rules else "")
    week = getattr(model, "week", session.week)
    what = ("shortfall vs baseline output" if color_by == "shortfall"
            else "output / capacity at baseline")
    x_lo, x_hi = st["x_range"]
    y_lo, y_hi = st["y_range"]
    opt = {
        "animation": False,
        "title": {
            "text": f"Supply-chain network, week {week}" + (f" ({run})" if run else ""),
            "subtext": (f"colour: {what}; size: baseline output; diamonds: final demand; red "
                        "ring: capacity cut by a shock\n"
                        f"edges: the {len(e)} of {st['n_edges']} carrying {st['share']:.0%} "
                        "of baseline flow (minor edges hidden), width: flow this week, red: "
                        "under 95% of baseline delivered"),
            "left": 10, "top": 0, "textStyle": {"fontSize": 15},
            "subtextStyle": {"fontSize": 11, "lineHeight": 15}},
        "tooltip": {"trigger": "item", "confine": True},
        # the legend of node colours: a visualMap that targets no series (see the bins above)
        "visualMap": [_legend_map(bins, title)],
        "grid": {"left": 48, "right": 16, "top": 96, "bottom": 34},
        "xAxis": {"type": "value", "show": False, "min": x_lo, "max": x_hi},
        "yAxis": {"type": "value", "show": False, "inverse": True, "min": y_lo, "max": y_hi},
        "series": [
            {
                "type": "graph", "name": "supply chain", "coordinateSystem": "cartesian2d",
                "layout": "none", "roam": False, "symbol": "circle",
                "itemStyle": {"borderColor": "#555", "borderWidth": 0.6},
                "lineStyle": {"color": EDGE_GREY, "opacity": 0.3, "curveness": 0.12},
                "label": {"show": False},
                "emphasis": {"focus": "adjacency", "label": {"show": True, "position": "right",
                                                             "fontSize": 10}},
                "data": nodes,
                "links": links,
                "z": 3,
            },
            {
                "type": "scatter", "name": "labels", "silent": True, "symbolSize": 1,
                "itemStyle": {"color": "rgba(0,0,0,0)"},
                "label": {"show": True, "formatter": "{b}"},
                "tooltip": {"show": False},
                "data": st["labels"],
                "markArea": {"silent": True, "data": st["areas"]},
                "z": 1,
            },
        ],
    }
    if compact:   # half-width (the with/without comparison): shorter texts, tighter legend
        short = "shortfall" if color_by == "shortfall" else "use of capacity"
        opt["title"]["subtext"] = f"colour: {short}; red ring: cut by a shock; {len(e)} edges"
        opt["grid"]["top"] = 72
        opt["visualMap"][0].update({"itemGap": 4, "itemWidth": 10, "text": None,
                                    "textStyle": {"fontSize": 8, "color": "#444"}})
        # the label dicts are cached per graph: replace them, never change them in place
        opt["series"][1]["data"] = [{**lab, "label": {**lab["label"], "fontSize": 8}}
                                    for lab in opt["series"][1]["data"]]
    return opt


__all__ = ["COUNTRY_COLOURS", "alignment_option", "comparison_option", "empty_option",
           "firms_option", "intensity_option", "loss_option", "network_edges", "network_option",
           "sig"]
