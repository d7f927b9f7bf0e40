"""Test helpers shared by the test folders: a real `liqkit serve` process, a process's output read as it
comes, and polling a condition (never a fixed sleep: a busy machine makes a wait longer, not a test red).

(``tests/`` is on ``sys.path`` because its conftest.py lives there: import as ``from processes import ...``.)
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from liqkit.dashboard import free_port

__all__ = [
    "NO_DNS",
    "ProcessOutput",
    "accepts",
    "free_port",
    "no_dns_env",
    "sim_server",
    "start_service",
    "stop_service",
    "until",
    "wait_for",
]

NO_DNS = Path(__file__).resolve().parent / "nodns"  # its sitecustomize.py fails .invalid names locally


def no_dns_env(env: dict[str, str], log: Path) -> dict[str, str]:
    """``env`` for a process in which host names under ``.invalid`` fail to resolve at once, without a DNS
    query leaving the machine (``nodns/sitecustomize.py``); each name refused is appended to ``log``."""
    path = os.pathsep.join(p for p in (str(NO_DNS), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, "LIQKIT_TEST_DNS_LOG": str(log)}


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


def wait_for(pred: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> object:
    """Poll ``pred`` (blocking) until truthy; AssertionError naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def until(pred: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> object:
    """Poll ``pred`` on the running event loop until truthy (its value; ``pred`` may be a coroutine
    function, then awaited each time); AssertionError naming ``what`` after ``timeout`` seconds. The async
    ``wait_for``: other tasks run while it waits."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        v = pred()
        if inspect.isawaitable(v):
            v = await v
        if v:
            return v
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class ProcessOutput:
    """A process's stdout and stderr, read line by line in threads as they come.

    A test can wait for a line (``wait_for_line``) without blocking on a read that may never return,
    and a chatty process never stalls on a full pipe. ``finish`` waits for the exit and gives it all.
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None, "start the process with stdout/stderr=PIPE"
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [self._drain(proc.stdout, self.out), self._drain(proc.stderr, self.err)]

    @staticmethod
    def _drain(stream: IO[str], into: list[str]) -> threading.Thread:
        def read() -> None:
            for line in stream:
                into.append(line)

        t = threading.Thread(target=read, daemon=True)
        t.start()
        return t

    def wait_for_line(self, pred: Callable[[str], bool], timeout: float = 120.0, what: str = "a line") -> str:
        """The first stdout line ``pred`` accepts, waiting up to ``timeout``; AssertionError (with what the
        process said) if the process ends or the time runs out first."""
        end = time.monotonic() + timeout
        while True:
            ended = self.proc.poll() is not None and not self._threads[0].is_alive()  # before looking
            hit = next((ln for ln in list(self.out) if pred(ln)), None)
            if hit is not None:
                return hit
            if ended:
                raise AssertionError(f"the process ended ({self.proc.returncode}) before {what}: {self.text()}")
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; output: {self.text()}")
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        """Wait for the exit (after a signal, say); (exit status, all stdout, all stderr)."""
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout)
        return code, "".join(self.out), "".join(self.err)

    def text(self) -> str:
        """What the process wrote so far, stdout then stderr."""
        return "".join(self.out) + "".join(self.err)


@contextmanager
def sim_server(*args: str, symbols: str = "BTCUSDT,ETHUSDT", speed: str = "5") -> Iterator[str]:
    """A `liqkit sim-server` process on a free port of 127.0.0.1 with ``args`` (its key flags, say), its
    base URL while it runs; stopped with SIGINT after, which must end it with status 0."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("LIQKIT_SIM_API_KEY", "LIQKIT_SIM_API_SECRET")}
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--symbols", symbols]
    proc = subprocess.Popen(
        [*cmd, "--speed", speed, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    served = ProcessOutput(proc)
    try:
        served.wait_for_line(lambda ln: "Binance spot API for" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        code, _out, err = served.finish(60)
        assert code == 0, err
