"""Backtest reports on a real backtest of the shipped recording."""

import numpy as np
import pytest
from pnl_check import pnl_from_fills

from liqkit.backtest import run_backtest
from liqkit.domain.config import PairConfig
from liqkit.domain.errors import DataError
from liqkit.research.report import backtest_report


@pytest.fixture(scope="module")
def run(sample_data):
    cfg = PairConfig(symbol="BTCUSDT", spread="2bps", levels=2, level_spacing="1bps")
    return run_backtest(sample_data, cfg), sample_data


def test_pnl_split_is_the_account_of_the_fills(run):
    result, data = run
    p = backtest_report(result, data).pnl
    check = pnl_from_fills(result.fills, data)  # cash and position from the fills, marked to the last mid
    assert check.fills > 10 and check.position != 0
    assert p["pnl"] == pytest.approx(float(check.pnl), abs=1e-6)
    assert p["fees"] == pytest.approx(-float(check.fees), abs=1e-9)  # shown as a cost
    assert p["spread_capture"] == pytest.approx(float(check.spread_capture), abs=1e-6)
    assert p["inventory_pnl"] == pytest.approx(float(check.pnl + check.fees - check.spread_capture), abs=1e-6)


def test_markouts_match_the_backtest_metrics(run):
    result, data = run
    mo = backtest_report(result, data).markouts()
    assert mo.loc[10.0, "all_bps"] == pytest.approx(result.metrics["markout_10s_bps"])
    assert mo.loc[60.0, "all_bps"] == pytest.approx(result.metrics["markout_60s_bps"])
    assert mo.loc[0.0, "fills"] == result.metrics["fills"] > 10
    assert mo.loc[60.0, "fills"] <= mo.loc[0.0, "fills"]  # fills in the last minute cannot look 60 s ahead
    f = result.fills
    buys = f[f["side"] == "BUY"]
    mid = (data.book["bid"] + data.book["ask"]) * 0.005
    i = np.searchsorted(data.book["ts_local"], buys["ts"].to_numpy(np.int64), side="right") - 1
    edge = np.mean((mid[i] - buys["price"].to_numpy()) / buys["price"].to_numpy() * 1e4)
    assert mo.loc[0.0, "buy_bps"] == pytest.approx(edge)


def test_fills_per_level(run):
    result, data = run
    lv = backtest_report(result, data).levels()
    assert lv["fills"].sum() == result.metrics["fills"]
    assert set(lv.index.get_level_values("side")) <= {"BUY", "SELL"}
    assert lv["qty"].sum() == pytest.approx(result.fills["qty"].sum())
    assert set(lv.index.get_level_values("level")) <= {0, 1}


def test_report_charts(run):
    result, data = run
    rep = backtest_report(result, data)
    fig = rep.quotes_figure()
    names = [t.name for t in fig.data]
    assert names[:4] == ["market bid", "market ask", "our bid", "our ask"]
    fills = {t.name: len(t.x) for t in fig.data if t.name.endswith("fills")}
    assert fills == {"buy fills": result.metrics["buy_fills"], "sell fills": result.metrics["sell_fills"]}
    assert len(fig.data[-1].y) == len(result.samples)  # equity over time
    fig = rep.summary_figure()
    assert list(fig.data[0].x) == ["spread_capture", "inventory_pnl", "fees", "rebalance_cost", "pnl"]


def test_report_picks_one_symbol(run):
    result, data = run
    assert backtest_report(result, [data]).symbol == "BTCUSDT"
    with pytest.raises(DataError, match="not ETHUSDT"):
        backtest_report(result, data, symbol="ETHUSDT")
