"""Build the venue a configuration asks for."""

from __future__ import annotations

from pathlib import Path

from liqkit.domain.config import LiqkitConfig
from liqkit.engine.ports import Venue


def make_venue(cfg: LiqkitConfig, symbols: list[str], speed: float = 1.0, keys_file: str | Path | None = None) -> Venue:
    """``sim`` (no keys, no network), ``binance-testnet`` (or any Binance-compatible ``base_url``),
    ``binance-demo`` (Binance's Demo Mode), or ``binance-live`` (only with ``allow_live = true`` and
    ``LIQKIT_ALLOW_LIVE=1``). API keys from the environment, else from ``.env``; from ``keys_file`` alone
    when it is given."""
    venue = cfg.engine.venue
    if venue == "sim":
        from liqkit.venues.sim.venue import SimVenue

        return SimVenue(symbols, cfg.sim, speed=speed, cancel_replace=cfg.engine.replace_mode == "cancel-replace")
    from liqkit.venues.binance import BinanceVenue
    from liqkit.venues.keys import load_api_keys

    keys = load_api_keys() if keys_file is None else load_api_keys(keys_file, environment=False)
    return BinanceVenue(
        symbols,
        keys.key,
        keys.secret,
        private_key=keys.private_key,
        order_entry=cfg.engine.order_entry,
        cancel_replace=cfg.engine.replace_mode == "cancel-replace",
        stp_modes={p.symbol: p.stp_mode for p in cfg.pairs.values() if p.stp_mode},
        base_url=cfg.engine.base_url,
        live=venue == "binance-live",
        demo=venue == "binance-demo",
        allow_live=cfg.engine.allow_live,
    )
