"""One error type for bad input, so the CLI can print one clear line and exit 2.

Every message names the file, the field and what is allowed, e.g.::

    my_scenario.toml: shocks[0].target: unknown country 'KRR' (allowed: CHN, JPN, KOR, TWN, USA)
"""

from __future__ import annotations


class InputError(ValueError):
    """A malformed or inconsistent input file, or an unknown name or out-of-range value."""

    def __init__(self, source: str, field: str, message: str):
        self.source = str(source)
        self.field = field
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.message}".replace("\n", " ")


def allowed(names) -> str:
    """Format a list of allowed names for an error message."""
    names = sorted(str(n) for n in names)
    if len(names) > 30:
        names = names[:30] + [f"... ({len(names) - 30} more)"]
    return "allowed: " + ", ".join(names)
