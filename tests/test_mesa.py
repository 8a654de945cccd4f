"""Chip4Model as an ordinary Mesa model: batch_run, reproducible DataCollector, pickling."""

from __future__ import annotations

import multiprocessing
import pickle

import mesa
import pandas as pd
import pytest

from chip4model import Chip4Model, run
from chip4model.agents import Firm, Member

MODEL_REPORTERS = {"retaliation_intensity", "target_loss_pct_gdp", "china_loss_pct_gdp"}


@pytest.fixture
def keep_start_method():
    """mesa.batch_run forces the 'spawn' start method globally; put the old one back."""
    old = multiprocessing.get_start_method(allow_none=True)
    yield
    multiprocessing.set_start_method(old, force=True)


def test_batch_run(keep_start_method):
    rows = mesa.batch_run(Chip4Model,
                          parameters={"scenario": ["kor-aligns"], "china__resolve": [0.4, 0.8]},
                          max_steps=20, number_processes=1, rng=[1, 2],
                          data_collection_period=-1, display_progress=False)
    df = pd.DataFrame(rows)
    assert MODEL_REPORTERS <= set(df.columns)
    assert {"alignment", "credibility", "revenue"} <= set(df.columns)
    assert set(df.RunId) == {0, 1, 2, 3}  # full factorial: 2 resolves x 2 seeds
    assert set(df.china__resolve) == {0.4, 0.8}
    assert set(df.rng) == {1, 2}
    assert (df.Step == 20).all()
    assert set(df.scenario) == {"kor-aligns"}
    runs = df.groupby("RunId").first()
    assert runs.retaliation_intensity.between(0, 1).all()
    # one row per agent with reporters: four members and the firms
    n_agents = df.groupby("RunId").size()
    assert (n_agents == n_agents.iloc[0]).all()
    assert n_agents.iloc[0] == 4 + len(Chip4Model("kor-aligns", collect=False).firms)
    # every run can be rebuilt from its parameters
    one = runs.iloc[0]
    m = Chip4Model(one.scenario, china__resolve=one.china__resolve, rng=int(one.rng))
    for _ in range(20):
        m.step()
    assert m.retaliation_intensity() == pytest.approx(one.retaliation_intensity)
    assert m.china.resolve == one.china__resolve


def _frames(rng, steps=15):
    m = Chip4Model("kor-aligns-collective", rng=rng)
    for _ in range(steps):
        m.step()
    dc = m.datacollector
    return (dc.get_model_vars_dataframe(), dc.get_agenttype_vars_dataframe(Member),
            dc.get_agenttype_vars_dataframe(Firm))


def test_same_rng_gives_identical_datacollector_frames():
    a, b = _frames(5), _frames(5)
    for x, y in zip(a, b, strict=True):
        assert len(x) > 0
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    model_df, members, firms = a
    assert set(model_df.columns) == MODEL_REPORTERS
    assert len(model_df) == 16  # the initial state and 15 steps
    assert set(members.columns) >= {"alignment", "credibility"}
    assert "revenue" in firms.columns


def test_datacollector_agrees_with_the_model_state():
    m = Chip4Model("thaad-2017", rng=1)
    for _ in range(10):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    assert df.retaliation_intensity.iloc[-1] == pytest.approx(m.retaliation_intensity())
    assert df.target_loss_pct_gdp.iloc[-1] == pytest.approx(m.realised_loss_pct("KOR"))
    assert df.retaliation_intensity.iloc[0] == 0.0


def test_model_steps_match_run():
    """Stepping the Mesa model by hand gives the same losses as run() (no counterfactual)."""
    steps = 30
    r = run("thaad-2017", seed=1, steps=steps)
    m = Chip4Model("thaad-2017", rng=1, collect=False, sets=[f"steps={steps}"])
    for _ in range(steps):
        m.step()
    kor = m.graph.countries.index("KOR")
    assert r.rec.va_loss[:, kor].sum() == pytest.approx(sum(h[kor] for h in m.loss_history))


def test_model_pickles_after_a_few_steps():
    m = Chip4Model("kor-aligns-collective", rng=3)
    for _ in range(5):
        m.step()
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.week == m.week == 5
    for _ in range(10):
        m.step()
        m2.step()
    assert (m2.engine.output == m.engine.output).all()
    dc, dc2 = m.datacollector, m2.datacollector
    pd.testing.assert_frame_equal(dc.get_model_vars_dataframe(), dc2.get_model_vars_dataframe())
    for cls in (Member, Firm):
        pd.testing.assert_frame_equal(dc.get_agenttype_vars_dataframe(cls),
                                      dc2.get_agenttype_vars_dataframe(cls))


def test_model_without_its_datacollector_pickles_and_continues_identically():
    """A model that never collected (collect=False, no DataCollector) pickles too."""
    m = Chip4Model("kor-aligns-collective", rng=3, collect=False)
    for _ in range(5):
        m.step()
    m.datacollector = None
    m2 = pickle.loads(pickle.dumps(m))
    for _ in range(20):
        m.step()
        m2.step()
    assert (m2.engine.output == m.engine.output).all()
    assert (m2.engine.share == m.engine.share).all()
    assert m2.retaliation_log == m.retaliation_log
