"""The supply-chain graph: the calibrated default, reading/writing, validation errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import networkx as nx
import pytest
from conftest import tiny_graph

from chip4model.errors import InputError
from chip4model.graph import (
    KINDS,
    NODE_FLOAT_ATTRS,
    STAGES,
    default_graph,
    read_graph,
    validate_graph,
    write_graph,
)
from chip4model.synthetic import synthetic_graph


@pytest.fixture(scope="module")
def G() -> nx.DiGraph:
    return default_graph()


# --- the default graph ---------------------------------------------------------------------------
def test_default_graph_validates(G):
    assert validate_graph(G, "default") is G
    assert G.number_of_nodes() > 50 and G.number_of_edges() > G.number_of_nodes()
    kinds = {d["kind"] for _, d in G.nodes(data=True)}
    assert kinds == set(KINDS)
    for _, d in G.nodes(data=True):
        if d["kind"] == "producer":
            assert d["stage"] in STAGES


def test_default_graph_is_a_fresh_copy_each_call(G):
    H = default_graph()
    v = next(iter(H))
    H.nodes[v]["segment"] = "mutated"
    H.remove_edge(*next(iter(H.edges)))
    K = default_graph()
    assert K.nodes[v]["segment"] != "mutated"
    assert K.number_of_edges() == G.number_of_edges()


def test_every_node_and_edge_has_a_source(G):
    no_src_nodes = [v for v, d in G.nodes(data=True) if not str(d.get("source", "")).strip()]
    no_src_edges = [(u, v) for u, v, d in G.edges(data=True)
                    if not str(d.get("source", "")).strip()]
    assert not no_src_nodes
    assert not no_src_edges


def test_default_graph_knows_the_chip4_firms_and_countries(G):
    firms = {d["firm"] for _, d in G.nodes(data=True)}
    assert {"Samsung Electronics", "SK Hynix", "TSMC"} <= firms
    countries = {d["country"] for _, d in G.nodes(data=True)}
    assert {"USA", "KOR", "JPN", "TWN", "CHN"} <= countries
    assert G.nodes["kor_memory_samsung"]["firm"] == "Samsung Electronics"


def test_default_graph_producers_have_non_negative_value_added(G):
    for v, d in G.nodes(data=True):
        if d["kind"] != "producer":
            continue
        out = sum(e["flow"] for *_, e in G.out_edges(v, data=True))
        inp = sum(e["flow"] for *_, e in G.in_edges(v, data=True))
        assert out > 0 and inp <= out * (1 + 1e-9), v


# --- round trips ---------------------------------------------------------------------------------
def _same_graph(G: nx.DiGraph, H: nx.DiGraph) -> None:
    assert set(G.nodes) == set(H.nodes)
    assert set(G.edges) == set(H.edges)
    for u, v, d in G.edges(data=True):
        assert math.isclose(H.edges[u, v]["flow"], d["flow"], rel_tol=1e-12), (u, v)
        assert H.edges[u, v].get("source", "") == d.get("source", "")
    for v, d in G.nodes(data=True):
        h = H.nodes[v]
        for key in ("kind", "segment", "country", "firm"):
            assert h.get(key, "") == d.get(key, ""), (v, key)
        if d["kind"] == "producer":
            assert h["stage"] == d["stage"]
        for key in NODE_FLOAT_ATTRS:
            assert math.isclose(float(h[key]), float(d[key]), rel_tol=1e-12), (v, key)


@pytest.mark.parametrize("target", ["graph.graphml", "graph_folder"])
def test_write_read_round_trip(G, tmp_path, target):
    path = write_graph(G, tmp_path / target)
    assert path.exists()
    if path.is_dir():
        assert (path / "nodes.csv").exists() and (path / "edges.csv").exists()
    H = read_graph(path)
    _same_graph(G, H)
    # and a second trip gives the same again
    H2 = read_graph(write_graph(H, tmp_path / ("again_" + target)))
    _same_graph(H, H2)


def _synthetic_with_string_ids() -> nx.DiGraph:
    S = synthetic_graph(60, 250, n_segments=6, seed=3)
    return nx.relabel_nodes(S, {v: f"n{v}" for v in S})  # file formats give string ids


@pytest.mark.parametrize("target", ["syn.graphml", "syn_folder"])
def test_round_trip_of_a_synthetic_graph_with_sources(tmp_path, target):
    S = _synthetic_with_string_ids()
    for *_, d in S.edges(data=True):
        d["source"] = "synthetic"
    H = read_graph(write_graph(S, tmp_path / target))
    _same_graph(S, H)


def test_round_trip_of_a_synthetic_graph_through_graphml_without_sources(tmp_path):
    S = _synthetic_with_string_ids()
    _same_graph(S, read_graph(write_graph(S, tmp_path / "syn.graphml")))


def test_round_trip_of_a_valid_graph_without_sources_through_csv(tmp_path):
    S = _synthetic_with_string_ids()
    validate_graph(S, "synthetic")
    _same_graph(S, read_graph(write_graph(S, tmp_path / "syn")))


def test_csv_round_trip_keeps_node_sources(G, tmp_path):
    H = read_graph(write_graph(G, tmp_path / "folder"))
    lost = [v for v in G if H.nodes[v].get("source") != G.nodes[v]["source"]]
    assert not lost, f"{len(lost)} node sources lost, e.g. {lost[:3]}"


# --- validation errors ---------------------------------------------------------------------------
def test_tiny_graph_is_valid():
    validate_graph(tiny_graph(), "tiny")


def _expect(G, field_part: str, *words: str) -> InputError:
    with pytest.raises(InputError) as ei:
        validate_graph(G, "bad.graphml")
    exc = ei.value
    assert exc.source == "bad.graphml"
    assert field_part in exc.field, (exc.field, str(exc))
    for w in words:
        assert w in str(exc), str(exc)
    assert "\n" not in exc.one_line()
    return exc


def test_negative_flow_is_rejected():
    G = tiny_graph()
    G.edges["a", "b"]["flow"] = -1.0
    _expect(G, "edges.a->b.flow")


def test_zero_flow_is_rejected():
    G = tiny_graph()
    G.edges["a", "b"]["flow"] = 0.0
    _expect(G, "edges.a->b.flow", "> 0")


def test_non_numeric_flow_is_rejected():
    G = tiny_graph()
    G.edges["a", "b"]["flow"] = "lots"
    _expect(G, "edges.a->b.flow", "number")


def test_producer_buying_more_than_it_sells_is_rejected():
    G = tiny_graph()
    G.edges["a", "b"]["flow"] = 5.0  # b buys 5, sells 3
    _expect(G, "nodes.b", "buys", "sells")


def test_unknown_stage_is_rejected():
    G = tiny_graph()
    G.nodes["a"]["stage"] = "mining"
    exc = _expect(G, "nodes.a.stage", "mining")
    for s in STAGES:
        assert s in str(exc)


def test_unknown_kind_is_rejected():
    G = tiny_graph()
    G.nodes["a"]["kind"] = "warehouse"
    _expect(G, "nodes.a.kind", "producer", "final_demand")


def test_out_of_range_node_attribute_is_rejected():
    G = tiny_graph()
    G.nodes["b"]["substitutability"] = 1.5
    _expect(G, "nodes.b.substitutability", "out of range")


def test_final_demand_node_cannot_supply():
    G = tiny_graph()
    G.add_edge("m", "a", flow=0.5, source="test")
    _expect(G, "edges.m->a", "final_demand")


def test_producer_without_buyers_is_rejected():
    G = tiny_graph()
    G.add_node("c", **{k: v for k, v in G.nodes["a"].items()})
    _expect(G, "nodes.c", "buyer")


def test_multigraph_and_empty_graph_are_rejected():
    with pytest.raises(InputError):
        validate_graph(nx.MultiDiGraph(tiny_graph()), "x")
    with pytest.raises(InputError) as ei:
        validate_graph(nx.DiGraph(), "x")
    assert ei.value.field == "nodes"


# --- file errors ---------------------------------------------------------------------------------
def _rewrite_csv(path: Path, drop: str | None = None, extra_row: list | None = None) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if drop is not None:
        i = rows[0].index(drop)
        rows = [r[:i] + r[i + 1:] for r in rows]
    if extra_row is not None:
        rows.append(extra_row)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def test_missing_column_in_nodes_csv(tmp_path):
    folder = write_graph(tiny_graph(), tmp_path / "g")
    _rewrite_csv(folder / "nodes.csv", drop="stage")
    with pytest.raises(InputError) as ei:
        read_graph(folder)
    assert "nodes.csv" in ei.value.source
    assert ei.value.field == "header"
    assert "stage" in str(ei.value)


def test_unknown_node_in_edges_csv(tmp_path):
    folder = write_graph(tiny_graph(), tmp_path / "g")
    _rewrite_csv(folder / "edges.csv", extra_row=["a", "ghost", "1.0", "test"])
    with pytest.raises(InputError) as ei:
        read_graph(folder)
    assert "edges.csv" in ei.value.source
    assert ei.value.field == "row 5.target_node"
    assert "ghost" in str(ei.value)


def test_negative_flow_in_edges_csv(tmp_path):
    folder = write_graph(tiny_graph(), tmp_path / "g")
    _rewrite_csv(folder / "edges.csv", extra_row=["b", "a", "-2.0", "test"])
    with pytest.raises(InputError) as ei:
        read_graph(folder)
    assert "flow" in ei.value.field and "b->a" in ei.value.field


def test_folder_without_edges_csv(tmp_path):
    folder = write_graph(tiny_graph(), tmp_path / "g")
    (folder / "edges.csv").unlink()
    with pytest.raises(InputError) as ei:
        read_graph(folder)
    assert "edges.csv" in str(ei.value)


def test_unknown_file_suffix(tmp_path):
    p = tmp_path / "graph.txt"
    p.write_text("a b 1\n")
    with pytest.raises(InputError) as ei:
        read_graph(p)
    assert ei.value.field == "graph"
    assert ".graphml" in str(ei.value) and "graph.txt" in str(ei.value)


def test_missing_graph_file(tmp_path):
    with pytest.raises(InputError) as ei:
        read_graph(tmp_path / "nope.graphml")
    assert "no such file" in str(ei.value)


def test_malformed_graphml(tmp_path):
    p = tmp_path / "broken.graphml"
    p.write_text("<graphml><graph><node id='a'>")
    with pytest.raises(InputError) as ei:
        read_graph(p)
    assert ei.value.field == "graphml"


def test_graphml_with_bad_values_is_rejected_on_read(tmp_path):
    G = tiny_graph()
    G.edges["a", "b"]["flow"] = 5.0
    p = tmp_path / "bad.graphml"
    nx.write_graphml(G, p)
    with pytest.raises(InputError) as ei:
        read_graph(p)
    assert ei.value.field == "nodes.b"


# --- the graph commands --------------------------------------------------------------------------
def test_graph_export_info_validate(run_cli, tmp_path, G):
    for target in ("g.graphml", "gdir"):
        path = tmp_path / target
        r = run_cli(["graph", "export", path])
        assert r.rc == 0 and path.exists()
        r = run_cli(["graph", "info", path])
        assert r.rc == 0
        assert r.out.splitlines()[0].startswith(
            f"{G.number_of_nodes()} nodes, {G.number_of_edges()} edges")
        r = run_cli(["validate", path])
        assert r.rc == 0 and r.out.startswith("OK ")
    r = run_cli(["graph", "info"])
    assert r.rc == 0 and f"{G.number_of_nodes()} nodes" in r.out


def test_validate_rejects_a_bad_graph_file(run_cli, tmp_path):
    G = tiny_graph()
    G.nodes["a"]["stage"] = "mining"
    p = tmp_path / "bad.graphml"
    nx.write_graphml(G, p)
    r = run_cli(["validate", p])
    assert r.rc == 2
    assert len(r.err_lines) == 1
    assert "bad.graphml" in r.err and "nodes.a.stage" in r.err and "allowed" in r.err
