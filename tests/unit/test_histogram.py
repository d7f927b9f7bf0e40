"""The streaming latency histogram against numpy's exact percentiles, its buckets, and its sliding window."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqkit.engine.histogram import RELATIVE_ERROR, LatencyHistogram, bucket_bounds, bucket_of

QS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0)


@settings(max_examples=300, deadline=None)
@given(
    xs=st.lists(
        st.one_of(st.integers(0, 300), st.integers(0, 10**6), st.integers(0, 10**12)), min_size=1, max_size=3_000
    )
)
def test_percentiles_are_numpys_within_the_relative_error(xs):
    h = LatencyHistogram(window=10**6)
    for x in xs:
        h.record(x)
    got = h.percentiles(*QS)
    want = np.quantile(np.array(xs, dtype=np.int64), QS, method="inverted_cdf")
    for q, g, w in zip(QS, got, want, strict=True):
        assert abs(g - w) <= w * RELATIVE_ERROR, (q, g, w)
    assert h.n == len(xs) and h.max == max(xs)  # the count and the max are exact


def test_small_values_are_exact_and_buckets_tile_the_integers():
    h = LatencyHistogram()
    for x in (5, 1, 3, 2, 4):
        h.record(x)
    assert h.percentiles(0.5, 0.2, 1.0) == [3.0, 1.0, 5.0]
    nxt = 0
    for i in range(bucket_of(10**9) + 1):  # consecutive buckets, no gap nor overlap, each narrow enough
        lo, width = bucket_bounds(i)
        assert lo == nxt and (width == 1 or width <= lo * 2 * RELATIVE_ERROR), (i, lo, width)
        assert bucket_of(lo) == i and bucket_of(lo + width - 1) == i
        nxt = lo + width


def test_the_window_forgets_old_samples():
    h = LatencyHistogram(window=100)
    for _ in range(100):
        h.record(10**9)  # one slow second: a full generation
    assert h.max == 10**9 and h.percentiles(0.5) == [pytest.approx(10**9, rel=RELATIVE_ERROR)]
    for _ in range(100):
        h.record(2_000)
    assert h.n == 200 and h.max == 10**9  # still in the previous generation
    h.record(2_000)
    assert h.n == 101 and h.max == 2_000  # the slow generation is gone
    assert h.percentiles(0.5, 0.99) == [pytest.approx(2_000, rel=RELATIVE_ERROR)] * 2


def test_empty_negative_and_huge_samples():
    h = LatencyHistogram(max_value=1 << 20)
    assert h.n == 0 and h.max == 0 and h.percentiles(0.5, 0.99) == [0.0, 0.0]
    h.record(-5)
    assert h.percentiles(1.0) == [0.0]
    h.record(1 << 30)  # past max_value: counted in the top bucket, its max exact
    assert h.n == 2 and h.max == 1 << 30
    assert h.percentiles(1.0)[0] == pytest.approx(1 << 20, rel=RELATIVE_ERROR)
    with pytest.raises(ValueError, match="window"):
        LatencyHistogram(window=0)
