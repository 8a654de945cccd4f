"""The ``chip4`` command.

::

    chip4 scenarios                                  built-in scenarios, one line each
    chip4 run [SCENARIO] [--steps N] [--seed S] [--rule R ...] [--set K=V ...] [--json]
              [--out DIR]                            run and summarise
    chip4 validate FILE [FILE ...]                   check scenario, experiment or graph files
    chip4 graph export PATH                          write the default graph (.graphml or folder)
    chip4 graph info [PATH]                          size and segments of a graph
    chip4 sweep EXPERIMENT [--workers N | --scheduler ADDR] [--quick] --out DIR [--resume]
    chip4 report DIR [--out DIR]                     tables, figures and claims of a sweep
    chip4 reproduce [EXPERIMENT ...] [--quick]       run experiments and check their claims
    chip4 app [--host HOST] [--port PORT] [--dev]    serve the dashboard (http://127.0.0.1:8765)

Bad input prints one line naming the file, the field and what is allowed, and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import InputError

APP_HOST = "127.0.0.1"
APP_PORT = 8765
APP_MODULE = "chip4model.dashboard.app"


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

    v = sub.add_parser("validate", help="check scenario or experiment (.toml) or graph "
                       "(.graphml, folder) files")
    v.add_argument("files", nargs="+")

    g = sub.add_parser("graph", help="export or describe a supply-chain graph")
    gs = g.add_subparsers(dest="graph_command", metavar="ACTION", required=True)
    ge = gs.add_parser("export", help="write the default graph")
    ge.add_argument("path", help="*.graphml file, or a folder for nodes.csv + edges.csv")
    gi = gs.add_parser("info", help="describe a graph (default: the built-in one)")
    gi.add_argument("path", nargs="?")

    sw = sub.add_parser("sweep", help="run an experiment's design, streaming results to Parquet")
    sw.add_argument("experiment", help="experiment .toml file")
    sw.add_argument("--out", required=True, metavar="DIR", help="folder for the results")
    _executor_args(sw)
    sw.add_argument("--quick", action="store_true", help="use the experiment's [quick] sizes")
    sw.add_argument("--resume", action="store_true",
                    help="continue an interrupted sweep in DIR (finished runs are kept)")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")

    rp = sub.add_parser("report", help="summary tables, figures and claims of a finished sweep")
    rp.add_argument("dir", help="a folder written by chip4 sweep")
    rp.add_argument("--out", metavar="DIR", help="where to write (default: DIR/report)")

    rr = sub.add_parser("reproduce", help="sweep, report and check the claims of experiments")
    rr.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                    help="experiment files (default: every experiments/*.toml)")
    rr.add_argument("--quick", action="store_true", help="reduced samples, as each file says")
    rr.add_argument("--out", default="results/reproduce", metavar="DIR",
                    help="results folder; one sub-folder per experiment "
                         "(default: results/reproduce)")
    _executor_args(rr)
    rr.add_argument("--no-progress", action="store_true", help="no progress bar")

    ap = sub.add_parser("app", help="serve the interactive dashboard (Solara) in a browser")
    ap.add_argument("--host", default=APP_HOST,
                    help=f"address to listen on (default: {APP_HOST}, this machine only; "
                         "anything else lets other machines reach the dashboard)")
    ap.add_argument("--port", type=int, default=APP_PORT, help=f"port (default: {APP_PORT})")
    ap.add_argument("--dev", action="store_true",
                    help="Solara's development mode: the server restarts when the code changes")
    return p


def _executor_args(p) -> None:
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, metavar="N",
                    help="local worker processes (default: all cores; 1 runs in-process)")
    ex.add_argument("--scheduler", metavar="ADDRESS",
                    help="run on a Dask cluster, e.g. tcp://scheduler.example.org:8786")
    p.add_argument("--chunk-size", type=int, metavar="RUNS",
                   help="runs per task (default: 16; kept by --resume)")


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
        if p.suffix == ".toml" and _is_experiment(p):
            from .experiment import design, load_experiment

            exp = load_experiment(p)
            print(f"OK {f}: experiment '{exp.name}', {design(exp).n_runs} runs "
                  f"({design(exp, quick=True).n_runs} with --quick; {exp.sampler.method}, "
                  f"{len(exp.factors)} factor(s)), {len(exp.expect)} claim(s)")
        elif p.suffix == ".toml":
            s = load_scenario(p)
            check_against_graph(s, compiled_graph(graph_path(s)))
            print(f"OK {f}: scenario '{s.name}', {s.steps} weeks, {len(s.shocks)} shock(s), "
                  f"{len(s.rules)} rule(s)")
        else:
            G = read_graph(p)
            print(f"OK {f}: graph with {G.number_of_nodes()} nodes, {G.number_of_edges()} edges")
    return 0


def _is_experiment(p: Path) -> bool:
    """An experiment file has metrics or factors; a scenario has neither."""
    from .scenario import read_toml_file

    if not p.exists():
        return False
    data = read_toml_file(p)
    return "metrics" in data or "factors" in data


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


def cmd_sweep(args) -> int:
    from .experiment import load_experiment
    from .sweep import SweepInterrupted, sweep

    exp = load_experiment(args.experiment)
    try:
        res = sweep(exp, args.out, quick=args.quick, workers=args.workers,
                    scheduler=args.scheduler, resume=args.resume, chunk_size=args.chunk_size,
                    progress=not args.no_progress)
    except SweepInterrupted as exc:
        print(f"chip4: {exc}; continue with: chip4 sweep {args.experiment} --out {args.out} "
              f"--resume" + (" --quick" if args.quick else ""), file=sys.stderr)
        return 130
    if res.ran == 0:
        print(f"{args.out}: already complete ({res.n_runs} runs)")
    else:
        print(f"Wrote {Path(args.out) / 'runs.parquet'}: {res.n_runs} runs"
              + (f" ({res.ran} this time)" if res.ran != res.n_runs else "")
              + f"; tables, figures and claims: chip4 report {args.out}")
    if res.failed:
        print(f"chip4: {res.failed} of {res.n_runs} runs failed; their errors are in the "
              "'error' column of runs.parquet", file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    from .claims import format_results
    from .report import report_with_claims

    out, results = report_with_claims(args.dir, args.out)
    print(f"Wrote {out / 'summary.md'}")
    if results:
        print(format_results(results))
    return 0


def cmd_reproduce(args) -> int:
    from .reproduce import reproduce

    return reproduce(args.experiments, quick=args.quick, out=args.out, workers=args.workers,
                     scheduler=args.scheduler, chunk_size=args.chunk_size,
                     progress=not args.no_progress)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: may resolve to anything
        return False


def _assets_dir() -> Path:
    """Where ``make`` puts the dashboard's front-end assets: Solara's default CDN proxy cache
    (``<venv>/share/solara/cdn``), filled by scripts/install-dashboard-assets.sh."""
    return Path(sys.prefix) / "share" / "solara" / "cdn"


_SOLARA_CLI = "import sys; from solara.__main__ import cli; cli(sys.argv[1:], prog_name='solara')"


def cmd_app(args) -> int:
    import os

    if not 1 <= args.port <= 65535:
        raise InputError("--port", "", f"{args.port} is out of range (allowed: 1 to 65535)")
    if not _is_loopback(args.host):
        print(f"chip4: warning: listening on {args.host}: other machines that can reach it "
              "can use the dashboard (it has no login)", file=sys.stderr)
    env = dict(os.environ)
    assets = _assets_dir()
    if "SOLARA_ASSETS_PROXY_CACHE_DIR" not in env:
        if (assets / "@widgetti").is_dir():  # the script has run (Solara itself never does here)
            env["SOLARA_ASSETS_PROXY_CACHE_DIR"] = str(assets)
        else:
            print(f"chip4: warning: the dashboard's front-end assets are not in {assets}; "
                  "without internet the page stays blank (install them: make demo, or "
                  f"scripts/install-dashboard-assets.sh {assets})", file=sys.stderr)
    # Solara would otherwise phone home: usage telemetry, and a PyPI look-up of its latest version.
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")
    # ... and warn at every page load that plain http cannot have samesite=none cookies, which
    # only matters when the page is embedded in another site's iframe.
    quiet = "ignore:Cookies with samesite=none require https:UserWarning"
    env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS"), quiet) if w)
    # Solara's command line, but not as `python -m solara`: there, --auto-restart's worker
    # process cannot unpickle its target (defined in __main__) and dies.
    cmd = [sys.executable, "-c", _SOLARA_CLI, "run", APP_MODULE, "--host", args.host,
           "--port", str(args.port), "--no-open", "--no-check-version"]
    cmd += ["--auto-restart"] if args.dev else ["--production"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)  # replaces this process: Ctrl-C and signals reach Solara
    return 0  # not reached


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    handler = {"scenarios": cmd_scenarios, "run": cmd_run, "validate": cmd_validate,
               "graph": cmd_graph, "sweep": cmd_sweep, "report": cmd_report,
               "reproduce": cmd_reproduce, "app": cmd_app}[args.command]
    if args.command in ("sweep", "reproduce"):
        import signal

        signal.signal(signal.SIGTERM, _on_sigterm)  # stop like Ctrl-C: save, then exit
    try:
        return handler(args)
    except InputError as exc:
        print(f"chip4: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
