"""The dashboard's ECharts options (chip4model.dashboard.charts) and network layout."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest

from chip4model.dashboard import charts, layout
from chip4model.dashboard.charts import (
    COUNTRY_COLOURS,
    SHORTFALL_BINS,
    SINK_COLOUR,
    UTILISATION_BINS,
    alignment_option,
    comparison_option,
    empty_option,
    firms_option,
    intensity_option,
    loss_option,
    network_edges,
    network_option,
    sig,
)
from chip4model.dashboard.layout import graph_layout, network_layout
from chip4model.dashboard.session import Session
from chip4model.scenario import load_scenario, scenario_from_dict

FIXED = Path(__file__).resolve().parents[1] / "experiments" / "scenarios" / \
    "kor-fixed-retaliation.toml"
SERIES_CHARTS = (loss_option, alignment_option, intensity_option, firms_option)
PLAIN = (dict, list, str, int, float, bool, type(None))
WITHIN = SHORTFALL_BINS[2][1]     # the colour of "within 1% of baseline"


def _session(name, weeks):
    s = Session.from_name(name)
    s.step(weeks)
    return s


@pytest.fixture(scope="module")
def collective():
    return _session("kor-aligns-collective", 30)


@pytest.fixture(scope="module")
def baseline():
    return _session("baseline", 30)


@pytest.fixture(scope="module")
def fixed_weeks():
    """Network options of the scripted retaliation against Korea (from week 4) at weeks 1
    and 30, and the session at week 30."""
    s = Session.from_name(str(FIXED))
    s.step(1)
    first = network_option(s)
    s.step(29)
    return first, network_option(s), s


def _all_options(s):
    opts = [f(s) for f in SERIES_CHARTS] + [comparison_option(s), network_option(s),
                                            network_option(s, "utilisation"),
                                            network_option(s, which="no_rules"),
                                            empty_option("nothing yet")]
    return opts


def _check_plain(x, path="option"):
    assert type(x) in PLAIN, f"{path} is {type(x).__name__}"
    if isinstance(x, dict):
        for k, v in x.items():
            assert type(k) is str, f"{path} key {k!r}"
            _check_plain(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _check_plain(v, f"{path}[{i}]")


def _nodes(opt):
    return opt["series"][0]["data"]


def _links(opt):
    return opt["series"][0]["links"]


# --- every option ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["collective", "baseline"])
def test_options_are_plain_json_without_animation(name, request):
    s = request.getfixturevalue(name)
    for opt in _all_options(s):
        json.dumps(opt, allow_nan=False)    # no default=, no NaN
        _check_plain(opt)                   # exactly builtin types: no numpy float64 or int64
        assert opt["animation"] is False
        assert opt["title"]["text"]


def test_series_have_one_point_per_week_on_a_fixed_axis(collective):
    for f in SERIES_CHARTS:
        opt = f(collective)
        assert opt["xAxis"]["min"] == 1 and opt["xAxis"]["max"] == collective.steps
        assert opt["tooltip"]["trigger"] == "axis"
        assert opt["xAxis"]["name"] == "week" and opt["yAxis"]["name"]
        assert opt["series"], f.__name__
        for series in opt["series"]:
            assert len(series["data"]) == collective.week == 30
            assert [p[0] for p in series["data"]] == list(range(1, 31))


@pytest.mark.parametrize("measure", ["output", "value_added"])
def test_loss_values_are_the_recorded_percentages(collective, measure):
    opt = loss_option(collective, measure)
    kor = next(x for x in opt["series"] if x["name"] == "KOR")
    m, rec = collective.model, collective.rec
    i = m.graph.countries.index("KOR")
    expected = (100 * (1 - rec.output[:30, i] / m.x0_country[i]) if measure == "output"
                else 100 * rec.va_loss[:30, i] / m.va0_country[i])
    got = np.array([v for _, v in kor["data"]])
    assert np.allclose(got, expected, rtol=1e-3, atol=1e-9)
    assert got.max() > 1          # Korea loses under retaliation: not an all-zero line
    assert kor["lineStyle"]["color"] == COUNTRY_COLOURS["KOR"]
    assert opt["title"]["text"].startswith("Output" if measure == "output" else "Value-added")


def test_loss_measure_is_checked(collective):
    with pytest.raises(ValueError, match="measure"):
        loss_option(collective, "gdp")


def test_a_country_keeps_its_colour_across_charts(collective):
    loss = {x["name"]: x["color"] for x in loss_option(collective)["series"]}
    align = {x["name"]: x["color"] for x in alignment_option(collective)["series"]}
    for iso in ("USA", "KOR", "JPN", "TWN"):
        assert loss[iso] == align[f"{iso} alignment"] == align[f"{iso} credibility"] \
            == COUNTRY_COLOURS[iso]
    assert loss["CHN"] == COUNTRY_COLOURS["CHN"]
    assert len(set(COUNTRY_COLOURS.values())) == len(COUNTRY_COLOURS)
    bars = comparison_option(collective)["series"][0]["data"]
    assert [b["itemStyle"]["color"] for b in bars] == \
        [COUNTRY_COLOURS[c] for c in ("USA", "KOR", "JPN", "TWN", "CHN")]


def test_counterfactual_series_only_with_rules(collective, baseline):
    assert collective.has_rules and not baseline.has_rules
    names = [x["name"] for x in loss_option(collective)["series"]]
    assert names[-1] == "KOR without rules"
    dashed = loss_option(collective)["series"][-1]
    assert dashed["lineStyle"]["type"] == "dashed"
    assert [x["name"] for x in intensity_option(collective)["series"]] == \
        ["with rules", "without rules"]
    assert [x["name"] for x in comparison_option(collective)["series"]] == \
        ["with rules", "without rules"]
    cf = network_option(collective, which="no_rules")
    assert cf["series"][0]["type"] == "graph" and "without rules" in cf["title"]["text"]

    assert not any("without" in x["name"] for f in SERIES_CHARTS
                   for x in f(baseline)["series"])
    assert len(comparison_option(baseline)["series"]) == 1
    assert network_option(baseline, which="no_rules")["series"] == []   # a message instead


def test_comparison_bars_are_the_summary_net_losses(collective):
    opt = comparison_option(collective)
    res = collective.result()
    assert opt["xAxis"]["data"] == ["USA", "KOR", "JPN", "TWN", "CHN"]
    with_rules = [b["value"] for b in opt["series"][0]["data"]]
    without = [b["value"] for b in opt["series"][1]["data"]]
    assert with_rules[1] == pytest.approx(res.summary["countries"]["KOR"]["net_loss_pct"],
                                          abs=1e-3)
    assert without[1] == pytest.approx(
        res.counterfactual.summary["countries"]["KOR"]["net_loss_pct"], abs=1e-3)
    assert with_rules[1] > 0


def test_firms_chart_always_has_samsung_and_hynix(collective, baseline):
    for s in (collective, baseline):
        names = [x["name"] for x in firms_option(s)["series"]]
        assert names[:2] == ["Samsung Electronics", "SK Hynix"]
        assert len(names) == 8 == len(set(names))
    assert [x["name"] for x in firms_option(collective, top=2)["series"]] == \
        ["Samsung Electronics", "SK Hynix"]
    assert len(firms_option(collective, top=5)["series"]) == 5
    # the others are the most affected: every firm left out strayed less from baseline
    opt = firms_option(collective, top=5)
    firms = collective.model.firms
    base = np.array([f.baseline_revenue for f in firms])
    gap = np.abs(100 * collective.rec.revenue[:30] / base - 100).mean(0)
    shown = {x["name"] for x in opt["series"][2:]}
    shown_gap = min(gap[j] for j, f in enumerate(firms) if f.name in shown)
    left_out = [gap[j] for j, f in enumerate(firms)
                if f.name not in shown and f.name not in charts.ALWAYS_FIRMS]
    assert max(left_out) <= shown_gap


def test_week_zero():
    s = Session.from_name("kor-aligns-collective")
    for f in SERIES_CHARTS:
        opt = f(s)
        assert all(series["data"] == [] for series in opt["series"])
    assert comparison_option(s)["series"] == []
    opt = network_option(s)
    assert len(_nodes(opt)) == s.model.graph.n_nodes


def test_empty_option():
    opt = empty_option("Press play")
    assert opt["title"]["text"] == "Press play" and opt["series"] == []
    assert opt["animation"] is False


# --- the network -----------------------------------------------------------------------------
def test_network_draws_every_node_and_the_cached_edges(collective):
    g = collective.model.graph
    opt = network_option(collective)
    graph = opt["series"][0]
    assert graph["type"] == "graph" and graph["layout"] == "none"
    assert len(graph["data"]) == g.n_nodes
    assert [n["name"] for n in graph["data"]] == list(g.node_ids)
    edges = network_edges(g)
    assert network_edges(g) is edges                          # computed once per graph
    assert len(graph["links"]) == len(edges) < g.n_edges
    assert {(x["source"], x["target"]) for x in graph["links"]} == \
        set(zip(g.src[edges].tolist(), g.dst[edges].tolist(), strict=True))
    # the kept edges carry 95% of the flow, and no fewer edges would
    kept = np.sort(g.f0[edges])
    assert kept.sum() >= 0.95 * g.f0.sum() > kept[1:].sum()
    assert kept.min() >= g.f0[np.setdiff1d(np.arange(g.n_edges), edges)].max()
    assert "minor edges hidden" in opt["title"]["subtext"]
    assert "week 30" in opt["title"]["text"]


def test_network_positions_are_the_layout(collective):
    g = collective.model.graph
    x, y = network_layout(g)
    got = np.array([n["value"] for n in _nodes(network_option(collective))])
    assert np.allclose(got[:, 0], x, atol=1e-3) and np.allclose(got[:, 1], y, atol=1e-3)
    assert network_option(collective)["yAxis"]["inverse"] is True   # y grows downward


def test_network_node_style(collective):
    g = collective.model.graph
    nodes = _nodes(network_option(collective))
    sinks = [nodes[i] for i in np.flatnonzero(g.is_sink)]
    assert sinks and all(n["symbol"] == "diamond" for n in sinks)
    assert not any("symbol" in nodes[i] for i in np.flatnonzero(~g.is_sink))
    size = np.array([n["symbolSize"] for n in nodes])
    assert size.min() >= 5
    assert size[np.argmax(g.x0)] == size.max() > 3 * size.min()
    tip = nodes[g.index["kor_hf_soulbrain"]]["tooltip"]["formatter"]
    assert "kor_hf_soulbrain" in tip and "KOR" in tip and "Soulbrain" in tip and "%" in tip


def test_network_changes_under_retaliation(fixed_weeks):
    first, later, s = fixed_weeks
    g = s.model.graph
    assert {n["itemStyle"]["color"] for n in _nodes(first)} == {WITHIN}
    colours = [n["itemStyle"]["color"] for n in _nodes(later)]
    short = {c for _, c, label in SHORTFALL_BINS if "short" in label}
    assert sum(c in short for c in colours) >= 3
    kor_memory = g.nodes_where(country="KOR", segment="memory")
    assert any(colours[i] in short for i in kor_memory)     # China bans half of it
    red = [x for x in _links(later) if x["lineStyle"].get("color") == charts.EDGE_SHORT]
    assert red and all(x["value"] < 95 for x in red)
    assert not any("color" in x["lineStyle"] for x in _links(first))
    widths = lambda o: [x["lineStyle"]["width"] for x in _links(o)]   # noqa: E731
    assert widths(first) != widths(later)


def test_network_does_not_change_in_the_baseline():
    s = Session.from_name("baseline")
    s.step(1)
    first = network_option(s)
    s.step(29)
    later = network_option(s)
    assert _nodes(first) == _nodes(later)
    assert _links(first) == _links(later)
    assert {n["itemStyle"]["color"] for n in _nodes(later)} == {WITHIN}
    assert first["title"]["text"] != later["title"]["text"]   # the week moved on


def test_nodes_hit_by_a_shock_get_a_red_border():
    data = load_scenario(str(FIXED)).to_dict()
    data["shocks"].append({"type": "disruption", "country": "KOR", "segment": "memory",
                           "intensity": 0.5, "onset": 2, "duration": 10})
    s = Session(scenario_from_dict(data, "test"))
    s.step(5)
    hit = s.model.hit_nodes
    assert hit.any()
    nodes = _nodes(network_option(s))
    for i, n in enumerate(nodes):
        assert (n["itemStyle"].get("borderColor") == "#ff0000") == bool(hit[i])
    assert "capacity cut by a shock" in nodes[int(np.flatnonzero(hit)[0])]["tooltip"][
        "formatter"]


def test_network_by_utilisation(collective):
    g = collective.model.graph
    opt = network_option(collective, color_by="utilisation")
    colours = [n["itemStyle"]["color"] for n in _nodes(opt)]
    assert all(colours[i] == SINK_COLOUR for i in np.flatnonzero(g.is_sink))
    allowed = {c for _, c, _ in UTILISATION_BINS}
    assert all(colours[i] in allowed for i in np.flatnonzero(~g.is_sink))
    assert len({colours[i] for i in np.flatnonzero(~g.is_sink)}) >= 2
    legend = opt["visualMap"][0]
    assert legend["seriesIndex"] == [] and [p["color"] for p in legend["pieces"]] == \
        [c for _, c, _ in UTILISATION_BINS]
    with pytest.raises(ValueError):
        network_option(collective, color_by="colour")
    with pytest.raises(ValueError):
        network_option(collective, which="both")


def test_network_labels_line_up_with_bands(collective):
    g = collective.model.graph
    opt = network_option(collective)
    labels = {d["name"]: d["value"] for d in opt["series"][1]["data"]}
    x, y = network_layout(g)
    for iso in g.countries:
        nodes_y = y[g.country == g.countries.index(iso)]
        assert nodes_y.min() - 0.5 <= labels[iso][1] <= nodes_y.max() + 0.5
        assert labels[iso][0] < x.min()
    assert opt["series"][1]["silent"] is True


# --- layout ----------------------------------------------------------------------------------
def test_layout_is_deterministic_and_without_overlaps(collective):
    g = collective.model.graph
    x, y = network_layout(g)
    assert network_layout(g)[0] is x                          # cached per graph
    graph_layout.cache_clear()
    x2, y2 = network_layout(g)
    assert x2 is not x and np.array_equal(x, x2) and np.array_equal(y, y2)
    assert len(set(zip(x.tolist(), y.tolist(), strict=True))) == g.n_nodes
    assert not x.flags.writeable


def test_layout_bands_and_stages(collective):
    g = collective.model.graph
    x, y = network_layout(g)
    country = np.array(g.countries)[g.country]
    members = np.isin(country, ["USA", "KOR", "JPN", "TWN"])
    assert y[members].max() < y[country == "CHN"].min()       # members above China
    assert y[country == "CHN"].max() < y[np.isin(country, ["EUR", "SEA", "ROW"])].min()
    for a, b in zip(layout.BAND_ORDER, layout.BAND_ORDER[1:], strict=False):
        assert y[country == a].max() < y[country == b].min()
    stage = np.array(g.stage)
    seg = np.array(g.segments)[g.segment]
    assert x[stage == "critical_input"].max() < x[stage == "equipment"].min()
    assert x[stage == "equipment"].max() < x[seg == "memory"].min()
    assert x[seg == "memory"].max() < x[seg == "electronics"].min()
    assert x[g.is_sink].min() > x[~g.is_sink].max()           # markets on the right
    assert len(set(x[g.is_sink].tolist())) == 1


def test_module_examples():
    for module in (layout, charts):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_sig():
    assert sig([123456.7, 0.000123456, -2.5e-14, 1.23456]) == [123500.0, 0.0001235, 0.0, 1.235]
    assert sig(np.array([np.nan, np.inf, 2.0])) == [None, None, 2.0]
    assert all(type(v) is float for v in sig(np.arange(3, dtype=np.float32)))


def test_large_user_graph_is_laid_out_and_capped():
    from chip4model.engine import compile_graph
    from chip4model.synthetic import synthetic_graph

    g = compile_graph(synthetic_graph(1500, 8000, seed=3))
    x, y = network_layout(g)
    assert len(set(zip(x.tolist(), y.tolist(), strict=True))) == g.n_nodes
    edges = network_edges(g)
    assert len(edges) == charts.MAX_EDGES < g.n_edges
    assert g.f0[edges].min() >= np.delete(g.f0, edges).max()


def test_compact_network_is_shorter_and_leaves_the_cache_alone(collective):
    full = network_option(collective)
    small = network_option(collective, compact=True)
    assert len(small["title"]["subtext"]) < len(full["title"]["subtext"])
    assert small["series"][0]["data"] == full["series"][0]["data"]
    assert all(lab["label"]["fontSize"] == 8 for lab in small["series"][1]["data"])
    again = network_option(collective)
    assert again["series"][1]["data"] == full["series"][1]["data"]
    assert all(lab["label"].get("fontSize") != 8 for lab in again["series"][1]["data"])
