"""Fixtures of the research tests: the shipped recording sliced small, a local Binance server in a thread,
and the liqkit command line with the research subcommands registered."""

import argparse
import asyncio
import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from liqkit.data.capture import load_sample
from liqkit.domain.config import SimConfig
from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "research-key-0123456789", "research-secret-abcdefghij"


@pytest.fixture(scope="session")
def two_minutes(sample_data):
    """The first two minutes of the shipped recording (fast enough for sweeps in tests)."""
    start = int(sample_data.book["ts_local"][0])
    return sample_data.slice_time(start, start + 120 * 10**9)


@contextlib.contextmanager
def local_server(faults: FaultPlan | None = None, speed: float = 5.0) -> Iterator[dict[str, Any]]:
    """A ``BinanceServer`` replaying the shipped BTCUSDT recording on 127.0.0.1 (a free port), run on its
    own event loop in a thread so that code calling ``asyncio.run`` (the CLI) can talk to it."""
    box: dict[str, Any] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def start() -> None:
        sim = SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(100_000)})
        server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, sim, {"BTCUSDT": load_sample()}, speed=speed, faults=faults)
        runner, url = await server.listen()
        box.update(server=server, runner=runner, url=url)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="binance-server", daemon=True)
    thread.start()
    assert ready.wait(15), "the local Binance server did not start"
    try:
        yield box
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)


@pytest.fixture
def liqkit_main(monkeypatch):
    """``liqkit.cli.main`` with ``record`` and ``convert`` registered (as cli.py will do)."""
    from liqkit import cli
    from liqkit.research.commands import register

    original = cli.build_parser

    def build() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "record" not in sub.choices:
            register(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    return cli.main


@pytest.fixture
def serve_binance():
    """``local_server`` (a context manager: ``with serve_binance(faults) as srv: srv["url"]``)."""
    return local_server
