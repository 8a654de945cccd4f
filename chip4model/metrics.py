"""Metrics: named numbers read from a run's summary, one column each in a sweep's table.

A metric is a dotted path into the summary (see ``chip4 run --json``)::

    absorption_ratio, shock_absorption, deterred, recovery_weeks
    retaliation.started | weeks_active | mean_intensity
    KOR.net_loss_pct            (short for countries.KOR.net_loss_pct)
    target.net_loss_pct         (the run's target member, whichever it is)
    target_loss.campaign_pct | other_pct | weekly_campaign_pct
    firms.SK Hynix.revenue_loss_pct
    segments.memory.shortfall_pct

Every metric is a float: ``True``/``False`` become 1/0 (so a mean is a share) and a missing
value (no counterfactual, no campaign) is NaN.

>>> metric_value({"countries": {"KOR": {"net_loss_pct": 0.9}}}, "KOR.net_loss_pct")
0.9
"""

from __future__ import annotations

import math

from .errors import InputError, allowed
from .scenario import COUNTRIES

TOP = ("absorption_ratio", "shock_absorption", "deterred", "recovery_weeks")
RETALIATION = ("started", "weeks_active", "mean_intensity")
COUNTRY_KEYS = ("output_loss_pct", "gdp_loss_pct", "net_loss_pct", "alignment")
TARGET_LOSS = ("campaign_pct", "other_pct", "weekly_campaign_pct")
TIMESERIES_VARIABLES = ("output", "value_added", "va_loss_pct", "transfers_cumulative",
                        "revenue", "alignment", "credibility", "retaliation_intensity")


def _path(name: str) -> list[str]:
    parts = name.split(".")
    if parts[0] in COUNTRIES:
        return ["countries", *parts]
    return parts


def check_metric(name: str, g, source: str, field: str) -> None:
    """Raise :class:`InputError` unless ``name`` is a metric of runs on compiled graph ``g``."""
    parts = name.split(".")
    head = parts[0]
    examples = [*TOP, "retaliation.<key>", "<ISO3>.<key>", "target.<key>",
                "target_loss.<key>", "firms.<firm>.revenue_loss_pct",
                "segments.<segment>.shortfall_pct"]

    def bad(msg):
        raise InputError(source, field, msg)

    if len(parts) == 1:
        if head not in TOP:
            bad(f"unknown metric {name!r} ({allowed(examples)})")
    elif head == "retaliation":
        if len(parts) != 2 or parts[1] not in RETALIATION:
            bad(f"unknown metric {name!r} ({allowed(f'retaliation.{k}' for k in RETALIATION)})")
    elif head == "target_loss":
        if len(parts) != 2 or parts[1] not in TARGET_LOSS:
            bad(f"unknown metric {name!r} ({allowed(f'target_loss.{k}' for k in TARGET_LOSS)})")
    elif head in COUNTRIES or head == "target" or head == "countries":
        iso, key = (parts[1], parts[2:]) if head == "countries" else (head, parts[1:])
        if head == "countries" and iso not in COUNTRIES:
            bad(f"unknown country {iso!r} in {name!r} ({allowed(COUNTRIES)})")
        if len(key) != 1 or key[0] not in COUNTRY_KEYS:
            bad(f"unknown metric {name!r} ({allowed(f'{iso}.{k}' for k in COUNTRY_KEYS)})")
    elif head == "firms":
        if len(parts) != 3 or parts[2] != "revenue_loss_pct" or parts[1] not in g.firms:
            bad(f"unknown metric {name!r} (allowed: firms.<firm>.revenue_loss_pct with "
                f"<firm> one of {', '.join(sorted(g.firms))})")
    elif head == "segments":
        segs = sorted(set(g.segments) - {"final_demand"})
        if len(parts) != 3 or parts[2] != "shortfall_pct" or parts[1] not in segs:
            bad(f"unknown metric {name!r} (allowed: segments.<segment>.shortfall_pct with "
                f"<segment> one of {', '.join(segs)})")
    else:
        bad(f"unknown metric {name!r} ({allowed(examples)})")


def metric_value(summary: dict, name: str) -> float:
    """The value of metric ``name`` in a run summary, as a float (NaN if absent)."""
    parts = _path(name)
    if parts[0] == "target":
        t = summary.get("target")
        if t is None:
            return math.nan
        parts = ["countries", t, *parts[1:]]
    cur = summary
    for p in parts:
        if not isinstance(cur, dict) or p not in cur:
            return math.nan
        cur = cur[p]
    if cur is None:
        return math.nan
    if isinstance(cur, bool):
        return 1.0 if cur else 0.0
    return float(cur)
