"""The chip4model dashboard: ``solara run app.py`` (or ``chip4 app``), then open
http://127.0.0.1:8765. The page itself lives in :mod:`chip4model.dashboard.app`."""

from chip4model.dashboard.app import Page

__all__ = ["Page"]
