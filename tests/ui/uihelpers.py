"""Helpers of the UI tests: an in-process engine on the simulated exchange, a real `liqkit serve`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO

from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.handle import LocalEngine
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.sim.venue import SimVenue

REPO = Path(__file__).resolve().parents[2]


def make_engine(
    tmp_path: Path, pairs: list[PairConfig] | None = None, speed: float = 20.0
) -> tuple[LocalEngine, EngineRunner, SimVenue]:
    """A LocalEngine on an EngineRunner on the simulated exchange, with a journal (not started)."""
    pairs = pairs or [
        PairConfig(symbol="BTCUSDT", spread="1bps", refresh_tolerance="0.5bps", size=Decimal("0.002")),
        PairConfig(symbol="ETHUSDT", spread="5bps", size=Decimal("0.05")),
    ]
    sim = SimConfig(latency_ms=1, balances={"BTC": Decimal(2), "ETH": Decimal(20), "USDT": Decimal(200_000)})
    venue = SimVenue([p.symbol for p in pairs], sim, speed=speed)
    runner = EngineRunner(venue, pairs, Journal.in_state_dir(tmp_path / "state"), timer_s=0.05)
    return LocalEngine(runner), runner, venue


async def wait_until(cond: Callable[[], object], seconds: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` on the running loop until true; AssertionError naming ``what`` after ``seconds``."""
    end = asyncio.get_running_loop().time() + seconds
    while not cond():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.02)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def start_dashboard(
    state_dir: Path, port: int, *extra: str, stderr: IO[str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`liqkit dashboard` (as ``python -m liqkit.dashboard``); (process, page URL with token, lines read).

    Its stderr goes to ``stderr`` (a file: a pipe nobody reads could fill), else nowhere; ``cwd`` runs it
    elsewhere than here (with this checkout first on its path)."""
    cmd = [sys.executable, "-m", "liqkit.dashboard", "--state-dir", str(state_dir), "--port", str(port), *extra]
    env = None
    if cwd is not None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    err = subprocess.DEVNULL if stderr is None else stderr
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=cwd, env=env)
    assert proc.stdout is not None
    lines = []
    for _ in range(5):
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("liqkit dashboard: http"):
            lines.append(proc.stdout.readline())
            return proc, line.split(": ", 1)[1].strip(), lines
        if not line:
            break
    proc.kill()
    raise AssertionError(f"the dashboard did not start: {lines}")
