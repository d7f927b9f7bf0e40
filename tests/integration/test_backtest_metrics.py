"""Backtest metrics pinned to their definition: the result's metrics equal the pandas computation
over its own tables (the way they were computed before metrics came from columns), key for key and
value for value, on the shipped recording and on a run of two pairs with different ticks and steps."""

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liqkit.backtest import run_backtest
from liqkit.data.feed import MarketData
from liqkit.data.synthetic import synthetic_feed
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig

# ---- the reference: metrics from the result's DataFrames, as liqkit computed them before ----------


def _mid_at(book_ts: np.ndarray, mid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    i = np.searchsorted(book_ts, ts, side="right") - 1
    out = np.where(i >= 0, mid[np.clip(i, 0, len(mid) - 1)], np.nan) if len(mid) else np.full(len(ts), np.nan)
    return out.astype(float)


def _pnl_split(fills: pd.DataFrame, book_ts: np.ndarray, mid: np.ndarray) -> dict[str, float]:
    if fills.empty or not len(mid):
        return {"pnl": 0.0, "spread_capture": 0.0, "inventory_pnl": 0.0, "fees": 0.0, "rebalance_cost": 0.0}
    sign = fills["side_sign"].to_numpy(float)
    px = fills["price"].to_numpy(float)
    qty = fills["qty"].to_numpy(float)
    m = _mid_at(book_ts, mid, fills["ts"].to_numpy(np.int64))
    rb = (fills["purpose"] == "rebalance").to_numpy()
    fee = fills["fee"].to_numpy(float)
    cash = float(np.sum(-sign * px * qty))
    pos = float(np.sum(sign * qty))
    edge = sign * (m - px) * qty
    if rb.any():  # the rebalance's fills: their spread paid and fees on a line of their own
        fees = float(np.sum(fee[~rb]))
        pnl = cash + pos * float(mid[-1]) - fees - float(np.sum(fee[rb]))
        spread = float(np.nansum(edge[~rb]))
        cost = float(np.sum(fee[rb]) - np.nansum(edge[rb]))
    else:
        fees = float(fills["fee"].sum())
        pnl = cash + pos * float(mid[-1]) - fees
        spread = float(np.nansum(edge))
        cost = 0.0
    return {
        "pnl": pnl,
        "spread_capture": spread,
        "inventory_pnl": pnl + fees + cost - spread,
        "fees": fees,
        "rebalance_cost": cost,
    }


def _markouts(fills: pd.DataFrame, book_ts: np.ndarray, mid: np.ndarray) -> dict[str, float | None]:
    horizons = (1, 10, 60)
    if fills.empty or not len(book_ts):
        return {f"markout_{h}s_bps": None for h in horizons}
    out: dict[str, float | None] = {}
    ts = fills["ts"].to_numpy(np.int64)
    sign = fills["side_sign"].to_numpy(float)
    px = fills["price"].to_numpy(float)
    for h in horizons:
        later = ts + h * 1_000_000_000
        ok = later <= int(book_ts[-1])
        if not ok.any():
            out[f"markout_{h}s_bps"] = None
            continue
        m = _mid_at(book_ts, mid, later[ok])
        out[f"markout_{h}s_bps"] = float(np.mean(sign[ok] * (m - px[ok]) / px[ok]) * 1e4)
    return out


def _pair_metrics(orders: pd.DataFrame, fills: pd.DataFrame, md: MarketData) -> dict[str, Any]:
    f = fills[fills["symbol"] == md.symbol]
    o = orders[orders["symbol"] == md.symbol]
    bts = md.book["ts_local"]
    mid = (md.book["bid"] + md.book["ask"]) * (float(md.rules.tick) / 2)
    st = o["status"] if not o.empty else pd.Series(dtype=str)
    m: dict[str, Any] = dict(_pnl_split(f, bts, mid))
    m["orders_placed"] = int((st == "PENDING_NEW").sum())
    m["orders_cancelled"] = int((st == "CANCELED").sum())
    m["orders_filled"] = int((st == "FILLED").sum())
    m["orders_rejected"] = int((st == "REJECTED").sum())
    m["fills"] = len(f)
    m["rebalance_fills"] = int((f["purpose"] == "rebalance").sum()) if len(f) else 0
    m["exit_fills"] = int((f["purpose"] == "exit").sum()) if len(f) else 0
    m["buy_fills"] = int((f["side"] == "BUY").sum())
    m["sell_fills"] = int((f["side"] == "SELL").sum())
    m["volume"] = float(f["notional"].sum()) if len(f) else 0.0
    m["fill_rate"] = m["orders_filled"] / m["orders_placed"] if m["orders_placed"] else 0.0
    pos = np.cumsum(f["side_sign"].to_numpy(float) * f["qty"].to_numpy(float))
    m["max_inventory"] = float(np.max(np.abs(pos))) if len(f) else 0.0
    m["final_position"] = float((f["side_sign"] * f["qty"]).sum()) if len(f) else 0.0
    m.update(_markouts(f, bts, mid))
    return m


def reference_metrics(res: Any, datas: list[MarketData]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Total and per-pair metrics computed with pandas from ``res``'s tables."""
    per_pair = {md.symbol: _pair_metrics(res.orders, res.fills, md) for md in datas}
    m = res.metrics
    total: dict[str, Any] = {"events": m["events"], "events_per_s": m["events_per_s"], "wall_s": m["wall_s"]}
    if len(datas) == 1:
        total.update(per_pair[datas[0].symbol])
    else:
        for key in (
            "pnl",
            "spread_capture",
            "inventory_pnl",
            "fees",
            "rebalance_cost",
            "rebalance_fills",
            "exit_fills",
            "volume",
            "fills",
            "buy_fills",
            "sell_fills",
            "orders_placed",
            "orders_cancelled",
            "orders_filled",
            "orders_rejected",
        ):
            total[key] = sum(p[key] for p in per_pair.values())
    total["symbols"] = [md.symbol for md in datas]
    first = min(int(md.book["ts_local"][0]) for md in datas)
    total["start"] = str(pd.Timestamp(first, unit="ns", tz="UTC"))
    total["duration_s"] = float((max(int(md.book["ts_local"][-1]) for md in datas) - first) / 1e9)
    return total, per_pair


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)  # same keys, in the same order (the CLI prints them in this order)
    for k in a:
        assert a[k] == b[k] and type(a[k]) is type(b[k]), (k, a[k], b[k])


# ---- the runs ----------------------------------------------------------------------------------


def test_metrics_on_the_shipped_recording_are_the_tables_metrics(sample_data):
    cfg = PairConfig(symbol="BTCUSDT", spread="1bps", levels=2, skew=0.5, refresh_tolerance="0.5bps")
    res = run_backtest(sample_data, cfg, sim=SimConfig(maker_fee_bps=Decimal(1), latency_ms=5))
    total, per_pair = reference_metrics(res, [sample_data])
    assert total["fills"] > 20 and total["buy_fills"] and total["sell_fills"] and total["fees"] > 0
    assert total["markout_60s_bps"] is not None
    _same(res.metrics, total)
    assert list(res.per_pair) == ["BTCUSDT"]
    _same(res.per_pair["BTCUSDT"], per_pair["BTCUSDT"])


def test_metrics_of_two_pairs_are_the_tables_metrics():
    btc = synthetic_feed("BTCUSDT", seconds=240, seed=11, volatility_bps=3, trade_rate=0.6)
    eth = synthetic_feed(
        "ETHUSDT", seconds=200, seed=12, volatility_bps=3, trade_rate=0.6, start_ns=int(btc.book["ts_local"][0]) + 7
    )
    cfg = LiqkitConfig(
        sim=SimConfig(fill_model="trade-through", maker_fee_bps=Decimal("0.5")),
        pairs={
            "BTCUSDT": PairConfig(symbol="BTCUSDT", reference="touch", spread="1ticks", refresh_tolerance="2ticks"),
            "ETHUSDT": PairConfig(
                symbol="ETHUSDT", reference="touch", spread="1ticks", refresh_tolerance="2ticks", size=Decimal("0.05")
            ),
        },
    )
    res = run_backtest([btc, eth], cfg)
    total, per_pair = reference_metrics(res, [btc, eth])
    assert per_pair["BTCUSDT"]["fills"] > 10 and per_pair["ETHUSDT"]["fills"] > 10
    assert btc.rules.tick != eth.rules.tick or btc.rules.step != eth.rules.step  # the unit maps matter
    _same(res.metrics, total)
    assert list(res.per_pair) == ["BTCUSDT", "ETHUSDT"]
    for sym in ("BTCUSDT", "ETHUSDT"):
        _same(res.per_pair[sym], per_pair[sym])


def test_metrics_with_the_active_rebalance_are_the_tables_metrics():
    data = synthetic_feed("BTCUSDT", seconds=300, seed=3, volatility_bps=40, events_per_s=20)
    pair = PairConfig(symbol="BTCUSDT", spread="3bps", rebalance_band=Decimal("0.01"), rebalance_mode="taker")
    cfg = LiqkitConfig(sim=SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(60_000)}), pairs={"BTCUSDT": pair})
    res = run_backtest(data, cfg)
    total, _ = reference_metrics(res, [data])
    assert total["rebalance_fills"] > 0 and total["fills"] > total["rebalance_fills"]  # both kinds of fill
    assert total["rebalance_cost"] > 0
    _same(res.metrics, total)


