"""Performance benchmarks for chip4model.

Run from the repository root::

    .venv/bin/python -m benchmarks                 # full suite, rewrites docs/benchmarks.md
    .venv/bin/python -m benchmarks --quick         # fewer repetitions, 10k graph only, no docs
    .venv/bin/python -m benchmarks --only engine_step:10k

Benchmarks (each case runs in its own child process, so peak RSS is per case):

``run_default``
    ``chip4model.run()`` (kor-aligns-collective, 156 weeks plus its no-rules counterfactual).
``engine_step``
    One ``FlowEngine.step()`` under a persistent shock on synthetic graphs (10k and 100k nodes).
``networkx_loop``
    The same step written as a plain per-node loop over networkx dict attributes
    (:mod:`benchmarks.nx_loop`), checked against the engine, and its time ratio to the engine.
``dashboard_step``
    One dashboard step plus the redraw of every view: the views alone (``views``), through
    Solara in-process (``render``) and end to end in headless Chromium (``browser``).

Results go to stdout (a compact table), ``benchmarks/out/results.json`` and, for a full run,
``docs/benchmarks.md``.
"""
