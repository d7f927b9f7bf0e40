"""``LatencyHistogram``: percentiles of a stream of integer samples in constant memory and time.

The engine records how long each book update takes to decide (nanoseconds), on every update, and
reports p50, p99 and max once a second. Sorting the last 100,000 samples for that took about 17 ms
of the event loop; this histogram records a sample in O(1) and answers in O(buckets).

Buckets are log-linear (as in HdrHistogram): values below ``2**SUB_BITS`` each have their own bucket;
above, every power of two is split into ``2**(SUB_BITS-1)`` equal buckets, so a bucket is never
wider than 1/64 of its lower bound and its midpoint is within ``RELATIVE_ERROR`` (1/128) of any
value in it. The window slides by generations: samples go into the current generation; once it
holds ``window`` samples it becomes the previous one (the older one is dropped), so the figures
cover the latest ``window`` to ``2 * window`` samples.
"""

from __future__ import annotations

import math

SUB_BITS = 7
_HALF_BITS = SUB_BITS - 1
_HALF = 1 << _HALF_BITS
RELATIVE_ERROR = 1 / (2 * _HALF)
"""Largest relative distance between a reported percentile and the true sample at that rank."""


def bucket_of(value: int) -> int:
    """The bucket index of a non-negative integer."""
    shift = value.bit_length() - SUB_BITS
    return value if shift <= 0 else (shift << _HALF_BITS) + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest value of a bucket and its width."""
    if index < 2 * _HALF:
        return index, 1
    shift = (index >> _HALF_BITS) - 1
    return (index - (shift << _HALF_BITS)) << shift, 1 << shift


class LatencyHistogram:
    """Streaming percentiles of non-negative integers over a sliding window of samples."""

    __slots__ = (
        "_cur",
        "_cur_max",
        "_cur_n",
        "_cur_top",
        "_prev",
        "_prev_max",
        "_prev_n",
        "_prev_top",
        "max_value",
        "window",
    )

    def __init__(self, window: int = 50_000, max_value: int = 1 << 40) -> None:
        if window < 1:
            raise ValueError(f"window = {window}: must be at least 1 sample")
        self.window = window
        self.max_value = max_value
        size = bucket_of(max_value) + 1
        self._cur = [0] * size
        self._prev = [0] * size
        self._cur_n = self._prev_n = 0
        self._cur_max = self._prev_max = 0
        self._cur_top = self._prev_top = 0  # highest bucket used, to bound the scans

    def record(self, value: int) -> None:
        """Add one sample (negative counts as 0; values past ``max_value`` go in its bucket)."""
        if self._cur_n >= self.window:
            self._rotate()
        if value > self._cur_max:
            self._cur_max = value
        v = 0 if value < 0 else (value if value <= self.max_value else self.max_value)
        shift = v.bit_length() - SUB_BITS  # bucket_of, inlined: this runs on every book update
        i = v if shift <= 0 else (shift << _HALF_BITS) + (v >> shift)
        self._cur[i] += 1
        self._cur_n += 1
        if i > self._cur_top:
            self._cur_top = i

    def _rotate(self) -> None:
        self._prev, self._cur = self._cur, self._prev
        for i in range(self._prev_top + 1):  # the old previous generation becomes the new, empty, current one
            self._cur[i] = 0
        self._prev_n, self._prev_max, self._prev_top = self._cur_n, self._cur_max, self._cur_top
        self._cur_n = self._cur_max = self._cur_top = 0

    @property
    def n(self) -> int:
        """Samples in the window."""
        return self._cur_n + self._prev_n

    @property
    def max(self) -> int:
        """The largest sample in the window (exact); 0 when empty."""
        return max(self._cur_max, self._prev_max)

    def percentiles(self, *qs: float) -> list[float]:
        """The nearest-rank ``q``-quantiles (0 < q <= 1: the sample at rank ceil(q*n)), each within
        ``RELATIVE_ERROR`` of the true sample; 0.0 each when empty. One pass over the buckets."""
        n = self.n
        if n == 0:
            return [0.0 for _ in qs]
        ranks = sorted((max(0, min(n - 1, math.ceil(q * n) - 1)), k) for k, q in enumerate(qs))
        out = [0.0] * len(qs)
        top, mx = max(self._cur_top, self._prev_top), self.max
        cur, prev = self._cur, self._prev
        seen, j = 0, 0
        for i in range(top + 1):
            seen += cur[i] + prev[i]
            while j < len(ranks) and ranks[j][0] < seen:
                lo, width = bucket_bounds(i)
                out[ranks[j][1]] = min(lo + (width - 1) / 2, float(mx))
                j += 1
            if j == len(ranks):
                break
        return out
