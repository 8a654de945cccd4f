"""The ``chip4`` command.

::

    chip4 scenarios                                  built-in scenarios, one line each
    chip4 run [SCENARIO] [--steps N] [--seed S] [--rule R ...] [--set K=V ...] [--json]
              [--out DIR]                            run and summarise
    chip4 validate FILE [FILE ...]                   check scenario or graph files
    chip4 graph export PATH                          write the default graph (.graphml or folder)
    chip4 graph info [PATH]                          size and segments of a graph

Bad input prints one line naming the file, the field and what is allowed, and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import InputError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chip4",
        description="Agent-based model of the Chip 4 alliance under Chinese economic coercion.")
    p.add_argument("--version", action="version", version=f"chip4model {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("scenarios", help="list the built-in scenarios")

    r = sub.add_parser("run", help="run a scenario and summarise who lost what")
    r.add_argument("scenario", nargs="?", default="kor-aligns-collective",
                   help="built-in name or path to a .toml file (default: kor-aligns-collective)")
    r.add_argument("--steps", type=int, help="weeks to simulate (default: the scenario's)")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's, else 0)")
    r.add_argument("--rule", action="append", metavar="RULE",
                   help="use only these rules (repeatable; 'none' for none)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value, e.g. china.resolve=0.8 (repeatable)")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.add_argument("--out", metavar="DIR",
                   help="write summary.json, timeseries.parquet and paths.png into DIR")
    r.add_argument("--no-counterfactual", action="store_true",
                   help="skip the no-rules run (no absorption ratio)")

    v = sub.add_parser("validate", help="check scenario (.toml) or graph (.graphml, folder) files")
    v.add_argument("files", nargs="+")

    g = sub.add_parser("graph", help="export or describe a supply-chain graph")
    gs = g.add_subparsers(dest="graph_command", metavar="ACTION", required=True)
    ge = gs.add_parser("export", help="write the default graph")
    ge.add_argument("path", help="*.graphml file, or a folder for nodes.csv + edges.csv")
    gi = gs.add_parser("info", help="describe a graph (default: the built-in one)")
    gi.add_argument("path", nargs="?")
    return p


def cmd_scenarios(args) -> int:
    from .scenario import builtin_names, load_scenario

    for name in builtin_names():
        s = load_scenario(name)
        print(f"{name:<24} {s.steps:>4} wk  {s.description}")
    return 0


def cmd_run(args) -> int:
    from .runner import prepare, run

    if args.steps is not None and args.steps < 1:
        raise InputError("--steps", "", f"{args.steps} is out of range (allowed: 1 to 5200)")
    if args.seed is not None and args.seed < 0:
        raise InputError("--seed", "", f"{args.seed} is out of range (allowed: 0 or more)")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(args.out, "--out", "is an existing file (allowed: a folder path)")
    s = prepare(args.scenario, rules=args.rule, sets=args.set, steps=args.steps)
    result = run(s, seed=args.seed, counterfactual=not args.no_counterfactual)
    if args.out:
        result.write(args.out)
    if args.json:
        print(result.to_json())
    else:
        print(result.table())
        if args.out:
            print(f"\nWrote {Path(args.out) / 'summary.json'}, timeseries.parquet, paths.png")
    return 0


def cmd_validate(args) -> int:
    from .graph import read_graph
    from .model import compiled_graph
    from .scenario import check_against_graph, graph_path, load_scenario

    for f in args.files:
        p = Path(f)
        if p.suffix == ".toml":
            s = load_scenario(p)
            check_against_graph(s, compiled_graph(graph_path(s)))
            print(f"OK {f}: scenario '{s.name}', {s.steps} weeks, {len(s.shocks)} shock(s), "
                  f"{len(s.rules)} rule(s)")
        else:
            G = read_graph(p)
            print(f"OK {f}: graph with {G.number_of_nodes()} nodes, {G.number_of_edges()} edges")
    return 0


def cmd_graph(args) -> int:
    from .graph import default_graph, read_graph, write_graph

    if args.graph_command == "export":
        out = write_graph(default_graph(), args.path)
        print(f"Wrote {out}")
        return 0
    G = read_graph(args.path) if args.path else default_graph()
    segs: dict[str, int] = {}
    for _, d in G.nodes(data=True):
        segs[d["segment"]] = segs.get(d["segment"], 0) + 1
    total = sum(d["flow"] for *_, d in G.edges(data=True))
    print(f"{G.number_of_nodes()} nodes, {G.number_of_edges()} edges, "
          f"total flow US$ {total * 52 / 1000:,.0f} bn a year")
    for s, k in sorted(segs.items()):
        print(f"  {s:<24}{k:>4} nodes")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    handler = {"scenarios": cmd_scenarios, "run": cmd_run, "validate": cmd_validate,
               "graph": cmd_graph}[args.command]
    try:
        return handler(args)
    except InputError as exc:
        print(f"chip4: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
