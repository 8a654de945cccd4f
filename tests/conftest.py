"""Shared fixtures: scenario writers, in-process and subprocess ``chip4`` runners, small graphs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest
import tomli_w

from chip4model import cli


@dataclass
class CliResult:
    """What one ``chip4`` invocation returned and printed."""

    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture
def run_cli(capsys):
    """Run ``chip4model.cli.main(args)`` in-process; return a :class:`CliResult`."""

    def _run(args) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        rc = cli.main([str(a) for a in args])
        cap = capsys.readouterr()
        return CliResult(rc, cap.out, cap.err)

    return _run


def _chip4_executable() -> str | None:
    """The installed ``chip4`` console script: next to this interpreter, else on PATH."""
    here = Path(sys.executable).parent / "chip4"
    if here.exists():
        return str(here)
    return shutil.which("chip4")


@pytest.fixture(scope="session")
def chip4_exe() -> str:
    exe = _chip4_executable()
    if exe is None:
        pytest.fail("the chip4 console script is not installed (pip install -e .)")
    return exe


@pytest.fixture
def run_chip4(chip4_exe, tmp_path):
    """Run the real ``chip4`` console script in a subprocess (cwd: a fresh tmp folder)."""

    def _run(args, cwd: Path | None = None, timeout: float = 120) -> CliResult:
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
        p = subprocess.run([chip4_exe, *map(str, args)], capture_output=True, text=True,
                           cwd=cwd or tmp_path, env=env, timeout=timeout, check=False)
        return CliResult(p.returncode, p.stdout, p.stderr)

    return _run


@pytest.fixture
def write_scenario(tmp_path):
    """Write a scenario file into tmp_path: from a dict (as TOML) or from raw text."""

    def _write(content, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        if isinstance(content, dict):
            path.write_bytes(tomli_w.dumps(content).encode())
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


def tiny_graph() -> nx.DiGraph:
    """A valid three-node supply chain: a material maker (KOR) -> a fab (JPN) -> a market.

    Flows (US$ m/week): a->b 1, a->m 1, b->m 3. ``b`` buys 1 and sells 3; ``a`` buys nothing.
    """
    G = nx.DiGraph()
    common = dict(firm="", inventory_weeks=2.0, substitutability=0.5, spare_capacity=0.1,
                  ramp_max=0.3, ramp_weeks=26.0, source="test")
    G.add_node("a", kind="producer", segment="wafers", stage="material", country="KOR",
               **common)
    G.add_node("b", kind="producer", segment="chips", stage="fab", country="JPN", **common)
    G.add_node("m", kind="final_demand", segment="final_demand", stage="final", country="USA",
               firm="", inventory_weeks=0.0, substitutability=0.0, spare_capacity=0.0,
               ramp_max=0.0, ramp_weeks=1.0, source="test")
    G.add_edge("a", "b", flow=1.0, source="test")
    G.add_edge("a", "m", flow=1.0, source="test")
    G.add_edge("b", "m", flow=3.0, source="test")
    return G


@pytest.fixture
def small_graph() -> nx.DiGraph:
    return tiny_graph()
