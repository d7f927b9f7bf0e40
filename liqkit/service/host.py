"""The engine a service hosts: built from a config, bound to a state directory that only it may use.

The state directory holds the journal (``journal.sqlite``), the token (``token``, mode 0600), a lock
(``service.lock``: a second service on the same directory refuses to start) and ``service.json``
(the URL and pid clients use to find the service).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import secrets
from pathlib import Path
from typing import IO, Any

from liqkit.domain.config import LiqkitConfig
from liqkit.domain.errors import ConfigError, LiqkitError
from liqkit.engine.handle import LocalEngine
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.service.defaults import DEFAULT_PAIRS, default_config
from liqkit.venues.factory import make_venue
from liqkit.venues.ratelimit import declared_limits

__all__ = [
    "DEFAULT_PAIRS",
    "ServiceHost",
    "StateDirBusy",
    "default_config",
    "make_state_dir",
    "read_service_info",
    "read_token",
]


class StateDirBusy(LiqkitError):
    """Another service holds the state directory."""


def make_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` if missing; a ``LiqkitError`` naming it when it is a file or cannot be made."""
    if state_dir.exists() and not state_dir.is_dir():
        raise LiqkitError(
            f"state directory {state_dir} is a file, not a directory: give a folder (--state-dir, or engine.state_dir "
            "in the config)"
        )
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LiqkitError(
            f"state directory {state_dir} cannot be created ({e.strerror}): give another one (--state-dir, or "
            "engine.state_dir in the config)"
        ) from None


def read_token(state_dir: Path) -> str:
    """The token a service on ``state_dir`` accepts."""
    p = Path(state_dir) / "token"
    try:
        return p.read_text().strip()
    except OSError as e:
        raise LiqkitError(
            f"no service token at {p} ({e.strerror}): is `liqkit serve` running on {state_dir}?"
        ) from None


def read_service_info(state_dir: Path) -> dict[str, Any]:
    """``service.json`` of the service on ``state_dir`` (its url and pid)."""
    p = Path(state_dir) / "service.json"
    try:
        return json.loads(p.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        raise LiqkitError(
            f"no running service found in {state_dir} (no {p.name}); start one with `liqkit serve`"
        ) from None


class ServiceHost:
    """Owns the state directory and the engine for the life of a service."""

    def __init__(
        self, cfg: LiqkitConfig, state_dir: Path, token: str | None = None, speed: float = 1.0, timer_s: float = 1.0
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ConfigError(f"speed = {speed}: give a finite number above 0 (1 is real time)")
        self.cfg = cfg
        self.state_dir = Path(state_dir)
        make_state_dir(self.state_dir)
        self._lock: IO[str] | None = None
        self._acquire()
        try:
            pairs = list(cfg.pairs.values())
            # first the venue: a refused live opt-in or missing keys leave the state directory as it was
            self.venue = make_venue(cfg, [p.symbol for p in pairs], speed=speed)
            self.token = token or secrets.token_urlsafe(24)
            tok = self.state_dir / "token"
            with contextlib.suppress(FileNotFoundError):
                tok.unlink()
            fd = os.open(tok, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.token + "\n")
            self.journal = Journal.in_state_dir(self.state_dir)
        except BaseException:
            self._release()
            raise
        self.runner = EngineRunner(self.venue, pairs, self.journal, cfg.engine.risk, timer_s=timer_s)
        self.engine = LocalEngine(self.runner, rate_limits=lambda: declared_limits(self.venue))

    def _release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _acquire(self) -> None:
        path = self.state_dir / "service.lock"
        f = open(path, "a+")  # noqa: SIM115 - held open for the life of the service
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            info = ""
            with contextlib.suppress(LiqkitError):
                s = read_service_info(self.state_dir)
                info = f" (pid {s.get('pid')}, {s.get('url')})"
            raise StateDirBusy(
                f"another liqkit service is running on state directory {self.state_dir}{info}; "
                "stop it, or give this one another --state-dir"
            ) from None
        self._lock = f

    def announce(self, url: str) -> None:
        """Write ``service.json`` so clients can find this service."""
        info = {"url": url, "pid": os.getpid(), "venue": self.venue.name}
        (self.state_dir / "service.json").write_text(json.dumps(info))

    async def start(self) -> None:
        """Connect, cancel liqkit orders a crash may have left open, and wait for commands."""
        await self.runner.start()

    async def stop(self) -> None:
        """Stop quoting, cancel every liqkit order, flush the journal, release the state directory."""
        try:
            await self.runner.stop()
        finally:
            self.journal.close()
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / "service.json").unlink()
            self._release()
