"""The journal times every order request and its answer (real SQLite, a real engine run): on the
simulated exchange in virtual time, where each round trip is exactly the latency model's, and on the
wall-clock simulated exchange, where each takes at least its latency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import numpy as np
from processes import until
from test_parity import quoting_config

from liqkit.backtest.replay import run_replay
from liqkit.data.latency import export_frame, read_round_trips, write_round_trips
from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal, read_journal
from liqkit.venues.sim.venue import SimVenue

MS = 1_000_000


def test_a_replay_journals_each_request_with_the_models_round_trip(sample_data, tmp_path):
    result = run_replay(sample_data, quoting_config(latency_ms=7), state_dir=tmp_path / "st")
    with Journal(tmp_path / "st" / "journal.sqlite", "reader") as j:
        req = j.requests()
        orders = j.orders()
        sessions = j.sessions()
    assert len(sessions) == 1 and set(req["session"]) == {sessions[0]}
    assert sessions[0].startswith(f"{int(sample_data.book['ts_local'][0])}-")  # started at the data's first row
    assert set(req["engine_id"]) == {"replay"} and set(req["symbol"]) == {"BTCUSDT"}
    places = req[req["kind"].isin(["place", "replace"])]  # order entry: a new order alone or in a cancel-replace
    assert len(places) == result.metrics["orders_placed"] > 50
    assert (req["kind"] == "replace").sum() > 20  # quotes moved with one request each
    assert set(places["client_id"]) == set(orders.loc[orders["status"] == "PENDING_NEW", "client_id"])
    cancels = req[req["kind"] == "cancel"]
    assert len(cancels) + (req["kind"] == "replace").sum() >= result.metrics["orders_cancelled"] > 20
    assert {"ok", "not_open"} >= set(cancels["outcome"]) and "ok" in set(cancels["outcome"])
    answered = req[req["outcome"].isin(["ok", "refused", "not_open"])]
    rtt = answered["ts_answer"] - answered["ts_sent"]
    assert set(rtt) == {14 * MS}  # 7 ms out, 7 ms back, in virtual time
    assert req["ts_answer"].is_monotonic_increasing  # a row is written as its answer comes in
    assert read_journal(tmp_path / "st")["requests"].shape == req.shape
    # the export round-trips through a file into the measured model
    write_round_trips(export_frame(req), tmp_path / "rt.parquet")
    trips = read_round_trips(tmp_path / "rt.parquet")
    assert len(trips.place_ts) == (places["outcome"] != "unknown").sum()
    assert set(trips.place_rtt.tolist()) == set(trips.cancel_rtt.tolist()) == {14 * MS}


def test_the_wall_clock_simulated_exchange_journals_round_trips_of_at_least_its_latency(tmp_path):
    cfg = PairConfig(symbol="BTCUSDT", spread="0.5bps", refresh_tolerance="0.3bps", size=Decimal("0.002"))
    sim = SimConfig(latency_ms=15, balances={"BTC": Decimal(2), "USDT": Decimal(200_000)})

    async def scenario() -> EngineRunner:
        venue = SimVenue(["BTCUSDT"], sim, speed=20.0, cancel_replace=False)  # places and cancels apart
        journal = Journal.in_state_dir(tmp_path / "state")
        runner = EngineRunner(venue, [cfg], journal, timer_s=0.05)
        await runner.start(run=["BTCUSDT"])

        def counts() -> tuple[int, int]:
            r = journal.requests()
            return (r["kind"] == "place").sum(), (r["kind"] == "cancel").sum()

        await until(lambda: min(counts()) >= 4, what="four places and four cancels journaled")
        await runner.stop()
        journal.close()
        return runner

    runner = asyncio.run(scenario())
    req = read_journal(tmp_path / "state")["requests"]
    assert set(req["session"]) == {runner.session}
    for kind in ("place", "cancel"):
        rows = req[(req["kind"] == kind) & (req["outcome"] == "ok")]
        rtt = (rows["ts_answer"] - rows["ts_sent"]).to_numpy()
        assert len(rtt) >= 3, kind
        assert rtt.min() >= 29 * MS, (kind, rtt.min())  # two sleeps of 15 ms (the clock's ns, 1 ms slack)
        assert np.median(rtt) < 2_000 * MS, (kind, np.median(rtt))
    assert (req["ts_answer"] >= req["ts_sent"]).all()
