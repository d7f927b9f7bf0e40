"""The curated public surface: pinned, and every name importable."""

import subprocess
import sys

import liqkit

PINNED = [
    "BacktestResult",
    "ConfigError",
    "DataError",
    "EngineConfig",
    "EngineCore",
    "Journal",
    "LiqkitConfig",
    "LiqkitError",
    "MarketData",
    "PairConfig",
    "Side",
    "SimConfig",
    "SimExchange",
    "SymbolRules",
    "__version__",
    "default_rules",
    "load_config",
    "load_market_data",
    "load_sample",
    "parse_exchange_info",
    "run_backtest",
    "synthetic_feed",
]


def test_all_is_pinned():
    assert sorted(liqkit.__all__) == sorted(PINNED)


def test_every_public_name_resolves():
    for name in liqkit.__all__:
        assert getattr(liqkit, name) is not None, name


def test_import_is_cheap():
    code = "import sys, liqkit; print('pandas' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
