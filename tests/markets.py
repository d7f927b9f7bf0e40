"""Markets the sim-server tests replay, and a way to stop one still: shared by the REST and WebSocket API tests."""

from __future__ import annotations

import asyncio

import numpy as np
from processes import until

from liqkit.data.feed import MarketData
from liqkit.domain.rules import default_rules
from liqkit.venues.binance_server.server import BinanceServer


def _still_book(seconds: float) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
    """Rows every 0.1 s for ``seconds``: their count, times, and the still book (60000.00 x 0.3 BTC bid,
    60000.01 x 0.2 BTC ask) in BTCUSDT's units."""
    n = int(seconds * 10)
    ts = 1_704_067_200_000_000_000 + np.arange(n, dtype=np.int64) * 100_000_000
    book = {
        "ts_local": ts,
        "ts_exchange": ts,
        "bid": np.full(n, 6_000_000),
        "bid_qty": np.full(n, 30_000),
        "ask": np.full(n, 6_000_001),
        "ask_qty": np.full(n, 20_000),
    }
    return n, ts, book


def still_feed(seconds: float = 30.0) -> MarketData:
    """BTCUSDT with a book that never moves (60000.00 x 0.3 BTC bid, 60000.01 x 0.2 BTC ask) and a
    trade every 0.1 s alternating between them: the touch a market order meets is known exactly."""
    r = default_rules("BTCUSDT")
    n, ts, book = _still_book(seconds)
    side = np.where(np.arange(n) % 2 == 0, 1, -1)
    trades = {
        "ts_local": ts + 50_000_000,
        "ts_exchange": ts + 50_000_000,
        "price": np.where(side > 0, 6_000_001, 6_000_000),
        "qty": np.full(n, 7),
        "aggressor": side,
        "trade_id": np.arange(1, n + 1),
    }
    return MarketData.from_columns(r, book, trades, "still")


async def settle(server: BinanceServer) -> None:
    """Stop the replay and wait until the server has handled all it was sent: the market is still after this."""
    server.venue.pause_feed()
    await until(lambda: server.venue._queue.empty(), 60, "the server to handle what the feed sent")
    await asyncio.sleep(0)  # the event taken last off the queue is handled within this turn


def drifting_feed(ticks_per_trade: int, seconds: float = 300.0, book_follows: bool = False) -> MarketData:
    """BTCUSDT with the still book (60000.00 / 60000.01) and a trade of 0.01 BTC every 0.1 s, each
    ``ticks_per_trade`` cents from the one before (from 60000.00; up: buyers take, down: sellers take):
    the last trade price walks away from the book, so a stop or a far limit order is reached in time.
    ``book_follows``: the book walks with the trades instead (the ask at the trade price, the bid a
    cent below), so the mid and the last trade stay a half cent apart."""
    r = default_rules("BTCUSDT")
    n, ts, book = _still_book(seconds)
    prices = 6_000_000 + np.arange(n, dtype=np.int64) * ticks_per_trade
    if book_follows:
        book["ask"], book["bid"] = prices, prices - 1
    trades = {
        "ts_local": ts + 50_000_000,
        "ts_exchange": ts + 50_000_000,
        "price": prices,
        "qty": np.full(n, 1_000),
        "aggressor": np.full(n, 1 if ticks_per_trade > 0 else -1),
        "trade_id": np.arange(1, n + 1),
    }
    return MarketData.from_columns(r, book, trades, "drifting")
