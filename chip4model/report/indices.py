"""Sensitivity indices of Sobol and Morris designs, computed by SALib.

Each metric's indices come from the design points' means over their replications, with a
fixed bootstrap seed (:data:`SALIB_SEED`), so that a rerun writes the same numbers.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .sweep import Sweep, point_means

SALIB_SEED = 1            # SALib's sobol.analyze ignores a seed of 0 (falsy)


def sensitivity(sw: Sweep) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Sobol or Morris indices per metric (``{}`` for other designs), and notes on skips."""
    if sw.method not in ("sobol", "morris"):
        return {}, []
    tables, notes = {}, []
    for m in sw.metrics:
        y = point_means(sw, m)
        missing = int(np.isnan(y).sum())
        if missing:
            notes.append(f"`{m}`: no {sw.method} indices, {missing} of {len(y)} design points "
                         "have no value (failed runs or a missing metric)")
            continue
        if np.ptp(y) == 0:
            notes.append(f"`{m}`: no {sw.method} indices, the metric is constant over the "
                         "design")
            continue
        try:
            tables[m] = sobol_table(sw, y) if sw.method == "sobol" else morris_table(sw, y)
        except (ValueError, RuntimeError) as exc:
            notes.append(f"`{m}`: SALib could not analyse it ({str(exc).strip()})")
    return tables, notes


def sensitivity_long(sw: Sweep) -> pd.DataFrame:
    """sensitivity.csv: one row per metric and factor; columns metric, factor and the indices
    (S1, S1_conf, ST, ST_conf for Sobol; mu, mu_star, mu_star_conf, sigma for Morris)."""
    from ..experiment import SENSITIVITY_COLUMNS

    cols = ["metric", "factor", *SENSITIVITY_COLUMNS.get(sw.method, [])]
    tables = [t.assign(metric=m)[cols] for m, t in sw.sensitivity[0].items()]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=cols)


def sobol_table(sw: Sweep, y: np.ndarray) -> pd.DataFrame:
    """SALib's Sobol indices of ``y`` (one value per point, in point order) per factor."""
    from SALib.analyze import sobol

    problem = copy.deepcopy(sw.manifest["problem"])
    second = bool(sw.manifest["sampler"].get("second_order"))
    with np.errstate(all="ignore"):
        si = sobol.analyze(problem, y, calc_second_order=second, seed=SALIB_SEED)
    names = list(problem["names"])
    df = pd.DataFrame({"factor": names, "S1": si["S1"], "S1_conf": si["S1_conf"],
                       "ST": si["ST"], "ST_conf": si["ST_conf"]})
    if second:
        for j, name in enumerate(names):
            df[f"S2_{name}"] = si["S2"][:, j]
            df[f"S2_conf_{name}"] = si["S2_conf"][:, j]
    return df


def morris_table(sw: Sweep, y: np.ndarray) -> pd.DataFrame:
    """SALib's Morris elementary-effect statistics of ``y`` per factor."""
    from SALib.analyze import morris

    problem = copy.deepcopy(sw.manifest["problem"])
    X = sw.design[[f"x_{n}" for n in problem["names"]]].to_numpy(float)
    levels = int(sw.manifest["sampler"].get("levels") or 4)
    with np.errstate(all="ignore"):
        si = morris.analyze(problem, X, y, num_levels=levels, seed=SALIB_SEED)
    return pd.DataFrame({"factor": list(si["names"]), "mu": si["mu"], "mu_star": si["mu_star"],
                         "mu_star_conf": si["mu_star_conf"], "sigma": si["sigma"]})
