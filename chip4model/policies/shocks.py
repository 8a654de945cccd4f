"""Shocks: retaliation instruments and generic disruptions, as small pluggable objects.

A shock is bound once to the compiled graph (it finds the nodes and edges it hits) and then,
each week it is active, multiplies capacity or blocks a share of orders on its edges. Shocks
combine multiplicatively: two 50% blocks on one edge leave 25% open.

=====================  ====================================================================
``import_ban``         the issuer stops buying the target's ``segments`` (e.g. China on Korean
                       memory, or Japanese seafood)
``export_restriction`` the issuer stops selling ``inputs`` to the ``targets`` (China on
                       gallium, germanium, graphite, rare-earth magnets; Japan 2019 on HF,
                       photoresist and fluorinated polyimide to Korea)
``firm_sanction``      regulatory action against a ``firm`` in the issuer's country:
                       ``operations`` (its plants there), ``sales`` (its sales there) or both
``consumer_boycott``   the issuer's consumers and group tours shun the target's tourism and
                       consumer goods (THAAD 2017)
``disruption``         capacity loss at any nodes, from any cause (fire, quake, war)
=====================  ====================================================================
"""

from __future__ import annotations

import numpy as np

from ..engine import CompiledGraph, Controls


class Shock:
    """Base class. ``onset`` is the first week hit; ``duration`` ``None`` means to the end."""

    type = "shock"
    issuer = "CHN"

    def __init__(self, intensity: float, onset: int = 0, duration: int | None = None,
                 decided_by_china: bool = False):
        self.intensity = float(intensity)
        self.onset = int(onset)
        self.duration = None if duration is None else int(duration)
        self.decided_by_china = decided_by_china
        self.nodes = np.array([], dtype=np.int64)
        self.edges = np.array([], dtype=np.int64)

    @property
    def end(self) -> float:
        return np.inf if self.duration is None else self.onset + self.duration

    def active(self, week: int) -> bool:
        return self.onset <= week < self.end

    def stop(self, week: int) -> None:
        """End the shock before ``week`` (used when China lifts its retaliation)."""
        self.duration = max(0, week - self.onset)

    def bind(self, g: CompiledGraph) -> Shock:
        return self

    def apply(self, controls: Controls) -> None:
        if len(self.edges):
            controls.block[self.edges] = 1 - (1 - controls.block[self.edges]) * (
                1 - self.intensity)
        if len(self.nodes):
            controls.cap_mult[self.nodes] *= 1 - self.intensity

    def describe(self) -> str:
        return self.type



class ImportBan(Shock):
    type = "import_ban"

    def __init__(self, target: str, segments, issuer: str = "CHN", **kw):
        super().__init__(**kw)
        self.target, self.segments, self.issuer = target, list(segments), issuer

    def bind(self, g):
        self.edges = g.edges_between(g.nodes_where(country=self.target, segment=self.segments),
                                     g.nodes_where(country=self.issuer, producers=False))
        return self

    def describe(self):
        return f"{self.type}:{self.target}:{'+'.join(self.segments)}"


class ExportRestriction(Shock):
    type = "export_restriction"

    def __init__(self, targets, inputs, issuer: str = "CHN", **kw):
        super().__init__(**kw)
        self.targets = [targets] if isinstance(targets, str) else list(targets)
        self.inputs, self.issuer = list(inputs), issuer

    @property
    def target(self):
        return self.targets[0] if len(self.targets) == 1 else None

    def bind(self, g):
        self.edges = g.edges_between(g.nodes_where(country=self.issuer, segment=self.inputs),
                                     g.nodes_where(country=self.targets, producers=False))
        return self

    def describe(self):
        return f"export_restriction:{'+'.join(self.targets)}:{'+'.join(self.inputs)}"


class FirmSanction(Shock):
    type = "firm_sanction"

    def __init__(self, firm: str, mode: str = "both", issuer: str = "CHN", target=None, **kw):
        super().__init__(**kw)
        self.firm, self.mode, self.issuer, self.target = firm, mode, issuer, target

    def bind(self, g):
        if self.mode in ("operations", "both"):
            self.nodes = g.nodes_where(country=self.issuer, firm=self.firm)
        if self.mode in ("sales", "both"):
            firm_nodes = g.nodes_where(firm=self.firm)
            if self.issuer in g.countries:
                firm_nodes = firm_nodes[g.country[firm_nodes] != g.countries.index(self.issuer)]
            self.edges = g.edges_between(firm_nodes,
                                         g.nodes_where(country=self.issuer, producers=False))
        return self

    def describe(self):
        return f"firm_sanction:{self.firm}:{self.mode}"


class ConsumerBoycott(ImportBan):
    """An import ban carried out by consumers and tour groups: the same cut of the issuer's
    purchases, on the target's tourism and consumer goods by default."""

    type = "consumer_boycott"

    def __init__(self, target: str, segments=("tourism", "consumer_goods"), issuer: str = "CHN",
                 **kw):
        super().__init__(target=target, segments=segments, issuer=issuer, **kw)


class Disruption(Shock):
    type = "disruption"
    issuer = None

    def __init__(self, nodes=None, country=None, segment=None, firm=None, **kw):
        super().__init__(**kw)
        self.node_ids, self.country, self.segment, self.firm = nodes, country, segment, firm
        self.target = country if isinstance(country, str) else None

    def bind(self, g):
        if self.node_ids:
            self.nodes = np.array([g.index[v] for v in self.node_ids], dtype=np.int64)
        else:
            self.nodes = g.nodes_where(country=self.country, segment=self.segment, firm=self.firm)
        return self

    def describe(self):
        what = self.node_ids or [x for x in (self.country, self.segment, self.firm) if x]
        return f"disruption:{'+'.join(map(str, np.ravel(what)))}"


SHOCKS = {c.type: c for c in (ImportBan, ExportRestriction, FirmSanction, ConsumerBoycott,
                               Disruption)}
