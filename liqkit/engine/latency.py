"""Latency: how long a request takes to reach a venue, and its answer or a stream event to come back.

One model object serves every simulated venue and the backtest, so a backtest and the live runner on
a replay see the same delays. A model answers three questions, each given the time ``ts`` the delay
starts at and, for order traffic, the request's ``kind`` (``PLACE``: order entry; ``CANCEL``;
``STREAM``: the user stream's fills, order updates and balances, for answers only):

- ``ConstantLatency``: the same delay each way (``[sim] latency_ms``);
- ``LognormalLatency``: each delay drawn from a lognormal distribution given its median and 99th
  percentile, for order entry and for cancels separately. A draw is a function of the seed, the time
  and the kind (a hash, no state): the same seed gives the same backtest, whatever order the two
  drivers ask in, and two requests sent at the same nanosecond travel together;
- ``MeasuredLatency``: recorded round trips (``liqkit latency export``: order entry and cancels
  separately), interpolated linearly over time between the recorded sends and held at the ends. A
  round trip is split ``inbound_share`` to reach the exchange (half by default), the rest to come back.

Market data is never delayed by these models (``feed_ns`` is 0): recorded data carries its own local
receive times, which already include the feed's latency. But the venue had each market event before we
received it: ``VenueAhead`` wraps a model so that the venue is ``feed`` ahead of the recorded times
(a request reaches the venue's book as it stood ``feed`` after the request's arrival in recorded time;
its answer, and the user stream, come back ``feed`` sooner): the round trips stay as they were, but an
order meets the market the venue saw, not the one we had seen. Without it, a backtest's post-only
orders never meet a market that moved while its data was on the way to us.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Final, Protocol

PLACE: Final = 0  # order entry: a new order (an amend, a query and any other request count as one too)
CANCEL: Final = 1  # a cancel: of one order, or of all of a pair's
STREAM: Final = 2  # ``response_ns`` only: the user stream (fills, order updates, balances)

Z99: Final = 2.3263478740408408  # the standard normal's 99th percentile
_MASK32: Final = 0xFFFFFFFF
_STD_NORMAL: Final = NormalDist()


class LatencyModel(Protocol):
    """Delays in integer ns, each given the time ``ts`` it starts at and the request's ``kind``."""

    def request_ns(self, ts: int, kind: int) -> int:
        """From the engine sending a request (``PLACE`` or ``CANCEL``) to the venue executing it."""
        ...

    def response_ns(self, ts: int, kind: int) -> int:
        """From the venue answering a request of ``kind`` (or streaming, ``STREAM``: a fill, an order
        update, balances) to the engine hearing it."""
        ...

    def feed_ns(self, ts: int) -> int:
        """From the venue's market data to the engine (0: the data's own receive times are the engine's)."""
        ...


class VenueAhead:
    """``inner``'s delays with the venue ahead of the recorded market (see the module): each request
    that much later, each answer that much sooner (never below 0). Ahead by ``feed_ns``, or by the feed
    lags measured over time (``lag_ts``/``lag_ns``: when a market event was received, and how long after
    the venue's own time; interpolated linearly, held beyond the ends). The lags are first made to fall
    no faster than time passes, so that requests reach the venue in the order they were sent."""

    __slots__ = ("_lags", "feed", "inner")

    def __init__(
        self, inner: LatencyModel, feed_ns: int = 0, lag_ts: list[int] | None = None, lag_ns: list[int] | None = None
    ) -> None:
        if feed_ns < 0:
            raise ValueError(f"feed latency: must be >= 0 ns, got {feed_ns}")
        self.inner = inner
        self.feed = feed_ns
        self._lags: _Series | None = None
        if lag_ts:
            series = _Series(lag_ts, lag_ns if lag_ns is not None else [])
            ys = series.rtt
            for i in range(1, len(ys)):  # arrival time (t + lag) never goes back
                floor = ys[i - 1] - (series.ts[i] - series.ts[i - 1])
                if ys[i] < floor:
                    ys[i] = floor
            self._lags = series

    def ahead_ns(self, ts: int) -> int:
        """How far the venue is ahead of the recorded market at ``ts``."""
        lags = self._lags
        return self.feed if lags is None else lags.at(ts)

    def request_ns(self, ts: int, kind: int) -> int:
        return self.inner.request_ns(ts, kind) + self.ahead_ns(ts)

    def response_ns(self, ts: int, kind: int) -> int:
        return max(0, self.inner.response_ns(ts, kind) - self.ahead_ns(ts))

    def feed_ns(self, ts: int) -> int:
        return self.inner.feed_ns(ts)

    def __repr__(self) -> str:
        if self._lags is None:
            return f"VenueAhead({self.inner!r}, feed {self.feed / 1e6:g} ms)"
        return f"VenueAhead({self.inner!r}, feed lags at {len(self._lags.ts)} times)"


