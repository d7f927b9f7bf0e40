"""Research helpers: market statistics, analytics of our fills, backtest reports and parameter sweeps (see the
research notebook).

Imported lazily so ``import liqkit.research`` stays cheap; charts need plotly (``liqkit[notebook]``) and
sweeps on a cluster need ``distributed`` (``liqkit[research]``)::

    from liqkit.research import backtest_report, fill_table, markouts, spreads, sweep
"""

from __future__ import annotations

from liqkit._lazy import lazy_exports

_EXPORTS = {
    "spreads": "liqkit.research.stats",
    "spread_distribution": "liqkit.research.stats",
    "spread_summary": "liqkit.research.stats",
    "spread_figure": "liqkit.research.stats",
    "trade_intensity": "liqkit.research.stats",
    "fit_intensity": "liqkit.research.stats",
    "intensity_figure": "liqkit.research.stats",
    "volatility": "liqkit.research.stats",
    "volatility_summary": "liqkit.research.stats",
    "fill_table": "liqkit.research.fills",
    "markouts": "liqkit.research.fills",
    "fills_per_level": "liqkit.research.fills",
    "time_to_fill": "liqkit.research.fills",
    "markout_figure": "liqkit.research.fills",
    "time_to_fill_figure": "liqkit.research.fills",
    "BacktestReport": "liqkit.research.report",
    "backtest_report": "liqkit.research.report",
    "sweep": "liqkit.research.sweep",
    "grid_points": "liqkit.research.sweep",
    "random_points": "liqkit.research.sweep",
    "Uniform": "liqkit.research.sweep",
    "heatmap": "liqkit.research.sweep",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("liqkit.research", _EXPORTS, globals())
