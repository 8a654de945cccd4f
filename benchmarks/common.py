"""Timing statistics, memory and machine description shared by the benchmarks."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def stats(seconds: list[float]) -> dict:
    """Median, min, p90 and mean of a list of timings (seconds), plus the count."""
    a = np.asarray(seconds, dtype=float)
    return {"n": int(a.size), "median": float(np.median(a)), "min": float(a.min()),
            "p90": float(np.percentile(a, 90)), "mean": float(a.mean()),
            "max": float(a.max())}


def timed(fn, reps: int) -> list[float]:
    """Wall-clock seconds of ``reps`` calls of ``fn()``, one timing per call."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def peak_rss_mb() -> float:
    """High-water mark of this process's resident set size, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def system_cpu() -> dict:
    """Seconds of CPU time the whole machine has spent busy, idle and stolen (by the host,
    for other guests) since boot, summed over cores, from the first line of /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return {}
    v += [0] * (8 - len(v))
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return {"busy": (user + nice + system + irq + softirq) / hz, "idle": (idle + iowait) / hz,
            "steal": steal / hz}


def nbytes_mb(*objs) -> float:
    """Total size of the numpy arrays among the attributes of ``objs``, in MiB."""
    total = 0
    for o in objs:
        attrs = vars(o) if hasattr(o, "__dict__") else {}
        for v in attrs.values():
            if isinstance(v, np.ndarray):
                total += v.nbytes
    return total / 2**20


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_info() -> dict:
    """BLAS as threadpoolctl sees it if installed, else numpy's build configuration."""
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        return {"source": "threadpoolctl",
                "libraries": [{k: p.get(k) for k in ("internal_api", "version",
                                                     "architecture", "num_threads",
                                                     "threading_layer")} for p in pools]}
    except ImportError:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return {"source": "numpy.show_config (threadpoolctl not installed)",
                "name": blas.get("name"), "version": blas.get("version"),
                "config": blas.get("openblas configuration")}
    except Exception as exc:
        return {"source": "unavailable", "error": repr(exc)}


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    """What the numbers were measured on (and against which code)."""
    import mesa
    import networkx

    try:
        import scipy

        scipy_version = scipy.__version__
    except ImportError:
        scipy_version = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    dirty = _git("status", "--porcelain", "--", "chip4model")
    return {
        "nproc": affinity,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_gib": _mem_total_gib(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "numpy": np.__version__,
        "scipy": scipy_version,
        "networkx": networkx.__version__,
        "mesa": mesa.__version__,
        "blas": _blas_info(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                               "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "platform": platform.platform(),
        "git_head": _git("rev-parse", "--short", "HEAD"),
        "chip4model_dirty": bool(dirty),
        "executable": sys.executable,
    }


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def log(*args) -> None:
    """Progress messages go to stderr so a child's stdout stays clean."""
    print(*args, file=sys.stderr, flush=True)