class ConstantLatency:
    """The same delay each way for every request and answer; market data as recorded."""

    __slots__ = ("ns",)

    def __init__(self, ns: int = 0) -> None:
        if ns < 0:
            raise ValueError(f"latency: must be >= 0 ns, got {ns}")
        self.ns = ns

    @classmethod
    def from_ms(cls, ms: float) -> ConstantLatency:
        """A constant latency given in milliseconds (the ``[sim] latency_ms`` setting)."""
        return cls(round(ms * 1_000_000))

    def request_ns(self, ts: int, kind: int) -> int:
        """The one-way delay."""
        return self.ns

    def response_ns(self, ts: int, kind: int) -> int:
        """The one-way delay."""
        return self.ns

    def feed_ns(self, ts: int) -> int:
        """Market data arrives at its recorded receive time."""
        return 0

    def __repr__(self) -> str:
        return f"ConstantLatency({self.ns / 1e6:g} ms)"


def _fmix32(h: int) -> int:
    """32 well-mixed bits of the 32-bit ``h``: xor-shifts and multiplies as murmur3's finaliser does, with
    odd multipliers below 2**30 so that every product stays a machine-size int (compiled, no big-int path;
    the same bits compiled or not). A bijection of 32-bit values."""
    h ^= h >> 16
    h = (h * 0x2C1B3C6D) & _MASK32
    h ^= h >> 12
    h = (h * 0x297A2D39) & _MASK32
    return h ^ (h >> 15)


def uniform(seed: int, ts: int, salt: int) -> float:
    """A number strictly inside (0, 1), a pure function of ``seed``, ``ts`` (ns) and ``salt``."""
    h = _fmix32((seed & _MASK32) ^ 0x3C6EF372)
    h = _fmix32(h ^ ((seed >> 32) & _MASK32))
    h = _fmix32(h ^ (ts & _MASK32))
    h = _fmix32(h ^ ((ts >> 32) & _MASK32))
    h = _fmix32(h ^ (salt & _MASK32))
    return (h + 0.5) / 4294967296.0


class LognormalLatency:
    """Each one-way delay drawn from a lognormal distribution with the given median and 99th percentile.

    Order entry (``PLACE``) and cancels (``CANCEL``) have their own distribution (cancels default to
    order entry's); an answer takes a draw from its request's distribution, the user stream
    (``STREAM``) one from order entry's. A draw is ``exp(mu + sigma * z)`` with ``mu = ln(p50)``,
    ``sigma = ln(p99 / p50) / z99`` and ``z`` the standard normal quantile of a uniform number hashed
    from the seed, the time and the kind: reproducible and independent of the order of the calls."""

    __slots__ = ("_mu", "_sigma", "p50_ns", "p99_ns", "seed")

    def __init__(
        self,
        p50_ns: int,
        p99_ns: int,
        cancel_p50_ns: int = 0,
        cancel_p99_ns: int = 0,
        seed: int = 0,
    ) -> None:
        if cancel_p50_ns <= 0 and cancel_p99_ns <= 0:
            cancel_p50_ns, cancel_p99_ns = p50_ns, p99_ns
        self.p50_ns = (p50_ns, cancel_p50_ns)
        self.p99_ns = (p99_ns, cancel_p99_ns)
        mus: list[float] = []
        sigmas: list[float] = []
        for what, p50, p99 in (("", p50_ns, p99_ns), ("cancel ", cancel_p50_ns, cancel_p99_ns)):
            if p50 <= 0:
                raise ValueError(f"lognormal latency: the {what}median must be > 0 ns, got {p50}")
            if p99 < p50:
                raise ValueError(f"lognormal latency: the {what}p99 ({p99} ns) must be >= the median ({p50} ns)")
            mus.append(math.log(p50))
            sigmas.append(math.log(p99 / p50) / Z99)
        self._mu = (mus[0], mus[1])
        self._sigma = (sigmas[0], sigmas[1])
        self.seed = seed

    @classmethod
    def from_ms(
        cls, p50_ms: float, p99_ms: float, cancel_p50_ms: float = 0.0, cancel_p99_ms: float = 0.0, seed: int = 0
    ) -> LognormalLatency:
        """The distribution given in milliseconds (the ``[sim] latency_p50_ms`` ... settings)."""
        ms = 1_000_000
        return cls(round(p50_ms * ms), round(p99_ms * ms), round(cancel_p50_ms * ms), round(cancel_p99_ms * ms), seed)

    def draw_ns(self, ts: int, kind: int, leg: int) -> int:
        """The delay of ``leg`` (0 out, 1 back) of a ``kind`` request at ``ts``: a pure function of its inputs."""
        u = uniform(self.seed, ts, kind * 2 + leg)
        d = 1 if kind == CANCEL else 0
        return round(math.exp(self._mu[d] + self._sigma[d] * _STD_NORMAL.inv_cdf(u)))

    def request_ns(self, ts: int, kind: int) -> int:
        """A draw from the request's distribution."""
        return self.draw_ns(ts, kind, 0)

    def response_ns(self, ts: int, kind: int) -> int:
        """A draw from the answered request's distribution (order entry's for the user stream)."""
        return self.draw_ns(ts, kind, 1)

    def feed_ns(self, ts: int) -> int:
        """Market data arrives at its recorded receive time."""
        return 0

    def __repr__(self) -> str:
        (p, c), (p99, c99) = self.p50_ns, self.p99_ns
        return (
            f"LognormalLatency(p50 {p / 1e6:g} ms, p99 {p99 / 1e6:g} ms; cancel p50 {c / 1e6:g} ms, "
            f"p99 {c99 / 1e6:g} ms; seed {self.seed})"
        )


