"""The parts of ``liqkit calibrate`` that need no venue: queue model names, our footprint taken out of a
recording's depth, and live fills matched with a model's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqkit.data.depth import DIFF, SNAPSHOT
from liqkit.data.feed import MarketData
from liqkit.domain.errors import ConfigError
from liqkit.domain.rules import default_rules
from liqkit.research.calibrate import DEFAULT_MODELS, QueueModelSpec, parse_models
from liqkit.research.calibration_report import match_fills
from liqkit.research.footprint import order_footprint, remove_footprint

BTC = default_rules("BTCUSDT")  # tick 0.01, step 0.00001


def test_model_names_and_their_errors():
    specs = parse_models(DEFAULT_MODELS)
    assert [s.label for s in specs] == [
        "risk-averse",
        "prob-log",
        "prob-power:1",
        "prob-power:2",
        "prob-power:3",
        "prob-power:4",
    ]
    assert parse_models("prob-power, prob-power:3,risk-averse") == [
        QueueModelSpec("prob-power", 3.0),
        QueueModelSpec("risk-averse"),
    ]
    assert parse_models(["prob-power:2.5"])[0].label == "prob-power:2.5"
    for bad, says in (
        ("", "at least one queue model"),
        ("fifo", "'fifo' is not a queue model"),
        ("prob-log:2", "only prob-power takes a parameter"),
        ("prob-power:0", "exponent must be > 0"),
    ):
        with pytest.raises(ConfigError, match=says):
            parse_models(bad)


def _market(rows: list[tuple[int, int, int, int, int]]) -> MarketData:
    """BTCUSDT with one book row and the depth ``rows`` (ts, reset, side, price ticks, qty steps)."""
    book = {
        "ts_local": np.array([0]),
        "ts_exchange": np.array([0]),
        "bid": np.array([6_000_000]),
        "bid_qty": np.array([10]),
        "ask": np.array([6_000_010]),
        "ask_qty": np.array([10]),
    }
    trades = {k: np.zeros(0, np.int64) for k in ("ts_local", "ts_exchange", "price", "qty", "aggressor", "trade_id")}
    depth = {
        "ts_local": np.array([r[0] for r in rows]),
        "update_id": np.arange(1, len(rows) + 1),
        "reset": np.array([r[1] for r in rows]),
        "side": np.array([r[2] for r in rows]),
        "price": np.array([r[3] for r in rows]),
        "qty": np.array([r[4] for r in rows]),
    }
    return MarketData.from_columns(BTC, book, trades, "test", depth=depth)


def _orders(rows: list[tuple[int, str, str, str, str, str, str]]) -> pd.DataFrame:
    """Journal order rows (ts, client id, side, price, qty, filled, status), as ``Journal.orders`` gives them."""
    df = pd.DataFrame(rows, columns=["ts_local", "client_id", "side", "price", "qty", "filled", "status"])
    df.insert(0, "id", range(1, len(df) + 1))
    df["symbol"] = "BTCUSDT"
    for c in ("price", "qty", "filled"):
        df[f"{c}_text"] = df[c]
        df[c] = df[c].astype(float)
    return df


def test_our_resting_quantity_is_taken_off_the_depth_rows_while_the_order_may_rest():
    bid = 5_999_990  # 59999.90
    md = _market(
        [
            (0, SNAPSHOT, 1, bid, 500),  # before our order: 500 steps of others
            (100, DIFF, 1, bid, 700),  # ours (200) joined
            (200, DIFF, 1, bid, 650),  # 50 of ours filled
            (300, DIFF, 1, bid, 520),  # others left (130); ours 150 still there
            (400, DIFF, 1, bid, 370),  # ours cancelled: others' 370 remain
            (410, DIFF, -1, 6_000_050, 90),  # another price, another side: untouched
        ]
    )
    orders = _orders(
        [
            (90, "a", "BUY", "59999.90", "0.002", "0", "PENDING_NEW"),
            (95, "a", "BUY", "59999.90", "0.002", "0", "NEW"),
            (190, "a", "BUY", "59999.90", "0.002", "0.0005", "PARTIALLY_FILLED"),
            (350, "a", "BUY", "59999.90", "0.002", "0.0005", "PENDING_CANCEL"),
            (390, "a", "BUY", "59999.90", "0.002", "0.0005", "CANCELED"),
        ]
    )
    times, level = order_footprint(orders, md)[(1, bid)]
    assert times.tolist() == [90, 191, 391] and level.tolist() == [200, 150, 0]
    out, removed = remove_footprint(md, orders)
    assert out.depth["qty"].tolist() == [500, 500, 500, 370, 370, 90]
    assert removed == 200 + 150 + 150
    assert md.depth["qty"].tolist() == [500, 700, 650, 520, 370, 90]  # the input is left as it was
    assert out.meta["footprint_removed"] == removed


def test_a_row_showing_less_than_ours_is_clamped_at_zero_and_no_orders_change_nothing():
    md = _market([(0, SNAPSHOT, -1, 6_000_020, 30)])
    orders = _orders([(-5, "s", "SELL", "60000.20", "0.001", "0", "NEW")])  # 100 steps, the row shows 30
    out, removed = remove_footprint(md, orders)
    assert out.depth["qty"].tolist() == [0] and removed == 30
    same, none = remove_footprint(md, orders.iloc[0:0])
    assert same is md and none == 0


def _fills(rows: list[tuple[float, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [int(t * 1e9) for t, _, _ in rows],
            "symbol": "BTCUSDT",
            "side": [s for _, s, _ in rows],
            "level": [lv for _, _, lv in rows],
        }
    )


def test_live_fills_match_model_fills_of_the_same_side_and_level_within_a_second_once_each():
    live = _fills([(10.0, "BUY", 0), (10.5, "BUY", 0), (20.0, "SELL", 1), (30.0, "SELL", 0), (40.0, "BUY", 2)])
    model = _fills(
        [
            (10.2, "BUY", 0),  # nearest to 10.0 ... and to 10.5 (0.3 s): one of them only
            (20.9, "SELL", 1),  # within 1 s
            (30.2, "BUY", 0),  # the other side: no match for the 30.0 sell
            (41.5, "BUY", 2),  # 1.5 s: too late
        ]
    )
    assert match_fills(live, model).tolist() == [True, False, True, False, False]
    assert match_fills(live, model, window_s=2.0).tolist() == [True, False, True, False, True]
    assert not match_fills(live, model.iloc[0:0]).any()
