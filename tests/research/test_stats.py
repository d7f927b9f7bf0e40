"""Market statistics on the real shipped recording."""

import numpy as np
import pandas as pd
import pytest

from liqkit.data.capture import sample_recording_paths
from liqkit.data.frames import load_frames
from liqkit.domain.errors import DataError
from liqkit.research import stats as S


@pytest.fixture(scope="module")
def frames():
    return load_frames(sample_recording_paths())


def test_spreads_in_ticks_and_bps(frames, sample_data):
    sp = S.spreads(frames)
    assert len(sp) == len(frames.book) and (sp["spread_ticks"] >= 1).all()
    first = frames.book.iloc[0]
    assert sp["spread_ticks"].iloc[0] == round((first["ask"] - first["bid"]) / 0.01)
    assert sp["spread_bps"].iloc[0] == pytest.approx((first["ask"] - first["bid"]) / sp["mid"].iloc[0] * 1e4)
    # the same numbers from the backtest's MarketData
    assert np.array_equal(S.spreads(sample_data)["spread_ticks"].to_numpy(), sp["spread_ticks"].to_numpy())
    # durations are the gaps between updates and add up to the span of the book
    assert sp["duration_s"].sum() == pytest.approx((frames.book.index[-1] - frames.book.index[0]).total_seconds())


def test_spread_distribution_and_summary(frames):
    sp = S.spreads(frames)
    dist = S.spread_distribution(sp)
    assert dist["share_updates"].sum() == pytest.approx(1) and dist["share_time"].sum() == pytest.approx(1)
    assert dist["updates"].sum() == len(sp)
    assert dist["share_time"].idxmax() == 1  # BTCUSDT sits at one tick nearly all the time
    summ = S.spread_summary(sp)
    assert summ["one_tick_share_of_time"] == pytest.approx(dist.loc[1, "share_time"])
    assert summ["median_ticks"] == 1 and summ["p95_ticks"] >= summ["median_ticks"]
    ot = S.spread_over_time(sp, "10s")
    assert len(ot) == pytest.approx(sp.index.floor("10s").nunique()) and (ot["spread_ticks_max"] >= 1).all()


def test_trade_intensity_falls_with_distance(frames):
    td = S.trade_distances(frames)
    assert len(td) == len(frames.trades)  # every trade has a book before it
    ti = S.trade_intensity(frames)
    n = ti["trades_per_s"].to_numpy()
    assert (np.diff(n) <= 0).all() and n[0] > n[-1] > 0
    seconds = (frames.trades.index[-1] - frames.trades.index[0]).total_seconds()
    assert ti["trades_per_s"].iloc[0] == pytest.approx((td["distance_bps"] >= 0).sum() / seconds)
    fit = S.fit_intensity(ti)
    assert fit["k"] > 0 and fit["A"] > 0
    custom = S.trade_intensity(frames, grid_bps=[0.0, 1.0, 100.0])
    assert custom["trades_per_s"].iloc[-1] == 0


def test_volatility(frames):
    v = S.volatility(frames, "1s")
    assert v.index.freq is not None or (np.diff(v.index.asi8) == 10**9).all()
    summ = S.volatility_summary(frames)
    assert summ["bps_per_minute"] == pytest.approx(summ["bps_per_1s"] * np.sqrt(60))
    assert summ["bps_per_1s"] == pytest.approx(v["return_bps"].std())
    mid = (frames.book["bid"] + frames.book["ask"]) / 2
    assert 0 < summ["range_bps"] <= (mid.max() - mid.min()) / mid.min() * 1e4 + 1e-9


def test_statistics_need_the_right_data(frames):
    trades_only = frames.trades
    with pytest.raises(DataError, match="bid and ask"):
        S.spreads(trades_only)
    empty = pd.DataFrame({"bid": [], "ask": []}, index=pd.DatetimeIndex([], tz="UTC"))
    with pytest.raises(DataError, match="no book tops"):
        S.spreads(empty, tick=0.01)


def test_market_charts(frames):
    sp = S.spreads(frames)
    fig = S.spread_figure(sp, "5s")
    assert [t.type for t in fig.data] == ["scatter", "scatter", "bar"]
    assert len(fig.data[0].x) == len(S.spread_over_time(sp, "5s"))
    ti = S.trade_intensity(frames)
    fig = S.intensity_figure(ti, S.fit_intensity(ti))
    assert len(fig.data) == 2 and fig.layout.yaxis.type == "log"
