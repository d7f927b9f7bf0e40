"""The venue ahead of the recorded market by the feed's lag: requests later, answers sooner, round trips kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqkit.data.latency import feed_lags
from liqkit.engine.latency import CANCEL, PLACE, STREAM, ConstantLatency, VenueAhead

MS = 1_000_000


def test_a_constant_lead_moves_each_request_later_and_each_answer_sooner():
    m = VenueAhead(ConstantLatency(10 * MS), 4 * MS)
    assert (m.request_ns(0, PLACE), m.response_ns(0, PLACE), m.response_ns(0, STREAM)) == (14 * MS, 6 * MS, 6 * MS)
    assert m.request_ns(0, CANCEL) + m.response_ns(0, CANCEL) == 20 * MS  # the round trip is kept
    far = VenueAhead(ConstantLatency(1 * MS), 4 * MS)
    assert (far.request_ns(0, PLACE), far.response_ns(0, PLACE)) == (5 * MS, 0)  # an answer never before 0
    assert m.feed_ns(0) == 0
    with pytest.raises(ValueError, match="must be >= 0"):
        VenueAhead(ConstantLatency(0), -1)


def test_measured_lags_are_interpolated_and_held_beyond_the_ends():
    m = VenueAhead(ConstantLatency(0), lag_ts=[100 * MS, 200 * MS], lag_ns=[2 * MS, 12 * MS])
    assert [m.ahead_ns(t * MS) for t in (0, 100, 150, 200, 900)] == [2 * MS, 2 * MS, 7 * MS, 12 * MS, 12 * MS]
    assert m.request_ns(150 * MS, PLACE) == 7 * MS


def test_a_lag_that_falls_faster_than_time_passes_is_held_up_so_requests_stay_in_order():
    # the lag drops 50 ms within 10 ms: a request sent later would otherwise arrive first
    m = VenueAhead(ConstantLatency(0), lag_ts=[0, 10 * MS, 100 * MS], lag_ns=[60 * MS, 10 * MS, 0])
    assert m.ahead_ns(10 * MS) == 50 * MS  # 60 ms less the 10 ms that passed
    assert m.ahead_ns(100 * MS) == 0


@given(
    st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**8)), min_size=1, max_size=30),
    st.lists(st.integers(0, 2 * 10**9), min_size=2, max_size=30),
)
def test_arrivals_keep_the_order_requests_were_sent_in(samples, sends):
    ts, lags = zip(*samples, strict=True)
    m = VenueAhead(ConstantLatency(3 * MS), lag_ts=list(ts), lag_ns=list(lags))
    sends = sorted(sends)
    arrivals = [t + m.request_ns(t, PLACE) for t in sends]
    assert arrivals == sorted(arrivals)
    assert all(m.ahead_ns(t) >= 0 for t in sends)


def test_feed_lags_from_trades_take_off_the_clock_offset():
    trades = {
        "ts_local": np.array([10_000, 20_000, 30_000, 40_000]) * MS,
        "ts_exchange": np.array([10_000 + 1_270, 0, 30_000 + 1_250, 40_000 + 1_200]) * MS,  # a clock 1.3 s behind
    }
    ts, lags = feed_lags(trades)
    assert ts == [10_000 * MS, 30_000 * MS, 40_000 * MS]  # the trade without an exchange time left out
    assert lags == [0, 20 * MS, 70 * MS]
    assert feed_lags({"ts_local": np.array([1]), "ts_exchange": np.array([0])}) == ([], [])
