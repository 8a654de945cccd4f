"""Browser (end-to-end) tests of the dashboard, and the helpers they share.

Fixtures, from ``tests/e2e/conftest.py``:

* ``dashboard_url`` (session): base URL of one ``chip4 app`` server on a free loopback port.
* ``browser`` (session): headless Debian Chromium (``/usr/bin/chromium``) driven by Playwright.
* ``new_page`` (per test): ``new_page()`` opens a page in a fresh browser context that aborts and
  records every request to a host other than this machine, and records failed requests, error
  responses and console errors (see :func:`page_log`). A failed test leaves a screenshot of
  each of its pages in ``results/e2e/``.

Helpers, imported from this package (``from e2e import wait_for_solara, screenshot``):
:func:`wait_for_solara`, :func:`wait_for_echarts`, :func:`assert_offline`,
:func:`assert_no_console_errors`, :func:`screenshot`, and :func:`start_dashboard` with
:class:`DashboardServer` for tests that need a server of their own.

Waits have generous limits (the machine may be busy), and nothing asserts how long a step took.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "results" / "e2e"

#: Hosts a page may load from: this machine only.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: Limits of the waits below, in seconds (not assertions: only what "never" means).
SERVER_START_TIMEOUT = 180
PAGE_TIMEOUT = 120


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the server


class DashboardServer:
    """One ``chip4 app`` process, its output going to ``log_path``.

    ``command`` is how to call ``chip4`` (default: this interpreter with ``-m chip4model.cli``
    in the repository root, so the checkout under test is what runs).
    """

    def __init__(self, log_path: Path, port: int | None = None,
                 command: list[str] | None = None, args: tuple[str, ...] = ()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.command = [*(command or [sys.executable, "-m", "chip4model.cli"]),
                        "app", "--port", str(self.port), *args]
        self.proc: subprocess.Popen | None = None

    def start(self) -> DashboardServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "wb") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen(self.command, cwd=REPO_ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Poll the base URL until it answers 200; raise RuntimeError (with the log) if the
        process exits first or it never answers."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chip4 app exited with code {self.proc.returncode} before "
                                   f"serving {self.url}\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=10) as r:
                    if r.status == 200:
                        return
                    last = f"status {r.status}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise RuntimeError(f"chip4 app did not serve {self.url} within {timeout:.0f} s "
                           f"(last: {last})\n{self.log_tail()}")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines: int = 200) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


def start_dashboard(log_path: Path, **kwargs) -> DashboardServer:
    """Start ``chip4 app`` (see :class:`DashboardServer`) and wait until it serves its page.
    The caller stops it; it is stopped here if it never becomes ready."""
    server = DashboardServer(log_path, **kwargs).start()
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


# --------------------------------------------------------------------------- pages


@dataclass
class PageLog:
    """What a page did that a test may want to forbid."""

    blocked: list[str] = field(default_factory=list)         # requests to other hosts (aborted)
    websockets: list[str] = field(default_factory=list)      # to other hosts (not blockable)
    failed: list[str] = field(default_factory=list)          # "URL (reason)"
    bad_responses: list[str] = field(default_factory=list)   # "STATUS URL", status >= 400
    console_errors: list[str] = field(default_factory=list)  # console.error and uncaught errors


_LOGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine (or needs no network: data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS


def track(context, page) -> PageLog:
    """Block non-local requests in ``context`` and record ``page``'s troubles in a PageLog."""
    log = PageLog()

    def route(r):
        if is_local(r.request.url):
            r.continue_()
        else:
            log.blocked.append(r.request.url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    page.on("websocket", lambda ws: None if is_local(ws.url) else log.websockets.append(ws.url))
    # (a blocked request fails too: it is listed once, as blocked)
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url} ({r.failure})")
            if is_local(r.url) else None)
    page.on("response", lambda r: log.bad_responses.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.on("console", lambda m: log.console_errors.append(f"console.error: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda exc: log.console_errors.append(f"uncaught: {exc}"))
    _LOGS[page] = log
    return log


def page_log(page) -> PageLog:
    """The PageLog of a page opened with the ``new_page`` fixture."""
    return _LOGS[page]


def _problems(page) -> list[str]:
    log = _LOGS.get(page)
    if log is None:
        return []
    return ([f"asked another host (blocked): {u}" for u in log.blocked + log.websockets]
            + [f"failed: {f}" for f in log.failed]
            + [f"error response: {b}" for b in log.bad_responses])


def assert_offline(page) -> None:
    """The page asked nothing of any other host, and every request it made succeeded."""
    problems = _problems(page)
    assert not problems, "the page did not load cleanly from 127.0.0.1:\n  " + "\n  ".join(
        problems)


def assert_no_console_errors(page) -> None:
    errors = page_log(page).console_errors
    assert not errors, "errors in the browser console:\n  " + "\n  ".join(errors)


def _wait(page, what: str, js: str, arg=None, timeout: float = PAGE_TIMEOUT):
    """page.wait_for_function, failing with what the page did wrong (e.g. a missing asset)
    rather than with a bare timeout; returns the function's (truthy) value."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(js, arg=arg, timeout=timeout * 1000).json_value()
    except PlaywrightTimeout:
        log = _LOGS.get(page)
        details = _problems(page) + (log.console_errors if log else [])
        raise AssertionError(f"{what} within {timeout:.0f} s" + "".join(
            f"\n  {d}" for d in details)) from None


# 'ok' once the app's layout is there; the text of the traceback Solara shows instead when the
# page raised (in production mode too); null (keep waiting) while the loader is up.
_SOLARA_RENDERED = """() => {
    if (document.querySelector('#loader-container')) return null;
    for (const pre of document.querySelectorAll('#app pre')) {
        if (pre.innerText.startsWith('Traceback')) return pre.innerText;
    }
    return document.querySelector('.solara-autorouter-content, .solara-content-main') ? 'ok' : null;
}"""


def wait_for_solara(page, timeout: float = PAGE_TIMEOUT) -> None:
    """Wait until the Solara app has rendered its page; fail with the traceback if it raised.

    ``#app.v-application`` exists from the first byte, so it tells nothing. While the kernel
    starts, Solara shows ``#loader-container``; it replaces it with the app's layout, whose
    content sits in ``.solara-content-main`` (AppLayout) around ``.solara-autorouter-content``,
    or, if rendering raised, with the traceback in a ``pre``.
    """
    state = _wait(page, "the Solara app did not render", _SOLARA_RENDERED, timeout=timeout)
    assert state == "ok", f"the Solara app raised:\n{state}"


def wait_for_echarts(page, count: int = 1, timeout: float = PAGE_TIMEOUT) -> None:
    """Wait until at least ``count`` ECharts charts (solara.FigureEcharts) have drawn: each is
    a ``.solara-echarts`` element that gets a ``canvas`` once echarts.js has loaded."""
    _wait(page, f"fewer than {count} ECharts chart(s) drew",
          "n => document.querySelectorAll('.solara-echarts canvas').length >= n",
          arg=count, timeout=timeout)


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a PNG of the page as ``results/e2e/<name>.png`` (a test artefact) and return it."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
