"""The experiment's claims (``[[expect]]``) evaluated over a sweep, and claims.csv.

The checks themselves are parsed and evaluated by :mod:`chip4model.claims`; this module
reads the claims from the sweep's experiment.toml and picks the table each one reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .indices import sensitivity_long
from .sweep import FLOAT_FORMAT, Sweep, load_sweep


def claim_specs(sw: Sweep) -> list:
    """The experiment's ``[[expect]]`` entries as :class:`~chip4model.experiment.ClaimSpec`."""
    from pydantic import ValidationError

    from ..experiment import ClaimSpec

    specs = []
    for i, item in enumerate(sw.doc.get("expect") or []):
        try:
            specs.append(ClaimSpec.model_validate(item))
        except ValidationError as exc:
            raise InputError(sw.folder / "experiment.toml", f"expect[{i}]",
                             exc.errors()[0]["msg"]) from None
    return specs


def sweep_claims(sw: Sweep) -> list:
    """Each claim evaluated over the runs, or (``on = "sensitivity"``) over the indices."""
    from ..claims import evaluate_claims

    results = []
    for spec in claim_specs(sw):
        on_indices = getattr(spec, "on", "runs") == "sensitivity"
        table = sensitivity_long(sw) if on_indices else sw.runs
        results += evaluate_claims([spec], table)
    return results


def evaluate_folder_claims(folder) -> list:
    """The experiment's claims evaluated over the sweep (``[]`` if it has none).

    A claim reads the runs (runs.parquet), or with ``on = "sensitivity"`` the table of
    sensitivity indices (see :func:`sensitivity_long`). Returns
    :class:`chip4model.claims.ClaimResult` objects; raises :class:`InputError` if ``folder`` is
    not a finished sweep.
    """
    return sweep_claims(load_sweep(folder))


def claims_frame(results: list) -> pd.DataFrame:
    """claims.csv: one row per claim, values as text so that the file is stable."""
    cols = ["claim", "check", "passed", "lhs", "rhs", "detail", "p_value"]
    rows = [[r.claim, r.check, bool(r.passed), _cell(r.lhs), _cell(r.rhs), r.detail,
             _cell(getattr(r, "p_value", None))] for r in results]
    return pd.DataFrame(rows, columns=cols)


def _cell(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float | int | np.floating | np.integer) and not isinstance(x, bool):
        return FLOAT_FORMAT % float(x)
    return str(x)