def test_metrics_with_oco_exits_are_the_tables_metrics(sample_data):
    pair = PairConfig(
        symbol="BTCUSDT",
        spread="3bps",
        size=Decimal("0.002"),
        exit_inventory=Decimal("0.2"),
        exit_take_profit="4bps",
        exit_stop_loss="4bps",
    )
    cfg = LiqkitConfig(sim=SimConfig(balances={"BTC": Decimal(4), "USDT": Decimal(50_000)}), pairs={"BTCUSDT": pair})
    res = run_backtest(sample_data, cfg)
    total, _ = reference_metrics(res, [sample_data])
    assert total["exit_fills"] > 0 and total["fills"] > total["exit_fills"]  # both kinds of fill
    _same(res.metrics, total)


def test_a_run_without_fills_has_empty_metrics_and_tables(sample_data):
    cut = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 5 * 10**9)
    res = run_backtest(cut, PairConfig(symbol="BTCUSDT", spread="50bps"))
    total, _ = reference_metrics(res, [cut])
    assert total["fills"] == 0 and total["orders_placed"] > 0
    _same(res.metrics, total)
    assert res.fills.empty and list(res.fills.columns)[:3] == ["ts", "ts_exchange", "symbol"]
    assert isinstance(res.fills.index, pd.DatetimeIndex)


