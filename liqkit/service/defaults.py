"""What ``liqkit serve`` (and ``liqkit dashboard``, ``liqkit preflight``) run without a config: the
simulated exchange with BTCUSDT and ETHUSDT configured and stopped, 20 USDT a quote. Its own module,
light to import: ``liqkit preflight`` reads it without loading the service (nor the journal's pandas)."""

from __future__ import annotations

from decimal import Decimal

from liqkit.domain.config import LiqkitConfig, PairConfig

DEFAULT_PAIRS = ("BTCUSDT", "ETHUSDT")


def default_config() -> LiqkitConfig:
    """The simulated exchange with BTCUSDT and ETHUSDT configured (and stopped)."""
    return LiqkitConfig(
        pairs={s: PairConfig(symbol=s, size=Decimal(20), size_unit="quote") for s in DEFAULT_PAIRS}  # 20 USDT a quote
    )
