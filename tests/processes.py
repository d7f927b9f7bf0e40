"""Test helpers shared by the test folders: a real `liqkit serve` process, and polling a condition.

(``tests/`` is on ``sys.path`` because its conftest.py lives there: import as ``from processes import ...``.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from liqkit.dashboard import free_port

__all__ = ["free_port", "start_service", "stop_service", "wait_for"]


def start_service(state_dir: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """`liqkit serve` on a free port of 127.0.0.1; (process, URL from its first line)."""
    cmd = [sys.executable, "-m", "liqkit.cli", "serve", "--state-dir", str(state_dir), "--port", "0", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "liqkit serve:" not in line:
        proc.kill()
        raise AssertionError(f"the service did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0]


def stop_service(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    """Signal the service (SIGTERM by default) and wait; (exit status, stdout, stderr)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def wait_for(pred: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> object:
    """Poll ``pred`` (blocking) until truthy; AssertionError naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
