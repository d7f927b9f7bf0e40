"""The engine's event records: the JSON each sends, read back into the same record, and bad input named."""

import json

import pytest

from liqkit.engine.events import (
    BalanceEvent,
    BookEvent,
    ConfigEvent,
    EventFormatError,
    FillEvent,
    HealthEvent,
    OrderEvent,
    SnapshotEvent,
    StateEvent,
    TickerEvent,
    event_from_json,
)
from liqkit.engine.views import Balance, EngineStatus, PairPnl, PnlPoint, Snapshot

STATUS = EngineStatus.model_validate(
    {
        "state": "running",
        "venue": "sim",
        "events": 3,
        "reconnects": 0,
        "loop_lag_ms": {"last": 0.1, "max": 0.4},
        "errors": [],
        "pairs": {
            "BTCUSDT": {
                "state": "quoting",
                "reason": "",
                "feed_age_s": 0.2,
                "open_orders": 2,
                "position": "0.001",
                "fills": 1,
            }
        },
        "rate_limits": {},
        "latency_us": {"n": 3, "p50_us": 9.0, "p99_us": 20.0, "max_us": 21.0},
    }
)
PNL = {
    "BTCUSDT": PairPnl(
        pnl=0.5,
        spread_capture=0.6,
        inventory_pnl=0.0,
        fees=0.1,
        position="0.001",
        volume=65.0,
        fills=1,
        quote_asset="USDT",
    )
}
EVENTS = [
    OrderEvent(
        symbol="BTCUSDT",
        client_id="lq.BTCUSDT.B0.1",
        side="BUY",
        price="65000.00",
        qty="0.00100",
        filled="0.00000",
        level=0,
        status="NEW",
        ts=1,
    ),
    FillEvent(
        symbol="BTCUSDT",
        client_id="lq.BTCUSDT.B0.1",
        side="BUY",
        price="65000.00",
        qty="0.00100",
        fee="0.0065",
        mid="65000.5",
        fee_asset="USDT",
        maker=True,
        ts=2,
    ),
    BalanceEvent(ts=3, balances={"USDT": Balance(free="100", locked="65")}),
    StateEvent(ts=4, symbol="BTCUSDT", state="paused", reason="stale feed"),
    ConfigEvent(ts=5, symbol="BTCUSDT", config={"symbol": "BTCUSDT", "levels": 2}, source="api"),
    TickerEvent(
        symbol="BTCUSDT",
        ts=6,
        bid="65000",
        ask="65001",
        spread_bps=0.15,
        our_bid=None,
        our_ask="65010",
        our_spread_bps=None,
        position="0",
        state="quoting",
    ),
    HealthEvent(ts=7, status=STATUS, pnl=PNL),
    SnapshotEvent(Snapshot(status=STATUS, pairs={}, orders=[], balances={}, fills=[], pnl=PNL)),
    # the active rebalance's: labelled, and the equity chart's history in a snapshot
    OrderEvent(symbol="BTCUSDT", client_id="lq.BTCUSDT.RB0.1", side="BUY", price="65000.00", qty="0.08",
               filled="0", level=0, status="PENDING_NEW", ts=8, purpose="rebalance"),
    FillEvent(symbol="BTCUSDT", client_id="lq.BTCUSDT.RB0.1", side="BUY", price="65000.00", qty="0.08", fee="1.04",
              mid="64999.995", fee_asset="USDT", maker=False, ts=9, purpose="rebalance"),
    SnapshotEvent(
        Snapshot(status=STATUS, pairs={}, orders=[], balances={}, fills=[], pnl=PNL, pnl_history={
            "BTCUSDT": [PnlPoint(ts=10, pnl=-1.5, spread_capture=0.25, inventory_pnl=-0.5, fees=0.2,
                                 rebalance_cost=1.05)]
        })
    ),
]  # fmt: skip


@pytest.mark.parametrize("ev", EVENTS, ids=lambda e: e.kind)
def test_each_event_reads_back_from_its_json(ev):
    wire = json.loads(json.dumps(ev.to_json()))
    assert wire["kind"] == ev.kind
    assert event_from_json(wire) == ev


def test_the_wire_keys_are_the_streams():
    keys = {ev.kind: set(ev.to_json()) for ev in EVENTS}
    assert keys["order"] == {
        "kind", "symbol", "client_id", "side", "price", "qty", "filled", "level", "status", "ts", "purpose",
    }  # fmt: skip
    assert keys["fill"] == {
        "kind", "symbol", "client_id", "side", "price", "qty", "fee", "mid", "fee_asset", "maker", "ts", "purpose",
    }  # fmt: skip
    assert keys["state"] == keys["config"] == {"kind", "ts", "symbol", "detail", "note"}
    assert EVENTS[3].to_json()["detail"] == "paused" and EVENTS[3].to_json()["note"] == "stale feed"
    assert keys["balance"] == {"kind", "ts", "balances"}
    assert EVENTS[2].to_json()["balances"] == {"USDT": {"free": "100", "locked": "65"}}
    assert keys["health"] == {"kind", "ts", "status", "pnl"}
    assert keys["snapshot"] == {"kind", "status", "pairs", "orders", "balances", "fills", "pnl", "pnl_history"}
    book = BookEvent(symbol="BTCUSDT", bid=6_500_000, ask=6_500_001, ts=9)
    assert event_from_json(book.to_json()) == book


def test_what_does_not_fit_is_named():
    with pytest.raises(EventFormatError, match="unknown event kind 'trade'"):
        event_from_json({"kind": "trade"})
    bad = EVENTS[0].to_json() | {"venue_id": 7}
    del bad["level"]
    with pytest.raises(EventFormatError, match=r"'order' event: missing \['level'\], unknown \['venue_id'\]"):
        event_from_json(bad)
    with pytest.raises(EventFormatError, match="'health' event"):
        event_from_json({"kind": "health", "ts": 1, "status": {"state": "running"}, "pnl": {}})
