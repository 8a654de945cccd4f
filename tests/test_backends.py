"""The compiled (numba) step and the numpy step do the same arithmetic: bit-for-bit results."""

import numpy as np
import pytest

from chip4model import run
from chip4model.engine import Controls, FlowEngine, compile_graph
from chip4model.graph import default_graph
from chip4model.synthetic import synthetic_graph

GRAPHS = {"synthetic": lambda: synthetic_graph(1500, 12000, seed=4), "default": default_graph}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("rationing", ["proportional", "domestic_first", "allied_first"])
def test_backends_agree_bit_for_bit(graph, rationing):
    g = compile_graph(GRAPHS[graph]())
    rng = np.random.default_rng(11)
    c = Controls.neutral(g)
    c.block[rng.random(g.n_edges) < 0.1] = 0.6
    c.cap_mult[rng.random(g.n_nodes) < 0.05] = 0.3
    c.extra_demand[rng.random(g.n_nodes) < 0.05] = 2.0
    c.priority[rng.random(g.n_edges) < 0.05] = True
    c.inject[rng.random(len(g.a)) < 0.05] = 0.5
    fast = FlowEngine(g, rationing, backend="numba")
    ref = FlowEngine(g, rationing, backend="numpy")
    for week in range(60):
        ctl = c if 5 <= week < 30 else None   # a shock, then recovery with drifting shares
        np.testing.assert_array_equal(fast.step(ctl), ref.step(ctl))
        for name in ("orders", "delivered", "share", "stock", "ramp", "demand"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), err_msg=name)
        np.testing.assert_array_equal(fast.blocked_demand, ref.blocked_demand)


@pytest.mark.parametrize("rationing", ["proportional", "domestic_first"])
def test_parallel_and_serial_kernels_agree_bit_for_bit(rationing):
    from chip4model import _kernels

    g = compile_graph(synthetic_graph(3000, 30000, seed=8))
    rng = np.random.default_rng(3)
    c = Controls.neutral(g)
    c.block[rng.random(g.n_edges) < 0.2] = 0.7
    c.cap_mult[rng.random(g.n_nodes) < 0.05] = 0.2
    serial = FlowEngine(g, rationing, backend="numba")
    parallel = FlowEngine(g, rationing, backend="numba")
    serial._kernel, parallel._kernel = _kernels.step_serial, _kernels.step_parallel
    for week in range(40):
        ctl = c if week < 20 else None
        np.testing.assert_array_equal(serial.step(ctl), parallel.step(ctl))
        np.testing.assert_array_equal(serial.share, parallel.share)
        np.testing.assert_array_equal(serial.stock, parallel.stock)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        FlowEngine(compile_graph(default_graph()), backend="fortran")


def test_default_run_uses_the_compiled_step_and_matches_numpy(monkeypatch):
    fast = run("kor-aligns-collective", steps=40).summary
    import chip4model.engine as engine

    monkeypatch.setattr(engine._kernels, "AVAILABLE", False)
    slow = run("kor-aligns-collective", steps=40).summary
    assert fast == slow
