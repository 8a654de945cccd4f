"""Fixtures of the browser tests: a dashboard server, a headless Chromium, tracked pages.

See the docstring of this package (tests/e2e/__init__.py) for what each one gives. The server's
log is attached to the report of every failing test that used ``dashboard_url``, and a failing
test leaves screenshots of its pages in results/e2e/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import RESULTS_DIR, DashboardServer, start_dashboard, track

CHROMIUM = Path("/usr/bin/chromium")
# As root, in a sandbox with no network but the package registries: no sandbox, no GPU, and
# none of Chromium's own background connections (refused here, and slow to fail).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}

_SERVER = pytest.StashKey[DashboardServer]()
_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report  # for new_page's teardown
    server = item.config.stash.get(_SERVER, None)
    if report.failed and server is not None and "dashboard_url" in item.fixturenames:
        report.sections.append((f"dashboard server log ({server.log_path}, last lines)",
                                server.log_tail()))


@pytest.fixture(scope="session")
def dashboard_url(request, tmp_path_factory) -> str:
    """Base URL (``http://127.0.0.1:PORT``, no trailing slash) of a ``chip4 app`` server
    started once for the session from the repository root, and stopped after it."""
    try:
        server = start_dashboard(tmp_path_factory.mktemp("dashboard") / "server.log")
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    request.config.stash[_SERVER] = server
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, driven by Playwright (whose own browser download needs hosts
    this machine cannot reach)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: 'make test' (or 'make browser') installs Debian's "
                    "chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
    finally:
        pw.stop()


@pytest.fixture
def new_page(browser, request):
    """Factory: ``new_page(**context_options)`` returns a page in a new browser context
    (viewport 1400x1000, downloads accepted) whose traffic is tracked: see ``e2e.page_log``,
    ``e2e.assert_offline``. Contexts are closed after the test; if it failed, each page is
    saved first as results/e2e/FAILED-<test>[-<n>].png."""
    contexts = []

    def _new_page(**context_options):
        options = {"viewport": VIEWPORT, "accept_downloads": True, **context_options}
        context = browser.new_context(**options)
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        track(context, page)
        return page

    yield _new_page

    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    for i, context in enumerate(contexts):
        if failed:
            for j, page in enumerate(context.pages):
                suffix = "" if (i, j) == (0, 0) else f"-{i}-{j}"
                try:
                    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(RESULTS_DIR / f"FAILED-{name}{suffix}.png"),
                                    full_page=True, timeout=10_000)
                except Exception:  # a crashed page: the report already says what failed
                    pass
        context.close()
