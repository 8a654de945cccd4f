"""Run results: a weekly record kept in numpy arrays, the summary, tidy tables, a figure.

:class:`Recorder` copies a few arrays out of the model each week (cheap); :class:`RunResult`
turns them into the JSON summary, a tidy long time series (``week, entity, variable, value``),
a readable table and a PNG figure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .scenario import COUNTRIES, Scenario

RECOVERY_THRESHOLD = 0.001  # weekly value-added loss below 0.1% of baseline counts as recovered


class Recorder:
    """Weekly arrays of what a run reports."""

    def __init__(self, model, steps: int):
        g = model.graph
        self.g = g
        self.T = steps
        n_c, n_f, n_s = len(g.countries), len(model.firms), len(g.segments)
        self.output = np.zeros((steps, n_c))
        self.va_loss = np.zeros((steps, n_c))
        self.transfers = np.zeros((steps, n_c))
        self.revenue = np.zeros((steps, n_f))
        self.alignment = np.zeros((steps, len(model.members)))
        self.credibility = np.zeros((steps, len(model.members)))
        self.intensity = np.zeros(steps)
        self.orders_sum = np.zeros(g.n_edges)      # cumulative over the run, per edge
        self.delivered_sum = np.zeros(g.n_edges)
        crit_seg = np.array([s == "critical_input" for s in g.stage])
        self.crit_edges = np.flatnonzero(crit_seg[g.src] & ~g.is_sink[g.dst])
        key = (g.country[g.dst[self.crit_edges]] * n_s + g.segment[g.src[self.crit_edges]]) \
            * n_c + g.country[g.src[self.crit_edges]]
        self.keys, self.key_idx = np.unique(key, return_inverse=True)
        self.supply = np.zeros((steps, len(self.keys)))
        self.t = 0

    def capture(self, m) -> None:
        t, eng = self.t, m.engine
        self.output[t] = m.weekly_output_c
        self.va_loss[t] = m.weekly_va_loss_c
        self.transfers[t] = m.transfers
        self.revenue[t] = m.firm_revenue
        self.alignment[t] = [x.alignment for x in m.members]
        self.credibility[t] = [x.credibility for x in m.members]
        self.intensity[t] = m.retaliation_intensity()
        self.orders_sum += eng.orders
        self.delivered_sum += eng.delivered
        self.supply[t] = np.bincount(self.key_idx, eng.delivered[self.crit_edges],
                                     minlength=len(self.keys))
        self.t += 1


@dataclass
class RunResult:
    """The outcome of one scenario run (and of its no-rules counterfactual, if any).

    ``summary`` is the JSON document ``chip4 run --json`` prints; ``timeseries`` the tidy
    long table; ``plot()`` draws the main paths.
    """

    scenario: Scenario
    seed: int | None
    steps: int
    summary: dict
    rec: Recorder = field(repr=False)
    names: dict = field(repr=False)
    counterfactual: RunResult | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        s = self.summary
        r = s["retaliation"]
        what = (f"China retaliated against {r['target']} for {r['weeks_active']} weeks"
                if r["started"] else "no retaliation")
        absorb = "" if s["absorption_ratio"] is None else \
            f", absorption {s['absorption_ratio']:.3f}"
        return (f"<RunResult {s['scenario']} seed={self.seed} weeks={self.steps}: {what}"
                f"{', deterred' if s['deterred'] else ''}{absorb}>")

    def _repr_html_(self) -> str:
        return "<pre>" + self.table().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"

    # --- tables --------------------------------------------------------------------------------
    @property
    def countries(self) -> pd.DataFrame:
        return pd.DataFrame(self.summary["countries"]).T.rename_axis("country")

    @property
    def firms(self) -> pd.DataFrame:
        return pd.DataFrame(self.summary["firms"]).T.rename_axis("firm")

    @property
    def segments(self) -> pd.DataFrame:
        return pd.DataFrame(self.summary["segments"]).T.rename_axis("segment")

    @property
    def timeseries(self) -> pd.DataFrame:
        """Tidy long form: columns ``week, entity, variable, value``."""
        r, n = self.rec, self.names
        T = r.t
        weeks = np.arange(1, T + 1)
        frames = []

        def add(values, entities, variable):
            values = np.asarray(values)[:T]
            if values.ndim == 1:
                values = values[:, None]
            k = values.shape[1]
            frames.append(pd.DataFrame({
                "week": np.repeat(weeks, k),
                "entity": np.tile(np.asarray(entities, dtype=object), T),
                "variable": variable,
                "value": values.reshape(-1).astype(float),
            }))

        countries = list(n["countries"])
        add(r.output, countries, "output")
        va = n["va0_country"][None, :] - r.va_loss[:T]
        add(va, countries, "value_added")
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(n["va0_country"] > 0, 100 * r.va_loss[:T] / n["va0_country"], 0.0)
        add(pct, countries, "va_loss_pct")
        add(r.transfers, countries, "transfers_cumulative")
        add(r.revenue, n["firms"], "revenue")
        add(r.alignment, n["members"], "alignment")
        add(r.credibility, n["members"], "credibility")
        add(r.intensity, ["CHN"], "retaliation_intensity")
        # supplier shares of critical inputs, per buyer country
        g = r.g
        n_s, n_c = len(g.segments), len(g.countries)
        buyer = r.keys // (n_s * n_c)
        seg = (r.keys // n_c) % n_s
        sup = r.keys % n_c
        group = buyer * n_s + seg
        totals = np.zeros((T, group.max() + 1 if len(group) else 1))
        for j, gidx in enumerate(group):
            totals[:, gidx] += r.supply[:T, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(totals[:, group] > 0, r.supply[:T] / totals[:, group], 0.0)
        for j in range(len(r.keys)):
            add(shares[:, j], [g.countries[buyer[j]]],
                f"supplier_share:{g.segments[seg[j]]}:{g.countries[sup[j]]}")
        return pd.concat(frames, ignore_index=True)

    def series(self, variable: str, entity: str) -> np.ndarray:
        ts = self.timeseries
        sel = ts[(ts.variable == variable) & (ts.entity == entity)]
        return sel.sort_values("week")["value"].to_numpy()

    # --- output --------------------------------------------------------------------------------
    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.summary, indent=indent, sort_keys=False)

    def table(self) -> str:
        """A readable summary of who lost what."""
        s = self.summary
        lines = [f"Scenario {s['scenario']}  seed {s['seed']}  {s['steps']} weeks", ""]
        lines.append(f"{'country':<8}{'output loss %':>15}{'GDP loss %':>13}{'net loss %':>13}"
                     f"{'alignment':>11}")
        for iso, c in s["countries"].items():
            al = "" if c["alignment"] is None else f"{c['alignment']:.2f}"
            lines.append(f"{iso:<8}{c['output_loss_pct']:>15.3f}{c['gdp_loss_pct']:>13.3f}"
                         f"{c['net_loss_pct']:>13.3f}{al:>11}")
        lines += ["", f"{'firm':<22}{'revenue loss %':>16}"]
        for name, f in sorted(s["firms"].items(), key=lambda kv: -kv[1]["revenue_loss_pct"]):
            lines.append(f"{name:<22}{f['revenue_loss_pct']:>16.3f}")
        worst = sorted(s["segments"].items(), key=lambda kv: -kv[1]["shortfall_pct"])[:6]
        lines += ["", f"{'segment (worst)':<22}{'shortfall %':>16}"]
        for name, v in worst:
            lines.append(f"{name:<22}{v['shortfall_pct']:>16.3f}")
        r = s["retaliation"]
        lines.append("")
        if r["started"]:
            lines.append(f"China retaliated against {r['target']} with "
                         f"{', '.join(r['instruments'])} for {r['weeks_active']} weeks "
                         f"(mean intensity {r['mean_intensity']:.2f}).")
        else:
            lines.append("China did not retaliate.")
        if s["deterred"]:
            lines.append("Retaliation was deterred (not started, or shorter than without the "
                         "rules).")
        if not s["rules"]:
            lines.append("No collective-resilience rules: nothing was absorbed.")
        elif s["absorption_ratio"] is not None:
            a = s["absorption_ratio"]
            if a >= 0:
                lines.append(f"Absorption ratio {a:.3f}: the collective rules removed "
                             f"{100 * a:.1f}% of the target's loss.")
            else:
                lines.append(f"Absorption ratio {a:.3f}: with the collective rules the target "
                             f"lost {-100 * a:.1f}% more than without them.")
            if s.get("shock_absorption") is not None:
                lines.append(f"Shock absorption {s['shock_absorption']:.3f}: the share of the "
                             "target's weekly loss during the campaign the rules took on.")
        if s["recovery_weeks"] is not None:
            lines.append(f"The target recovered in {s['recovery_weeks']} weeks.")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike | None = None):
        """Figure of the main paths; saved as PNG when ``path`` is given."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        r, n = self.rec, self.names
        T = r.t
        weeks = np.arange(1, T + 1)
        fig, ax = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(n["va0_country"] > 0, 100 * r.va_loss[:T] / n["va0_country"], 0.0)
        for i, iso in enumerate(n["countries"]):
            if iso in COUNTRIES:
                ax[0, 0].plot(weeks, pct[:, i], label=iso)
        ax[0, 0].set(title="Value-added loss, % of modelled baseline", xlabel="week")
        ax[0, 0].legend(fontsize=8)
        for i, iso in enumerate(n["members"]):
            line, = ax[0, 1].plot(weeks, r.alignment[:T, i], label=f"{iso} alignment")
            ax[0, 1].plot(weeks, r.credibility[:T, i], ls="--", color=line.get_color(),
                          label=f"{iso} credibility")
        ax[0, 1].set(title="Alignment (solid) and credibility of allies (dashed)",
                     xlabel="week", ylim=(-0.02, 1.02))
        ax[0, 1].legend(fontsize=7, ncol=2)
        ax[1, 0].step(weeks, r.intensity[:T], where="post", color="firebrick")
        if self.counterfactual is not None:
            ax[1, 0].step(weeks, self.counterfactual.rec.intensity[:T], where="post",
                          color="grey", ls="--", label="without rules")
            ax[1, 0].legend(fontsize=8)
        ax[1, 0].set(title="China's retaliation intensity", xlabel="week", ylim=(-0.02, 1.02))
        base = np.array(n["firm_base"])
        with np.errstate(divide="ignore", invalid="ignore"):
            floss = np.where(base > 0, 100 * (1 - r.revenue[:T] / base), 0.0)
        top = np.argsort(-floss.sum(0))[:6]
        for j in top:
            ax[1, 1].plot(weeks, floss[:, j], label=n["firms"][j])
        ax[1, 1].set(title="Firm revenue loss, %", xlabel="week")
        ax[1, 1].legend(fontsize=8)
        fig.suptitle(f"{self.summary['scenario']} (seed {self.seed})")
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig

    def write(self, out_dir: str | os.PathLike) -> Path:
        """Write ``summary.json``, ``timeseries.parquet`` and ``paths.png`` into ``out_dir``.

        Files are written to a temporary folder first and moved into place at the end, so an
        error leaves no partial output.
        """
        out = Path(out_dir)
        parent = out.parent if str(out.parent) else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".chip4-", dir=parent))
        try:
            (tmp / "summary.json").write_text(self.to_json() + "\n", encoding="utf-8")
            self.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
            self.plot(tmp / "paths.png")
            out.mkdir(parents=True, exist_ok=True)
            for f in tmp.iterdir():
                os.replace(f, out / f.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def summarise(model, rec: Recorder, counterfactual: RunResult | None) -> dict:
    """The summary document of a run (percentages in percent, losses positive)."""
    g, T = model.graph, rec.t
    countries = {}
    x0c, va_loss = model.x0_country, rec.va_loss[:T].sum(0)
    out_loss = x0c * T - rec.output[:T].sum(0)
    members = {m.iso3: m for m in model.members}
    for iso in COUNTRIES:
        if iso not in g.countries:
            continue
        i = g.countries.index(iso)
        gdp = model.states[iso].gdp
        gdp_loss = 100 * va_loss[i] / gdp
        countries[iso] = {
            "output_loss_pct": float(100 * out_loss[i] / (x0c[i] * T))
            if x0c[i] > 0 and T > 0 else 0.0,
            "gdp_loss_pct": float(gdp_loss),
            "net_loss_pct": float(gdp_loss - (100 * rec.transfers[T - 1, i] / gdp if T else 0.0)),
            "alignment": float(members[iso].alignment) if iso in members else None,
        }
    firms = {}
    for j, f in enumerate(model.firms):
        base = f.baseline_revenue * T
        firms[f.name] = {"revenue_loss_pct": float(100 * (base - rec.revenue[:T, j].sum())
                                                   / base) if base > 0 else 0.0}
    segments = {}
    seg_src, n_s = g.segment[g.src], len(g.segments)
    ordered = np.bincount(seg_src, rec.orders_sum, minlength=n_s)
    unmet = ordered - np.bincount(seg_src, rec.delivered_sum, minlength=n_s)
    for k, seg in enumerate(g.segments):
        if seg != "final_demand" and ordered[k] > 0:
            segments[seg] = {"shortfall_pct": float(100 * unmet[k] / ordered[k])}
    active = rec.intensity[:T] > 0
    started = bool(active.any())
    ret_target = model.campaign_target if started else None
    retaliation = {
        "started": started,
        "target": ret_target,
        "instruments": sorted({s.type for s in model.shocks if s.issuer == "CHN"
                               and s.onset < T and s.end > s.onset}),
        "weeks_active": int(active.sum()),
        "mean_intensity": float(rec.intensity[:T][active].mean()) if started else 0.0,
    }
    # deterrence is by the rules: without rules there is nothing to deter with. Without a
    # counterfactual run, the best guess is that China had a reason and chose not to act;
    # with one (below), it is measured against what China did without the rules.
    deterred = bool(model.rules and model.china.considered and model.china.chose_none
                    and not started)
    absorption = shock_absorption = None
    target = model.target
    split = _campaign_split(model, rec, target) if target else None
    if counterfactual is not None:
        cf = counterfactual.summary
        cfr = cf["retaliation"]
        # deterred: without the rules China would have retaliated, or for longer
        deterred = bool(model.rules) and cfr["started"] and (
            not started or retaliation["weeks_active"] < cfr["weeks_active"])
        if target and model.spec.rules:
            with_loss = max(countries[target]["net_loss_pct"], 0.0)
            without = cf["countries"][target]["net_loss_pct"]
            if without > 1e-12:
                absorption = float(1 - with_loss / without)
            cf_weekly = cf["target_loss"]["weekly_campaign_pct"]
            if cf_weekly is not None and cf_weekly > 1e-12 \
                    and split["weekly_campaign_pct"] is not None:
                shock_absorption = float(1 - max(split["weekly_campaign_pct"], 0.0) / cf_weekly)
    elif target and not model.spec.rules:
        # without rules a run is its own counterfactual: the rules absorb nothing
        if countries[target]["net_loss_pct"] > 1e-12:
            absorption = 0.0
        if split["weekly_campaign_pct"] is not None and split["weekly_campaign_pct"] > 1e-12:
            shock_absorption = 0.0
    recovery = None
    if target:
        i = g.countries.index(target)
        base = model.va0_country[i]
        weekly = rec.va_loss[:T, i] / base if base > 0 else np.zeros(T)
        hit = np.flatnonzero(weekly > RECOVERY_THRESHOLD)
        if len(hit) and hit[-1] < T - 1:
            recovery = int(hit[-1] + 1 - hit[0])
    return {
        "scenario": model.spec.name,
        "seed": None,
        "steps": int(T),
        "target": target,
        "countries": countries,
        "firms": firms,
        "segments": segments,
        "retaliation": retaliation,
        "rules": [r.describe() | {"participants": r.participants} for r in model.rules],
        "log": sorted(model.retaliation_log + model.rule_log, key=lambda e: e["week"]),
        "deterred": deterred,
        "absorption_ratio": absorption,
        "shock_absorption": shock_absorption,
        "target_loss": split,
        "recovery_weeks": recovery,
    }


def _campaign_split(model, rec: Recorder, target: str) -> dict:
    """The target's net loss split between the weeks China's retaliation was in force and the
    other weeks (its own export controls, recovery), in % of annual GDP.

    ``weekly_campaign_pct`` is the mean weekly net loss while the campaign ran (None if it
    never did): the rate the shock absorption compares, so that a campaign made longer or
    shorter by the rules does not count as absorption.
    """
    T, i = rec.t, model.graph.countries.index(target)
    gdp = model.states[target].gdp
    paid = np.diff(rec.transfers[:T, i], prepend=0.0)
    net = 100 * (rec.va_loss[:T, i] - paid) / gdp
    active = rec.intensity[:T] > 0
    return {
        "campaign_pct": float(net[active].sum()),
        "other_pct": float(net[~active].sum()),
        "weekly_campaign_pct": float(net[active].mean()) if active.any() else None,
    }


def names_of(model) -> dict:
    g = model.graph
    return {"countries": list(g.countries), "firms": [f.name for f in model.firms],
            "members": [m.iso3 for m in model.members], "va0_country": model.va0_country,
            "firm_base": [f.baseline_revenue for f in model.firms]}


__all__ = ["Recorder", "RunResult", "summarise"]