@pytest.mark.parametrize("ns", [0, 1, 999, 1_000, 123_456_000, 123_456_789, 1_704_067_200_000_000_000 + 5])
def test_start_is_written_as_pandas_writes_a_timestamp(ns):
    from liqkit.backtest.metrics import utc_text

    assert utc_text(ns) == str(pd.Timestamp(ns, unit="ns", tz="UTC"))


def test_columns_may_be_arrays_and_must_be_complete(sample_data):
    from liqkit.backtest.result import FILL_COLUMNS, ORDER_COLUMNS, STATE_COLUMNS, BacktestResult

    res = run_backtest(sample_data, PairConfig(symbol="BTCUSDT", spread="1bps", levels=2))
    assert res.metrics["fills"] > 10

    def arrays(table: pd.DataFrame, names: tuple[str, ...]) -> dict[str, Any]:
        cols = {n: table[n].to_numpy() for n in names}
        cols["side"] = np.where(table["side"] == "BUY", 1, -1)
        cols["symbol"] = table["symbol"].astype(str).tolist()
        return cols

    states = res.states[list(STATE_COLUMNS)].itertuples(index=False)
    again = BacktestResult(
        arrays(res.orders, ORDER_COLUMNS),
        arrays(res.fills, FILL_COLUMNS),
        list(states),
        [],
        [sample_data],
        res.metrics["events"],
        res.metrics["wall_s"],
    )
    _same(again.metrics, res.metrics)
    pd.testing.assert_frame_equal(again.fills, res.fills, check_categorical=False)
    del_level = {k: v for k, v in arrays(res.fills, FILL_COLUMNS).items() if k != "level"}
    with pytest.raises(ValueError, match=r"fills: the columns lack \['level'\]"):
        BacktestResult(arrays(res.orders, ORDER_COLUMNS), del_level, [], [], [sample_data], 1, 1.0)


def test_the_order_table_is_built_only_when_read_and_matches_the_log(sample_data):
    """The metrics read only the orders' statuses; the whole table, once read, holds every record."""
    from liqkit.backtest import run_backtest
    from liqkit.backtest.result import LazyColumns

    result = run_backtest(sample_data, {"bid_spread": "1ticks", "ask_spread": "1ticks", "refresh_tolerance": "0ticks"})
    cols = result._order_cols
    assert isinstance(cols, LazyColumns)
    assert not cols._all, "the metrics built the whole order table"
    placed = result.metrics["orders_placed"]
    frame = result.orders
    assert cols._all
    assert placed > 0
    counts = frame["status"].value_counts()
    assert counts.get("PENDING_NEW", 0) == placed
    assert counts.get("CANCELED", 0) == result.metrics["orders_cancelled"]
    assert counts.get("FILLED", 0) == result.metrics["orders_filled"]
    assert frame["client_id"].str.startswith("lq.BTCUSDT.").all()
