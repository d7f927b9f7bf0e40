"""The live engine on recorded data in virtual time: ``EngineRunner`` on a ``ReplayVenue``.

``liqkit trade --data PATH --clock virtual`` runs this: the async runner that trades on Binance —
its execution, timer, journal and all — on the simulated exchange replaying ``PATH``, as fast as the
machine allows, and gives the same ``BacktestResult`` (the same metrics, from the same records) as
``liqkit backtest``. It is the proof of the one rule: the parity tests hold both to the same orders,
fills, position and PnL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from liqkit.backtest.result import BacktestResult, build_result
from liqkit.data.feed import MarketData
from liqkit.domain.config import LiqkitConfig, PairConfig
from liqkit.engine.latency import LatencyModel
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.sim.replay import ReplayVenue


class _Records:
    """Keeps what the runner drains from the core (its tap) until the replay's end."""

    def __init__(self) -> None:
        self.order_log: list[Any] = []
        self.fill_log: list[Any] = []
        self.event_log: list[Any] = []
        self.open = True

    def __call__(self, orders: list[Any], fills: list[Any], events: list[Any]) -> None:
        if self.open:
            self.order_log += orders
            self.fill_log += fills
            self.event_log += events


def run_replay(
    data: MarketData | Sequence[MarketData],
    config: LiqkitConfig | PairConfig | dict[str, Any] | None = None,
    *,
    state_dir: str | Path | None = None,
    latency: LatencyModel | None = None,
) -> BacktestResult:
    """Run the live runner on ``data`` in virtual time; the journal goes to ``state_dir`` if given.
    ``latency`` replaces the latency model the config's ``[sim]`` table names with any other."""
    return asyncio.run(replay_async(data, config, state_dir=state_dir, latency=latency))


async def replay_async(
    data: MarketData | Sequence[MarketData],
    config: LiqkitConfig | PairConfig | dict[str, Any] | None = None,
    *,
    state_dir: str | Path | None = None,
    latency: LatencyModel | None = None,
) -> BacktestResult:
    """``run_replay`` inside a running event loop (a notebook's)."""
    from liqkit.backtest import _as_config

    datas = [data] if isinstance(data, MarketData) else list(data)
    if not datas:
        raise ValueError("data: give at least one MarketData")
    cfg = _as_config(config, datas)
    pairs = [cfg.pairs.get(md.symbol) or PairConfig(symbol=md.symbol) for md in datas]
    venue = ReplayVenue(datas, cfg.sim, latency, cancel_replace=cfg.engine.replace_mode == "cancel-replace")
    journal = Journal.in_state_dir(state_dir, engine_id="replay") if state_dir is not None else None
    # the backtest's run nonce, so that both runs' client ids compare one to one
    runner = EngineRunner(venue, pairs, journal, cfg.engine.risk, clock=venue.clock, run_nonce="bt00")
    records = _Records()
    runner.taps.append(records)
    t0 = time.perf_counter()
    try:
        await runner.start(run=[p.symbol for p in pairs])
        await venue.done.wait()
        if venue.error is not None:
            raise venue.error
        runner._drain()
        records.open = False  # the data is replayed: the stop that follows is not part of the run
        wall = time.perf_counter() - t0
    finally:
        await runner.stop()
        if journal is not None:
            journal.close()
    return build_result(records, [], datas, venue.events_replayed, wall)
