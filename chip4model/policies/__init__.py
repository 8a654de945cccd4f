"""Pluggable policy objects the model applies each week: shocks and collective-resilience rules."""

from .rules import RULES, Rule
from .shocks import SHOCKS, Shock

__all__ = ["RULES", "SHOCKS", "Rule", "Shock"]
