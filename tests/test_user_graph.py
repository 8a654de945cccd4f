"""Scenarios that bring their own supply-chain graph (``graph = "..."`` in the TOML)."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import tomli_w
from conftest import tiny_graph

from chip4model import Chip4Model, run, write_graph
from chip4model.model import compiled_graph
from chip4model.synthetic import synthetic_graph


@pytest.fixture(autouse=True)
def fresh_graph_cache():
    """compiled_graph caches by path string; keep these tests' graphs out of other tests."""
    compiled_graph.cache_clear()
    yield
    compiled_graph.cache_clear()


def _synthetic(n: int, firms: bool = True) -> nx.DiGraph:
    S = synthetic_graph(n, 4 * n, n_segments=6, seed=3)
    S = nx.relabel_nodes(S, {v: f"n{v}" for v in S})
    if firms:
        producers = [v for v, d in S.nodes(data=True) if d["kind"] == "producer"]
        for v in producers[:4]:
            S.nodes[v]["firm"] = "Acme"
        for v in producers[-4:]:
            S.nodes[v]["firm"] = "Zenith"
    return S


def _scenario(folder, G, name="own", **extra):
    folder.mkdir(parents=True, exist_ok=True)
    write_graph(G, folder / "g.graphml")
    path = folder / f"{name}.toml"
    path.write_bytes(tomli_w.dumps({"name": name, "graph": "g.graphml", **extra}).encode())
    return path


def test_run_on_a_synthetic_graph_with_shocks_and_rules(tmp_path, run_cli):
    path = _scenario(tmp_path / "syn", _synthetic(60), steps=20, target="KOR",
                     shocks=[{"type": "consumer_boycott", "target": "KOR", "segments": ["s5"],
                              "intensity": 0.8, "onset": 2},
                             {"type": "disruption", "firm": "Acme", "intensity": 0.5}],
                     rules=[{"type": "market_absorption", "delay": 2},
                            {"type": "compensation_fund", "delay": 2}])
    r = run(path, seed=1)
    d = r.summary
    assert d["steps"] == 20 and d["target"] == "KOR"
    assert set(d["firms"]) == {"Acme", "Zenith"}
    assert d["firms"]["Acme"]["revenue_loss_pct"] > 0
    assert d["retaliation"]["started"] and d["retaliation"]["target"] == "KOR"
    m = Chip4Model(path, rng=1)
    assert m.graph.n_nodes == 60
    m.step()
    res = run_cli(["run", path, "--json"])
    assert res.rc == 0, res.err
    assert json.loads(res.out)["firms"].keys() == d["firms"].keys()


def test_unknown_segment_of_a_user_graph_is_reported(tmp_path, run_cli):
    path = _scenario(tmp_path / "syn", _synthetic(60), steps=3,
                     shocks=[{"type": "import_ban", "target": "KOR", "segments": ["memory"],
                              "intensity": 0.5}])
    r = run_cli(["validate", path])
    assert r.rc == 2
    assert len(r.err_lines) == 1
    assert "shocks[0].segments" in r.err and "memory" in r.err and "s1" in r.err


def test_model_runs_on_a_graph_without_firms(tmp_path):
    path = _scenario(tmp_path / "nofirms", _synthetic(60, firms=False), steps=3)
    r = run(path, seed=1)
    assert r.summary["firms"] == {}


def test_mesa_model_on_a_graph_without_china(tmp_path):
    G = tiny_graph()  # KOR, JPN, USA only
    G.nodes["a"]["firm"] = "Acme"
    path = _scenario(tmp_path / "tiny", G, steps=3)
    assert run(path, seed=1).summary["steps"] == 3
    m = Chip4Model(path, rng=1)
    m.step()
    assert m.datacollector.get_model_vars_dataframe().china_loss_pct_gdp.iloc[-1] == 0.0


def test_same_relative_scenario_path_in_two_folders_uses_each_folders_graph(tmp_path,
                                                                            monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    _scenario(a / "proj", _synthetic(60), steps=2)
    _scenario(b / "proj", _synthetic(80), steps=2)
    monkeypatch.chdir(a)
    assert Chip4Model("proj/own.toml", collect=False).graph.n_nodes == 60
    monkeypatch.chdir(b)
    assert Chip4Model("proj/own.toml", collect=False).graph.n_nodes == 80


def test_counter_retaliation_on_a_graph_without_china(tmp_path):
    G = _synthetic(60)
    nx.set_node_attributes(G, {v: "JPN" for v, d in G.nodes(data=True)
                               if d["country"] == "CHN"}, "country")
    path = _scenario(tmp_path / "nochn", G, steps=10, target="KOR",
                     rules=[{"type": "counter_retaliation", "delay": 1}])
    m = Chip4Model(path, rng=1)
    for _ in range(3):
        m.step()
    assert m.rules[0].threat(m, "KOR") == 0.0
    assert run(path, seed=1).summary["deterred"] is False
