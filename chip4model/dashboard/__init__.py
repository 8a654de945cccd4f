"""The interactive dashboard (Solara): explore one scenario week by week, compare it with and
without the collective-resilience rules, and open the results of ``chip4 sweep``.

Start it with ``chip4 app`` or ``solara run app.py``. :class:`Session` is the Solara-free core
each browser tab holds.
"""

from ..scenario import edit
from .session import Session, describe_outcome, parse_scenario_toml

__all__ = ["Session", "describe_outcome", "edit", "parse_scenario_toml"]
