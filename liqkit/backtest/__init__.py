"""Backtests: the engine on the simulated exchange, in virtual time, on recorded or synthetic data.

>>> from liqkit.backtest import run_backtest
>>> from liqkit.data.capture import load_sample
>>> result = run_backtest(load_sample())            # doctest: +SKIP
>>> result.metrics["pnl"], result.fills.head()      # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from liqkit.backtest.driver import Driver
from liqkit.backtest.result import BacktestResult, build_result
from liqkit.data.feed import MarketData, merge_depth, merge_events
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig
from liqkit.domain.errors import ConfigError
from liqkit.engine.core import EngineCore
from liqkit.engine.latency import LatencyModel
from liqkit.venues.sim.latency import latency_model
from liqkit.venues.sim.matching import sim_exchange

__all__ = ["BacktestResult", "run_backtest"]

log = logging.getLogger("liqkit.backtest")


def run_backtest(
    data: MarketData | Sequence[MarketData],
    config: LiqkitConfig | PairConfig | dict[str, Any] | None = None,
    *,
    sim: SimConfig | None = None,
    sample_every_s: float = 1.0,
    progress: Callable[[int], None] | None = None,
    latency: LatencyModel | None = None,
) -> BacktestResult:
    """Run the engine on ``data`` (one or several symbols) and return tables and metrics.

    ``config`` is a whole ``LiqkitConfig`` (its ``[sim]`` section sets the exchange), one
    ``PairConfig`` (used for the data's symbol), a dict of pair settings, or None for defaults.
    A symbol without a config section is quoted with ``PairConfig`` defaults (a warning on the
    ``liqkit.backtest`` logger says which); a section for a symbol the data lacks is a ConfigError.
    ``latency`` replaces the latency model the config's ``[sim]`` table names with any other.
    """
    datas = [data] if isinstance(data, MarketData) else list(data)
    if not datas:
        raise ValueError("data: give at least one MarketData")
    cfg = _as_config(config, datas)
    simcfg = sim or cfg.sim
    core = EngineCore(  # amends keep priority, as on the simulated exchange
        cfg.engine.risk,
        run_nonce="bt00",
        amend_keeps_priority=True,
        cancel_replace=cfg.engine.replace_mode == "cancel-replace",
    )
    exch = sim_exchange(simcfg)
    for md in datas:
        pc = cfg.pairs.get(md.symbol) or PairConfig(symbol=md.symbol)
        core.add_pair(pc, md.rules)
        exch.add_symbol(md.rules)
    events = merge_events(datas)
    t0 = int(events[2][0]) if len(events[2]) else 0
    model = latency or latency_model(simcfg, t0, int(events[2][-1]) if len(events[2]) else 0)
    driver = Driver(core, exch, model, int(sample_every_s * 1e9))
    driver.timeline.load_depth(merge_depth(datas))  # first, as the replay venue does: the same item order
    driver.start([md.symbol for md in datas], t0)
    stats = driver.run(events, progress)
    return build_result(core, stats.samples, datas, stats.events, stats.wall_s)


def _as_config(config: LiqkitConfig | PairConfig | dict[str, Any] | None, datas: list[MarketData]) -> LiqkitConfig:
    """The whole config of a run on ``datas``: every config section must name a symbol of the data
    (ConfigError otherwise); a symbol without a section runs on defaults, said once in the log."""
    from liqkit.domain.config import defaults_note, parse_config

    if config is None:
        cfg = LiqkitConfig()
    elif isinstance(config, LiqkitConfig):
        cfg = config
    elif isinstance(config, PairConfig):
        cfg = LiqkitConfig(pairs={config.symbol: config})
    elif isinstance(config, dict):
        if "pairs" in config or "engine" in config or "sim" in config:
            cfg = parse_config(config)
        else:
            cfg = parse_config({"pairs": {md.symbol: dict(config) for md in datas}})
    else:
        raise TypeError(f"config: expected LiqkitConfig, PairConfig, dict or None, got {type(config).__name__}")
    symbols = [md.symbol for md in datas]
    stray = [key for key in cfg.pairs if key not in symbols]
    if stray:
        sections = ", ".join(f"[pairs.{key}]" for key in stray)
        raise ConfigError(
            f"config section {sections}: the data has no {', '.join(stray)} (it holds {', '.join(symbols)}); "
            "name the data's symbol in the section, or load data of that symbol"
        )
    note = defaults_note(cfg, symbols, None if config is None else "the config")
    if note:
        log.warning("liqkit: %s", note)
    return cfg


def bench_config(balances: dict[str, Decimal] | None = None) -> LiqkitConfig:
    """The common benchmark's reference strategy: buy at touch - 2 ticks, sell at touch + 2 ticks,
    0.001 BTC, replace when more than 5 ticks off, trade-through fills, no latency, no fees."""
    return LiqkitConfig(
        sim=SimConfig(
            fill_model="trade-through",
            maker_fee_bps=Decimal(0),
            taker_fee_bps=Decimal(0),
            latency_ms=0,
            balances=balances or {"BTC": Decimal(1000), "USDT": Decimal(100_000_000)},
        ),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                reference="touch",
                bid_spread="2ticks",  # type: ignore[arg-type]
                ask_spread="2ticks",  # type: ignore[arg-type]
                size=Decimal("0.001"),
                refresh_tolerance="5ticks",  # type: ignore[arg-type]
                post_only=True,
            )
        },
    )
