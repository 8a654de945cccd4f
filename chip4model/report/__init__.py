"""Reports of finished sweeps: summary tables, figures, sensitivity indices and claims.

:func:`write_report` reads a sweep folder (written by ``chip4 sweep``, see
:mod:`chip4model.sweep`) and writes a report folder, ``<sweep>/report`` by default::

    summary.md            the experiment's question and description; the design (sampler,
                          factors and their values or ranges, replications, runs, failed runs,
                          git commit, version); mean ± 95% CI of every metric (per design point
                          for designs of up to 30 points, else per value of each factor with few
                          values); the figures with a one-sentence caption each; the Sobol or
                          Morris indices; the claims (``[[expect]]``) with PASS/FAIL and what
                          was measured; notes (failed runs, metrics without values, skips)
    points.csv            per design point: factor values, ok runs, then <metric>_mean, _std,
                          _n and _ci95 of every metric
    sensitivity_<m>.csv   Sobol designs: S1, S1_conf, ST, ST_conf per factor (and S2_<f>,
                          S2_conf_<f> with second order); Morris designs: mu, mu_star,
                          mu_star_conf, sigma per factor
    sensitivity.csv       the same indices in one table: metric, factor, indices (what claims
                          with ``on = "sensitivity"`` read)
    claims.csv            claim, check, passed, lhs, rhs, detail, p_value
    *.png                 figures chosen by the design:
        heatmap_<m>.png   full factorial with >= 2 varied factors: the mean over the first two
                          (others averaged), with the 0.5 "absorption frontier" for absorption
                          metrics whose values cross it
        by_<factor>.png   a rules, target or other text factor: each metric's mean ± 95% CI
                          per value (also a line for a single numeric factor)
        distributions.png replications > 1: every run's value by the first text factor (or by
                          design point)
        sobol_<m>.png     S1 and ST with confidence intervals, per factor
        morris_<m>.png    mu* with its confidence interval, and sigma against mu*
        scatter_<m>.png   Latin hypercube: the metric against each numeric factor

``<m>`` is the metric name made file-safe ("KOR.net_loss_pct" -> "KOR-net_loss_pct").
Only runs with status "ok" count. Confidence intervals are t-based: mean ± t(0.975, n - 1) *
std / sqrt(n) over the n runs with a value (the replications, for a design point).
Sensitivity indices use each point's mean over its replications (SALib, bootstrap seeded), so
a rerun on the same folder writes byte-identical CSV files. Claims are evaluated by
:mod:`chip4model.claims` over runs.parquet, or over sensitivity.csv for ``on = "sensitivity"``.

The package, one module per part of the report:

- :mod:`~chip4model.report.sweep`: the sweep folder read back (:class:`Sweep`) and the
  statistics (means, 95% CIs, points.csv)
- :mod:`~chip4model.report.indices`: the Sobol and Morris sensitivity indices (SALib)
- :mod:`~chip4model.report.claims`: the experiment's claims evaluated over the sweep
- :mod:`~chip4model.report.figures`: which figures suit the design, and drawing them
- :mod:`~chip4model.report.markdown`: the text of summary.md
- :mod:`~chip4model.report.write`: building the report folder and moving it into place

>>> write_report("results/rules_vs_none")          # doctest: +SKIP
PosixPath('results/rules_vs_none/report')
"""

from .claims import evaluate_folder_claims, sweep_claims
from .indices import sensitivity
from .sweep import Sweep, ci95, load_sweep, points_table, slug, summarise
from .write import report_with_claims, write_report

__all__ = ["write_report", "report_with_claims", "evaluate_folder_claims", "sweep_claims",
           "load_sweep", "points_table", "sensitivity", "summarise", "ci95", "slug", "Sweep"]
