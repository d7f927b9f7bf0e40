"""The async runner on the wall-clock simulated exchange, with a real SQLite journal."""

import asyncio
from decimal import Decimal

from processes import until

from liqkit.domain.config import PairConfig, RiskConfig, SimConfig
from liqkit.domain.errors import RetryableError, VenueError
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.sim.venue import SimVenue


def make(tmp_path, cfg: PairConfig, risk: RiskConfig | None = None, speed: float = 20.0, latency_ms: float = 2):
    sim = SimConfig(
        fill_model="realistic",
        latency_ms=latency_ms,
        maker_fee_bps=Decimal(1),
        balances={"BTC": Decimal(2), "USDT": Decimal(200_000)},
    )
    venue = SimVenue([cfg.symbol], sim, speed=speed)
    journal = Journal.in_state_dir(tmp_path / "state")
    return EngineRunner(venue, [cfg], journal, risk, timer_s=0.05), venue, journal


def test_quotes_move_fill_and_stop_clean(tmp_path):
    cfg = PairConfig(symbol="BTCUSDT", spread="0.5bps", refresh_tolerance="0.3bps", size=Decimal("0.002"))

    async def scenario():
        runner, venue, journal = make(tmp_path, cfg)
        events = runner.subscribe()
        await runner.start(run=["BTCUSDT"])
        await until(lambda: len(venue.own_open_orders()) == 2, what="two orders")
        live = venue.own_open_orders()
        sides = {o.side.name for o in venue.exchange.open_orders()}
        await until(lambda: not set(venue.own_open_orders()) & set(live), what="both replaced")
        later = venue.own_open_orders()
        await until(lambda: venue.exchange.n_fills >= 2, what="two fills")
        status = runner.status()
        await runner.stop()
        return runner, venue, journal, live, sides, later, status, events

    runner, venue, journal, live, sides, later, status, events = asyncio.run(scenario())
    assert len(live) == 2 and sides == {"BUY", "SELL"}  # a buy and a sell rest
    assert not set(later) & set(live)  # they moved with the market
    assert status["pairs"]["BTCUSDT"]["state"] == "quoting" and not status["errors"]
    assert venue.own_open_orders() == []  # stop leaves nothing of liqkit's open
    assert runner.core.orders == {}
    fills = journal.fills()
    assert venue.exchange.n_fills > 0
    assert len(fills) == venue.exchange.n_fills  # every fill the exchange made, journaled once
    assert fills["fee"].sum() > 0
    # the engine's balances are the exchange's
    for asset, (free, locked) in venue.exchange.balances().items():
        if asset in runner.core.balances:
            assert runner.core.balances[asset] == (free, locked)
    orders = journal.orders()
    assert {"PENDING_NEW", "NEW", "PENDING_CANCEL", "CANCELED"} <= set(orders["status"])
    assert journal.states("BTCUSDT")["state"].tolist()[-1] == "stopped"
    kinds = set()
    while not events.empty():
        kinds.add(events.get_nowait().kind)
    assert {"book", "order", "fill", "state"} <= kinds
    lat = runner.latency_stats()
    assert lat["n"] >= 20 and 0 < lat["p50_us"] <= lat["p99_us"]


def test_stale_feed_pauses_then_resumes(tmp_path):
    cfg = PairConfig(symbol="BTCUSDT", spread="2bps")

    async def scenario():
        runner, venue, _ = make(tmp_path, cfg, RiskConfig(stale_feed_s=0.3))
        await runner.start(run=["BTCUSDT"])

        def seen() -> tuple[str, int]:
            return runner.status()["pairs"]["BTCUSDT"]["state"], len(venue.own_open_orders())

        try:
            await until(lambda: seen() == ("quoting", 2), what="two orders")
            venue.pause_feed()
            await until(lambda: seen() == ("paused", 0), what="paused, its orders cancelled, on the stale feed")
            venue.resume_feed()
            await until(lambda: seen() == ("quoting", 2), what="quoting again once the feed resumed")
        finally:
            await runner.stop()

    asyncio.run(scenario())


def test_kill_switch_halts_and_cancels(tmp_path):
    cfg = PairConfig(
        symbol="BTCUSDT",
        reference="touch",
        spread="0ticks",
        refresh_tolerance="0ticks",
        size=Decimal("0.5"),
        max_order_notional=Decimal(100_000),  # 0.5 BTC is worth far more than the default cap
        max_loss=Decimal("0.01"),
    )

    async def scenario():
        runner, venue, journal = make(tmp_path, cfg, speed=40)
        await runner.start(run=["BTCUSDT"])
        try:
            await until(lambda: runner.status()["pairs"]["BTCUSDT"]["state"] == "halted", 120, "the kill switch")
            await until(lambda: not venue.own_open_orders(), what="the halted pair's orders cancelled")
            state = runner.status()["pairs"]["BTCUSDT"]
            open_now = venue.own_open_orders()
        finally:
            await runner.stop()
        return state, open_now, journal.states("BTCUSDT")

    state, open_now, states = asyncio.run(scenario())
    assert state["state"] == "halted" and "kill switch" in state["reason"]
    assert open_now == []
    assert "halted" in states["state"].tolist()


class _BusyAtStop(SimVenue):
    """The simulated exchange, whose balances are refused while ``busy`` says (a rate limit, Binance's
    circuit breaker open) or for good (``broken``): what the runner's stop must get through."""

    def __init__(self, *a, busy: int = 0, broken: bool = False, **kw) -> None:
        super().__init__(*a, **kw)
        self.busy, self.broken, self.asked = busy, broken, 0
        self.stopping = False

    async def balances(self):
        if self.stopping:
            self.asked += 1
            if self.broken:
                raise VenueError("account endpoint down", 500)
            if self.asked <= self.busy:
                raise RetryableError("circuit open: Binance asked to wait 0.0s more", -1003, 0.0)
        return await super().balances()


def test_stop_gets_through_a_venue_that_refuses_the_final_balances_for_a_while_or_for_good(tmp_path):
    cfg = PairConfig(symbol="BTCUSDT", spread="1bps", size=Decimal("0.002"))
    sim = SimConfig(balances={"BTC": Decimal(2), "USDT": Decimal(200_000)})

    async def scenario(venue: _BusyAtStop) -> EngineRunner:
        runner = EngineRunner(venue, [cfg], Journal.in_state_dir(tmp_path / venue.name), timer_s=0.05)
        await runner.start(run=["BTCUSDT"])
        await until(lambda: len(venue.own_open_orders()) == 2, what="two orders")
        venue.stopping = True
        await runner.stop()
        return runner

    busy = _BusyAtStop(["BTCUSDT"], sim, speed=20.0, busy=3)
    runner = asyncio.run(scenario(busy))
    assert runner.state == "stopped" and busy.asked == 4 and venue_clean(busy)  # asked again until answered
    assert not [e for e in runner.errors if "final balances" in e]
    broken = _BusyAtStop(["BTCUSDT"], sim, speed=20.0, broken=True)
    runner = asyncio.run(scenario(broken))
    assert runner.state == "stopped" and broken.asked == 1 and venue_clean(broken)  # said, and stopped anyway
    assert any("stop: final balances not read: " in e and "account endpoint down" in e for e in runner.errors)


def venue_clean(venue: SimVenue) -> bool:
    return venue.own_open_orders() == []
