"""chip4model: an agent-based model of the Chip 4 semiconductor alliance facing China.

Does a "collective resilience" pact among the United States, South Korea, Japan and Taiwan
absorb China's economic retaliation against one of them, or deter it, and who pays?

>>> from chip4model import run
>>> result = run("thaad-2017", seed=1, steps=52)
>>> result.summary["retaliation"]["target"]
'KOR'
"""

from .errors import InputError
from .graph import default_graph, read_graph, validate_graph, write_graph
from .model import Chip4Model
from .results import RunResult
from .runner import run
from .scenario import Scenario, apply_sets, builtin_names, load_scenario

__version__ = "0.1.0"

__all__ = [
    "Chip4Model",
    "InputError",
    "RunResult",
    "Scenario",
    "apply_sets",
    "builtin_names",
    "default_graph",
    "load_scenario",
    "read_graph",
    "run",
    "validate_graph",
    "write_graph",
]
