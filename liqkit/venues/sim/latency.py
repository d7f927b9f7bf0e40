"""The latency model a ``[sim]`` table names, built for a run over given times.

``constant`` (``latency_ms`` each way), ``lognormal`` (``latency_p50_ms``/``latency_p99_ms``, cancels
``latency_cancel_*`` if given, drawn with ``latency_seed``, default ``seed``) or ``measured`` (the round
trips of ``latency_file``), with the venue ``feed_latency_ms`` ahead of the recorded market
(``liqkit.engine.latency.VenueAhead``) when that is set. Recorded round trips replay at their own
times when those overlap the run (a calibration: the market and the engine's requests recorded
together); otherwise they are shifted so that the first one is sent at the run's start, and a warning
on the ``liqkit.latency`` logger says so.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from liqkit.domain.config import SimConfig
from liqkit.engine.latency import ConstantLatency, LatencyModel, LognormalLatency, MeasuredLatency, VenueAhead

log = logging.getLogger("liqkit.latency")


def latency_model(cfg: SimConfig, start_ns: int, end_ns: int | None = None) -> LatencyModel:
    """The model ``cfg`` names, for a run from ``start_ns`` to ``end_ns`` (None: open-ended, live).

    A bad ``latency_file`` raises ``DataError`` naming ``sim.latency_file`` and what is wrong."""
    model = _model(cfg, start_ns, end_ns)
    if cfg.feed_latency_ms:
        return VenueAhead(model, round(cfg.feed_latency_ms * 1e6))
    return model


def _model(cfg: SimConfig, start_ns: int, end_ns: int | None) -> LatencyModel:
    if cfg.latency == "lognormal":
        assert cfg.latency_p50_ms is not None and cfg.latency_p99_ms is not None  # the config checked it
        return LognormalLatency.from_ms(
            cfg.latency_p50_ms,
            cfg.latency_p99_ms,
            cfg.latency_cancel_p50_ms or 0.0,
            cfg.latency_cancel_p99_ms or 0.0,
            cfg.seed if cfg.latency_seed is None else cfg.latency_seed,
        )
    if cfg.latency == "measured":
        assert cfg.latency_file is not None
        from liqkit.data.latency import read_round_trips

        where = f"sim.latency_file = {str(cfg.latency_file)!r}"
        trips = read_round_trips(cfg.latency_file, where)
        first, last = trips.span()
        end = start_ns if end_ns is None else end_ns
        offset = 0
        if last < start_ns or first > end:
            offset = start_ns - first
            log.warning(
                "liqkit: %s: its round trips were sent %s to %s, not during this run (from %s): replayed from "
                "the run's start, as recorded relative to the first",
                where,
                _when(first),
                _when(last),
                _when(start_ns),
            )
        return MeasuredLatency(
            trips.place_ts.tolist(),
            trips.place_rtt.tolist(),
            trips.cancel_ts.tolist(),
            trips.cancel_rtt.tolist(),
            offset,
            cfg.latency_inbound_share,
        )
    return ConstantLatency.from_ms(cfg.latency_ms)


async def request_delay(model: LatencyModel, ts: int, kind: int) -> None:
    """A request of ``kind`` sent at ``ts`` travels to the exchange: wait the model's delay (wall clock)."""
    await asyncio.sleep(model.request_ns(ts, kind) / 1e9)


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
