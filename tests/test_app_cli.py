"""``chip4 app``: its options, its checks, and a real server that listens on loopback only."""

from __future__ import annotations

import ipaddress
import re
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from chip4model import cli

sys.path.insert(0, str(Path(__file__).parent))  # tests/e2e holds the server helpers
from e2e import start_dashboard  # noqa: E402


class _Exec(Exception):
    """Raised instead of replacing the test process with Solara."""


@pytest.fixture
def exec_call(monkeypatch):
    """Catch cmd_app's os.execve: return a dict that gets its argv and env."""
    seen: dict = {}

    def fake_execve(path, argv, env):
        seen.update(path=path, argv=list(argv), env=dict(env))
        raise _Exec

    monkeypatch.setattr("os.execve", fake_execve)
    monkeypatch.delenv("SOLARA_ASSETS_PROXY_CACHE_DIR", raising=False)
    monkeypatch.delenv("SOLARA_TELEMETRY_MIXPANEL_ENABLE", raising=False)
    return seen


@pytest.fixture
def assets(tmp_path, monkeypatch) -> Path:
    """Pretend the front-end assets are installed, in a folder of the test's own."""
    d = tmp_path / "cdn"
    (d / "@widgetti").mkdir(parents=True)
    monkeypatch.setattr(cli, "_assets_dir", lambda: d)
    return d


def _opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_help(run_chip4):
    r = run_chip4(["app", "--help"])
    assert r.rc == 0, r.err
    for word in ("--host", "--port", "--dev", "127.0.0.1", "8765"):
        assert word in r.out


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_bad_port_is_one_line_and_exit_2(run_cli, exec_call, port):
    r = run_cli(["app", "--port", port])
    assert r.rc == 2
    assert len(r.err_lines) == 1, r.err
    assert "--port" in r.err and port in r.err and "1 to 65535" in r.err
    assert not exec_call  # nothing was started


def test_defaults_loopback_production(run_cli, exec_call, assets):
    with pytest.raises(_Exec):
        run_cli(["app"])
    argv, env = exec_call["argv"], exec_call["env"]
    assert argv[0] == sys.executable and argv[1] == "-c" and "solara" in argv[2]
    assert argv[3:5] == ["run", "chip4model.dashboard.app"]
    assert _opt(argv, "--host") == "127.0.0.1" and _opt(argv, "--port") == "8765"
    assert "--production" in argv and "--auto-restart" not in argv
    assert "--no-open" in argv and "--no-check-version" in argv
    assert env["SOLARA_ASSETS_PROXY_CACHE_DIR"] == str(assets)
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"


def test_dev_mode(run_cli, exec_call, assets):
    with pytest.raises(_Exec):
        run_cli(["app", "--dev", "--port", "9000"])
    argv = exec_call["argv"]
    assert "--auto-restart" in argv and "--production" not in argv
    assert _opt(argv, "--port") == "9000"


@pytest.mark.parametrize("host,warns", [("0.0.0.0", True), ("192.0.2.7", True),
                                        ("example.org", True), ("localhost", False),
                                        ("127.0.0.2", False), ("::1", False)])
def test_non_loopback_host_warns(run_cli, exec_call, assets, capsys, host, warns):
    with pytest.raises(_Exec):
        run_cli(["app", "--host", host])
    err = capsys.readouterr().err
    assert _opt(exec_call["argv"], "--host") == host
    if warns:
        assert len(err.splitlines()) == 1 and host in err and "warning" in err
    else:
        assert err == ""


def test_missing_assets_warn(run_cli, exec_call, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_assets_dir", lambda: tmp_path / "nothing-here")
    with pytest.raises(_Exec):
        run_cli(["app"])
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "make demo" in err and "install-dashboard-assets.sh" in err
    assert "SOLARA_ASSETS_PROXY_CACHE_DIR" not in exec_call["env"]


def test_explicit_assets_dir_is_kept(run_cli, exec_call, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_assets_dir", lambda: tmp_path / "nothing-here")
    monkeypatch.setenv("SOLARA_ASSETS_PROXY_CACHE_DIR", "/somewhere/else")
    with pytest.raises(_Exec):
        run_cli(["app"])
    assert capsys.readouterr().err == ""
    assert exec_call["env"]["SOLARA_ASSETS_PROXY_CACHE_DIR"] == "/somewhere/else"


def test_serves_the_dashboard_on_loopback_only(chip4_exe, tmp_path):
    """The real thing: the chip4 console script starts Solara, which serves the page and
    every front-end file it links to, from a socket bound to 127.0.0.1 only."""
    server = start_dashboard(tmp_path / "server.log", command=[chip4_exe])
    try:
        with urllib.request.urlopen(server.url + "/", timeout=60) as r:
            assert r.status == 200
            html = r.read().decode()
        assert "<html" in html.lower() and "solara" in html.lower()
        assets = sorted(set(re.findall(r'["\'](/_solara/cdn/[^"\'?#]+)', html)))
        assert assets, "the page links no front-end files through Solara's CDN proxy"
        for path in assets:
            with urllib.request.urlopen(server.url + path, timeout=60) as r:
                assert r.status == 200, path

        # Not reachable from elsewhere: every socket the server listens on is a loopback one
        # (checked on the socket, not by connecting to another address of this machine).
        proc = psutil.Process(server.proc.pid)
        listening = [c.laddr for p in (proc, *proc.children(recursive=True))
                     for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert any(a.port == server.port for a in listening), listening
        assert all(ipaddress.ip_address(a.ip).is_loopback for a in listening), listening
    except BaseException:
        print(server.log_tail())
        raise
    finally:
        rc = server.stop()
    assert rc in (0, -15), f"exit code {rc}\n{server.log_tail()}"  # SIGTERM ends it at once
