"""liqkit: provide liquidity on Binance spot pairs, run and researched from Jupyter.

The public surface is listed in ``__all__`` and imported lazily (``import liqkit`` stays cheap)::

    import liqkit
    data = liqkit.load_sample()                      # the real BTCUSDT recording shipped with liqkit
    result = liqkit.run_backtest(data, liqkit.PairConfig(symbol="BTCUSDT", spread="2bps"))
    result.metrics["pnl"]
"""

from __future__ import annotations

from liqkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    # configuration
    "LiqkitConfig": "liqkit.domain.config",
    "EngineConfig": "liqkit.domain.config",
    "PairConfig": "liqkit.domain.config",
    "SimConfig": "liqkit.domain.config",
    "load_config": "liqkit.domain.config",
    # domain
    "Side": "liqkit.domain.types",
    "SymbolRules": "liqkit.domain.rules",
    "default_rules": "liqkit.domain.rules",
    "parse_exchange_info": "liqkit.domain.rules",
    # errors
    "LiqkitError": "liqkit.domain.errors",
    "ConfigError": "liqkit.domain.errors",
    "DataError": "liqkit.domain.errors",
    # data
    "MarketData": "liqkit.data.feed",
    "load_market_data": "liqkit.data.loader",
    "load_sample": "liqkit.data.capture",
    "synthetic_feed": "liqkit.data.synthetic",
    # engine, exchange, backtest
    "EngineCore": "liqkit.engine.core",
    "SimExchange": "liqkit.venues.sim.exchange",
    "run_backtest": "liqkit.backtest",
    "BacktestResult": "liqkit.backtest.result",
    "Journal": "liqkit.journal",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


__getattr__, __dir__ = lazy_exports("liqkit", _EXPORTS, globals())
