"""``liqkit sim-server`` in a child process, for notebooks and scripts: ``with SimServerProcess(...) as srv``.

The server listens on a free port of 127.0.0.1 and generates its own HMAC key, written to
``srv.keys_file`` (a ``.env`` file the venue factory reads: ``make_venue(cfg, symbols, keys_file=...)``);
``srv.url`` is its base URL. ``stop()`` (or leaving the ``with``) ends it with SIGINT and waits; its
stderr is kept in ``srv.stderr`` for when it fails.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from liqkit.domain.errors import VenueError

_BANNER = "Binance spot API for"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimServerProcess:
    """A ``liqkit sim-server`` child process (see the module). ``args`` are more of its flags, e.g.
    ``["--data", path, "--queue-model", "prob-power", "--queue-param", "3"]``."""

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        symbols: str = "BTCUSDT",
        speed: float = 1.0,
        state_dir: str | Path | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.args = [str(a) for a in args]
        self.symbols = symbols
        self.speed = speed
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="liqkit-sim-server-"))
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._out: list[str] = []
        self._err: list[str] = []
        self._banner = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def keys_file(self) -> Path:
        return self.state_dir / "sim-server-keys.env"

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def start(self) -> SimServerProcess:
        """Start it and wait until it serves (its banner printed and its port taking connections)."""
        self.port = _free_port()
        cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(self.port), "--symbols", self.symbols]
        cmd += ["--speed", f"{self.speed:g}", "--state-dir", str(self.state_dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, args=(self.proc.stdout, self._out, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self._err, False), daemon=True).start()
        end = time.monotonic() + self.start_timeout_s
        while not self._serving():
            if self.proc.poll() is not None:
                raise VenueError(f"liqkit sim-server exited with status {self.proc.returncode}: {self.stderr.strip()}")
            if time.monotonic() > end:
                self.stop()
                raise VenueError(f"liqkit sim-server did not serve within {self.start_timeout_s:g} s: {self.stderr}")
            self._banner.wait(0.1)
        return self

    def _serving(self) -> bool:
        if not self._banner.is_set():
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def _read(self, stream: object, into: list[str], stdout: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            if stdout and _BANNER in line:
                self._banner.set()

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGINT, then wait (SIGKILL after ``timeout_s``); its exit status."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def __enter__(self) -> SimServerProcess:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