class _Series:
    """Round trips over time: sorted distinct send times (ns) and their round trips (ns)."""

    __slots__ = ("rtt", "ts")

    def __init__(self, ts: list[int], rtt: list[int]) -> None:
        if len(ts) != len(rtt):
            raise ValueError(f"measured latency: {len(ts)} send times but {len(rtt)} round trips")
        pairs = sorted(zip(ts, rtt, strict=True))
        xs: list[int] = []
        ys: list[int] = []
        i = 0
        while i < len(pairs):  # round trips sent at the same time: their mean (rounded down)
            t = pairs[i][0]
            total = 0
            j = i
            while j < len(pairs) and pairs[j][0] == t:
                if pairs[j][1] < 0:
                    raise ValueError(f"measured latency: a round trip of {pairs[j][1]} ns (sent at {t}): must be >= 0")
                total += pairs[j][1]
                j += 1
            xs.append(t)
            ys.append(total // (j - i))
            i = j
        self.ts = xs
        self.rtt = ys

    def at(self, t: int) -> int:
        """The round trip at ``t``: linear between the samples around it, the nearest one outside them."""
        xs = self.ts
        n = len(xs)
        if t <= xs[0]:
            return self.rtt[0]
        if t >= xs[n - 1]:
            return self.rtt[n - 1]
        lo = 0
        hi = n - 1  # xs[lo] < t < xs[hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if xs[mid] <= t:
                lo = mid
            else:
                hi = mid
        y0 = self.rtt[lo]
        return y0 + (self.rtt[hi] - y0) * (t - xs[lo]) // (xs[hi] - xs[lo])


class MeasuredLatency:
    """Recorded round trips, interpolated over time: order entry and cancels separately.

    ``place_ts``/``place_rtt`` are the send times and round trips (ns) of order entries;
    ``cancel_ts``/``cancel_rtt`` those of cancels (none: cancels take order entry's). A round trip
    is split ``inbound_share`` out (half by default: ``rtt // 2``) and the rest back, each part at the
    time it starts; the user stream takes the way back of order entry's. ``offset_ns`` is added to the
    recorded times (to replay a session recorded at another time: ``liqkit.venues.sim.latency`` aligns it
    with the data)."""

    __slots__ = ("_cancel", "_inbound_pm", "_place", "offset_ns")

    def __init__(
        self,
        place_ts: list[int],
        place_rtt: list[int],
        cancel_ts: list[int] | None = None,
        cancel_rtt: list[int] | None = None,
        offset_ns: int = 0,
        inbound_share: float = 0.5,
    ) -> None:
        if not place_ts:
            raise ValueError("measured latency: no order entry (place) round trips")
        if not 0 <= inbound_share <= 1:
            raise ValueError(f"measured latency: inbound_share = {inbound_share!r}: must be from 0 to 1")
        self._inbound_pm = round(inbound_share * 1_000_000)  # parts per million, exact integer splits
        self._place = _Series(place_ts, place_rtt)
        self._cancel = _Series(cancel_ts, cancel_rtt or []) if cancel_ts else self._place
        self.offset_ns = offset_ns

    def round_trip_ns(self, ts: int, kind: int) -> int:
        """The whole round trip of a ``kind`` request sent at ``ts``."""
        s = self._cancel if kind == CANCEL else self._place
        return s.at(ts - self.offset_ns)

    def request_ns(self, ts: int, kind: int) -> int:
        """The inbound share of the round trip at ``ts`` (rounded down: half, ``rtt // 2``, by default)."""
        return self.round_trip_ns(ts, kind) * self._inbound_pm // 1_000_000

    def response_ns(self, ts: int, kind: int) -> int:
        """The rest of the round trip at ``ts`` (order entry's for the user stream)."""
        rtt = self.round_trip_ns(ts, kind)
        return rtt - rtt * self._inbound_pm // 1_000_000

    def feed_ns(self, ts: int) -> int:
        """Market data arrives at its recorded receive time."""
        return 0

    def span(self) -> tuple[int, int]:
        """The first and last recorded send time (of either kind), as replayed (offset included)."""
        first = min(self._place.ts[0], self._cancel.ts[0])
        last = max(self._place.ts[-1], self._cancel.ts[-1])
        return first + self.offset_ns, last + self.offset_ns

    def samples(self, kind: int) -> int:
        """How many distinct send times hold the round trips of ``kind``."""
        return len((self._cancel if kind == CANCEL else self._place).ts)

    def __repr__(self) -> str:
        return (
            f"MeasuredLatency({self.samples(PLACE)} order entry, {self.samples(CANCEL)} cancel send times; "
            f"offset {self.offset_ns} ns)"
        )
