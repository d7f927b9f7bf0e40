"""Analytics of our fills (``liqkit.research.fills``): markouts with bootstrap intervals computed by hand on
a known mid path, the fill table of a real backtest held to its order and fill records, and bad input."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from liqkit.backtest import metrics as M
from liqkit.backtest import run_backtest
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig
from liqkit.journal import JournalError
from liqkit.research import fills as F
from liqkit.research.report import backtest_report

S = 1_000_000_000
T0 = 1_723_161_000 * S
# the mid path: 100 at 0 s, 101 at 1 s, 99 at 2 s, 102 from 10 s to the data's end at 20 s (tick 0.5: bid/ask ticks)
MID = M.MidLine(
    ts=np.array([0, 1, 2, 10, 20], np.int64) * S + T0,
    bid=np.array([199, 201, 197, 203, 203], np.int64),
    ask=np.array([201, 203, 199, 205, 205], np.int64),
    half_tick=0.25,
)
# two buys and a sell: (seconds after T0, side, price)
HAND = [(0.0, "BUY", 100.0), (1.0, "BUY", 100.5), (0.5, "SELL", 101.0)]


def hand_fills() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [T0 + round(t * S) for t, _, _ in HAND],
            "symbol": "BTCUSDT",
            "side": [s for _, s, _ in HAND],
            "price": [p for _, _, p in HAND],
        }
    )


# each fill's markout in bps, by hand: side x (mid h later - price) / price x 1e4
A1, B1, C1 = 100.0, (99 - 100.5) / 100.5 * 1e4, 0.0  # h = 1 s: mids 101 (at 1 s), 99 (2 s), 101 (1.5 s)
A10, B10, C10 = 200.0, 1.5 / 100.5 * 1e4, -1 / 101 * 1e4  # h = 10 s: the mid is 102 for all three


def test_markouts_by_hand_on_a_known_mid_path():
    mo = F.markouts(hand_fills(), MID, horizons_s=(1, 10, 19.5, 60))
    assert list(mo.columns) == ["n", "mean_bps", "ci_low_bps", "ci_high_bps"]
    assert mo.index.names == ["side", "horizon_s"]
    want = {
        ("BUY", 1.0): (2, (A1 + B1) / 2),
        ("SELL", 1.0): (1, C1),
        ("all", 1.0): (3, (A1 + B1 + C1) / 3),
        ("BUY", 10.0): (2, (A10 + B10) / 2),
        ("SELL", 10.0): (1, C10),
        ("all", 10.0): (3, (A10 + B10 + C10) / 3),
        # 19.5 s: the second buy (at 1 s) would look past the data's end (20 s); the sell (0.5 s) lands on it
        ("BUY", 19.5): (1, 200.0),
        ("SELL", 19.5): (1, C10),
        ("all", 19.5): (2, (200.0 + C10) / 2),
    }
    for key, (n, mean) in want.items():
        assert mo.loc[key, "n"] == n, key
        assert mo.loc[key, "mean_bps"] == pytest.approx(mean, abs=1e-9), key
    for side in ("BUY", "SELL", "all"):  # no fill has 60 s of data after it
        assert mo.loc[(side, 60.0), "n"] == 0 and np.isnan(mo.loc[(side, 60.0), "mean_bps"])
    # one sell: every resample is that fill; two buys: resample means are A, (A+B)/2 or B, a quarter at each end
    assert mo.loc[("SELL", 10.0), "ci_low_bps"] == mo.loc[("SELL", 10.0), "ci_high_bps"] == pytest.approx(C10)
    assert mo.loc[("BUY", 1.0), "ci_low_bps"] == pytest.approx(B1)
    assert mo.loc[("BUY", 1.0), "ci_high_bps"] == pytest.approx(A1)
    assert mo.attrs == {"ci": 0.95, "n_boot": 1000, "seed": 0}


def test_the_run_metrics_and_the_table_share_one_markout():
    f = hand_fills()
    sign = np.where(f["side"] == "BUY", 1.0, -1.0)
    pair = M.PairFills(f["ts"].to_numpy(np.int64), sign, f["price"].to_numpy(float), np.ones(3), np.zeros(3))
    scalar = M.markouts(pair, MID, (1, 10, 60))
    mo = F.markouts(f, MID)
    assert scalar["markout_1s_bps"] == pytest.approx(mo.loc[("all", 1.0), "mean_bps"])
    assert scalar["markout_10s_bps"] == pytest.approx(mo.loc[("all", 10.0), "mean_bps"])
    assert scalar["markout_60s_bps"] is None
    # the same mids given as a frame of prices
    frame = pd.DataFrame({"ts": MID.ts, "mid": MID.at(MID.ts)})
    pd.testing.assert_frame_equal(F.markouts(f, frame), mo)


def test_bootstrap_is_seeded_and_vectorised_over_resamples():
    f = pd.concat([hand_fills()] * 50, ignore_index=True)
    f["ts"] += np.arange(len(f)) % 7  # distinct times; the same mids
    a = F.markouts(f, MID, seed=3)
    pd.testing.assert_frame_equal(a, F.markouts(f, MID, seed=3))
    b = F.markouts(f, MID, seed=4)
    pd.testing.assert_series_equal(a["mean_bps"], b["mean_bps"])
    assert not np.allclose(a["ci_low_bps"], b["ci_low_bps"])  # another seed, other resamples


@pytest.fixture(scope="module")
def run(sample_data):
    cfg = LiqkitConfig(
        sim=SimConfig(fill_model="realistic", maker_fee_bps=Decimal(1), taker_fee_bps=Decimal(2), latency_ms=5),
        pairs={"BTCUSDT": PairConfig(symbol="BTCUSDT", spread="1bps", levels=3, level_spacing="0.5bps")},
    )
    result = run_backtest(sample_data, cfg)
    return result, sample_data, F.fill_table(result)


def test_fill_table_of_a_backtest_is_its_fills_with_levels_and_placements_from_its_orders(run):
    result, _, t = run
    assert list(t.columns) == list(F.FILL_TABLE_COLUMNS)
    f = result.fills.sort_values("ts", kind="stable")
    assert len(t) == len(f) == result.metrics["fills"] > 100
    assert (t["ts"].to_numpy() == f["ts"].to_numpy()).all() and (t["client_id"] == f["client_id"].to_numpy()).all()
    assert (t["side"].to_numpy() == f["side"].astype(str).to_numpy()).all()
    assert np.allclose(t["price"], f["price"]) and np.allclose(t["qty"], f["qty"])
    assert np.allclose(t["fee_quote"], f["fee"]) and t["fee_quote"].sum() > 0
    # the level each fill's order carried, and when that order was sent (its PENDING_NEW record)
    assert (t["level"].to_numpy(np.int64) == f["level"].to_numpy()).all()
    assert set(t["level"]) == {0, 1, 2}
    o = result.orders
    new = o[o["status"] == "PENDING_NEW"]
    sent = dict(zip(new["client_id"], new["ts"], strict=True))
    assert len(sent) == result.metrics["orders_placed"]
    want = np.array([sent[c] for c in t["client_id"]], np.int64)
    assert (t["placed_ts"].to_numpy(np.int64) == want).all()
    assert np.allclose(t["time_to_fill_s"], (t["ts"].to_numpy() - want) / 1e9)
    assert (t["time_to_fill_s"] > 0).all()  # 5 ms each way: nothing fills before it was sent
    assert t["order_id"].isna().all()  # the simulated exchange's order ids never reach the engine: unknown, not 0
    assert t.index.tz is not None and t.index.is_monotonic_increasing


def test_fills_per_level_and_time_to_fill_are_what_the_fills_say(run):
    result, _, t = run
    f = result.fills
    lv = F.fills_per_level(t)
    assert lv.index.names == ["symbol", "side", "level"]
    assert list(lv.columns) == ["fills", "qty", "notional", "maker_share", "mean_time_to_fill_s"]
    by = f.groupby([f["side"].astype(str), "level"], observed=True)
    for (side, level), g in by:
        row = lv.loc[("BTCUSDT", side, level)]
        assert row["fills"] == len(g)
        assert row["qty"] == pytest.approx(g["qty"].sum())
        assert row["notional"] == pytest.approx(g["notional"].sum())
        assert row["maker_share"] == pytest.approx(g["is_maker"].mean())
    assert lv["fills"].sum() == len(f)
    tt = F.time_to_fill(t)
    assert list(tt.columns) == ["n", "p10_s", "p50_s", "p90_s", "p99_s"]
    for (side, level), g in t.groupby(["side", "level"]):
        x = g["time_to_fill_s"].to_numpy()
        row = tt.loc[("BTCUSDT", side, level)]
        assert row["n"] == len(x)
        assert row[["p10_s", "p50_s", "p90_s", "p99_s"]].to_numpy() == pytest.approx(
            np.quantile(x, [0.1, 0.5, 0.9, 0.99])
        )
        assert lv.loc[("BTCUSDT", side, level), "mean_time_to_fill_s"] == pytest.approx(x.mean())


def test_intervals_contain_the_mean_and_narrow_with_more_fills(run):
    _, data, t = run
    few = F.markouts(t.iloc[: len(t) // 4], data)
    many = F.markouts(t, data)
    for mo in (few, many):
        ok = mo["n"] > 1
        assert ok.sum() == 9
        assert (mo.loc[ok, "ci_low_bps"] <= mo.loc[ok, "mean_bps"]).all()
        assert (mo.loc[ok, "mean_bps"] <= mo.loc[ok, "ci_high_bps"]).all()
    width = lambda mo: mo["ci_high_bps"] - mo["ci_low_bps"]  # noqa: E731
    assert (width(many) < width(few)).all()
    # the same fills four times over: the interval about halves (the standard error goes as 1 / sqrt(n))
    four = F.markouts(pd.concat([t] * 4), data)
    assert (width(four) < 0.7 * width(many)).all()
    pd.testing.assert_series_equal(four["mean_bps"], many["mean_bps"], check_exact=False)


def test_the_report_shows_them_for_its_symbol(run):
    result, data, t = run
    rep = backtest_report(result, data)
    pd.testing.assert_frame_equal(rep.fill_table, t)
    pd.testing.assert_frame_equal(rep.markouts_ci(), F.markouts(t, data))
    lv = rep.levels()
    assert lv.index.names == ["level", "side"] and lv["fills"].sum() == len(t)
    per = F.fills_per_level(t).droplevel("symbol")
    assert (lv["fills"].to_numpy() == per.reorder_levels(["level", "side"]).sort_index()["fills"].to_numpy()).all()
    assert rep.levels()["markout_10s_bps"].notna().all() and "edge_bps" in lv
    assert rep.time_to_fill().index.names == ["side", "level"]
    # the report's markout curve (no intervals) agrees with the table at the horizons both have
    curve = rep.markouts()
    assert curve.loc[10.0, "all_bps"] == pytest.approx(rep.markouts_ci().loc[("all", 10.0), "mean_bps"])
    assert curve.loc[60.0, "all_bps"] == pytest.approx(result.metrics["markout_60s_bps"])


def test_figures(run):
    _, data, t = run
    mo = F.markouts(t, data)
    fig = F.markout_figure(mo)
    assert [tr.name for tr in fig.data] == ["all fills", "buys", "sells"]
    buys = fig.data[1]
    b = mo.xs("BUY", level="side")
    assert list(buys.x) == [1.0, 10.0, 60.0]
    assert np.allclose(np.asarray(buys.y) + np.asarray(buys.error_y.array), b["ci_high_bps"])
    assert np.allclose(np.asarray(buys.y) - np.asarray(buys.error_y.arrayminus), b["ci_low_bps"])
    fig = F.time_to_fill_figure(t)
    names = [tr.name for tr in fig.data]
    assert names == [f"{s} level {k}" for s in ("buy", "sell") for k in (0, 1, 2)]
    assert all(tr.y[-1] == 1.0 for tr in fig.data)
    assert sum(len(tr.x) for tr in fig.data) == len(t)


def test_a_fill_of_an_order_the_source_has_no_record_of_has_no_level(tmp_path):
    from liqkit.journal import Journal

    with Journal.in_state_dir(tmp_path, engine_id="e1") as j:
        assert F.fill_table(j).empty and list(F.fill_table(j).columns) == list(F.FILL_TABLE_COLUMNS)
        j.order(T0 - 15, "BTCUSDT", "lq.BTCUSDT.S2.ab12.1", -1, "101", "0.1", "0", "PENDING_NEW", level=2)
        j.order(T0 - 8, "BTCUSDT", "lq.BTCUSDT.S2.ab12.1", -1, "101", "0.1", "0", "NEW", level=2, venue_order_id=77)
        j.fill(T0, "BTCUSDT", "lq.BTCUSDT.S2.ab12.1", -1, "101", "0.1", "0.0101", "USDT", False, trade_id=4)
        j.fill(T0 + 5, "BTCUSDT", "lq.BTCUSDT.B1.zz99.3", 1, "100", "0.1", "0.001", "BNB", True, trade_id=3)
    t = F.fill_table(tmp_path)  # the state directory
    known, unknown = t.iloc[0], t.iloc[1]
    assert (known["level"], known["placed_ts"], known["order_id"]) == (2, T0 - 15, 77)
    assert known["time_to_fill_s"] == pytest.approx(15e-9) and known["fee_quote"] == pytest.approx(0.0101)
    # its id says level 1, but nothing recorded that order: missing, never guessed from the id
    assert unknown["level"] is pd.NA and unknown["placed_ts"] is pd.NA and np.isnan(unknown["time_to_fill_s"])
    assert np.isnan(unknown["fee_quote"])  # paid in BNB, not in the quote asset
    lv = F.fills_per_level(t).reset_index()  # the unknown level is a group of its own, not dropped
    assert lv[["side", "fills"]].values.tolist() == [["BUY", 1], ["SELL", 1]]
    assert lv["level"].isna().tolist() == [True, False]
    tt = F.time_to_fill(t).reset_index()
    assert tt["n"].tolist() == [0, 1] and np.isnan(tt.loc[0, "p50_s"]) and tt.loc[1, "p50_s"] == pytest.approx(15e-9)


BAD = [
    (lambda f: F.markouts(f.iloc[:0], MID), "fills: the table is empty"),
    (lambda f: F.fills_per_level(pd.DataFrame(columns=list(F.FILL_TABLE_COLUMNS))), "fills: the table is empty"),
    (lambda f: F.time_to_fill(pd.DataFrame(columns=list(F.FILL_TABLE_COLUMNS))), "fills: the table is empty"),
    (lambda f: F.markouts(f, MID, horizons_s=(1, 0)), "horizons_s: 0 s"),
    (lambda f: F.markouts(f, MID, horizons_s=(-5,)), "horizons_s: -5 s"),
    (lambda f: F.markouts(f, MID, horizons_s=()), "horizons_s: give at least one"),
    (lambda f: F.markouts(f, MID, horizons_s="soon"), "horizons_s"),
    (lambda f: F.markouts(f, MID, n_boot=99), "n_boot: 99"),
    (lambda f: F.markouts(f, MID, n_boot=1000.0), "n_boot"),
    (lambda f: F.markouts(f, MID, ci=95), "ci: 95"),
    (lambda f: F.markouts(f, pd.DataFrame({"ts": [], "mid": []}), ci=0.9), "mids: the series is empty"),
    (lambda f: F.markouts(f, pd.DataFrame({"ts": [1]})), "mids: the frame has no 'mid'"),
    (lambda f: F.markouts(f, [1, 2, 3]), "mids: expected"),
    (lambda f: F.markouts(f[["ts", "side"]], MID), "fills: the table lacks"),
    (lambda f: F.markouts(f.assign(symbol=["BTCUSDT", "ETHUSDT", "BTCUSDT"]), MID), "fills: of"),
    (lambda f: F.markouts("fills.csv", MID), "fills: expected the DataFrame"),
]


@pytest.mark.parametrize(("call", "words"), BAD, ids=[w for _, w in BAD])
def test_bad_input_is_a_clear_value_error_naming_the_argument(call, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        call(hand_fills())


def test_bad_sources(tmp_path):
    with pytest.raises(TypeError, match="source: expected a BacktestResult, a Journal or a journal path"):
        F.fill_table(42)  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="source: no journal at"):
        F.fill_table(tmp_path / "nothing-here")
    with pytest.raises(ValueError, match="fills: the table lacks"):
        F.fills_per_level(hand_fills())  # not a fill table: no level, qty, ...
