"""Run the engine through python-binance against a faulty local Binance, and check what must hold.

After every scenario: no liqkit order is left open at the server after stop (orphans); never were two
live liqkit orders on one pair, side and level (duplicates); every fill the server made is in the
journal exactly once (fills lost / doubled); liqkit's balances equal the server's.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from liqkit.domain.config import PairConfig, RiskConfig, SimConfig
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.binance import BinanceVenue
from liqkit.venues.binance_server.faults import Fault, FaultPlan
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "scenario-key-0123456789", "scenario-secret-0123456789abcdef"

# each of Binance's failure modes on its own (the fault suite runs each)
SCENARIOS: dict[str, list[Fault]] = {
    "http 502 with an HTML body on orders": [Fault("POST /api/v3/order", "http502", every=4)],
    "-1007, the order placed": [Fault("POST /api/v3/order", "-1007-placed", at=(3, 7, 11))],
    "-1007, the order not placed": [Fault("POST /api/v3/order", "-1007-not-placed", at=(2, 6, 10))],
    "429 with Retry-After": [Fault("POST /api/v3/order", "429", at=(5,), retry_after=1)],
    "418 with Retry-After": [Fault("DELETE /api/v3/order", "418", at=(3,), retry_after=1)],
    "slow answers": [Fault("*", "delay", every=3, delay_ms=300)],
    "clock skew past recvWindow": [Fault("*", "clock-skew", at=(4,), skew_ms=15_000)],
    "market stream drops": [Fault("stream", "drop", every=150)],
    "WebSocket API drop (user data goes silent)": [Fault("ws-api", "drop", at=(4, 20))],
    "serverShutdown": [Fault("ws-api", "server-shutdown", at=(6,))],
    "502 on cancels": [Fault("DELETE /api/v3/order", "http502", every=3)],
    "stream burst (400 frames at once)": [Fault("stream", "burst", at=(40, 200), repeat=400)],
    # order entry over the WebSocket API (the scenarios above that target REST order endpoints run with
    # REST order entry: see ``order_entry_for``)
    "WS API: -1007 on order.cancelReplace, done": [Fault("ws-api order.cancelReplace", "-1007-placed", at=(3, 7))],
    "WS API: -1007 on order.place, not placed": [Fault("ws-api order.place", "-1007-not-placed", at=(1, 2))],
    "WS API: drop in the middle of a cancelReplace, done": [Fault("ws-api order.cancelReplace", "drop-after", at=(4,))],
    "WS API: drop before a cancelReplace is done": [Fault("ws-api order.cancelReplace", "drop", at=(5,))],
    "WS API: cancelReplace, cancel done and new order refused": [
        Fault("ws-api order.cancelReplace", "cancel-replace-new-fails", at=(2, 6))
    ],
    "WS API: cancelReplace, cancel refused": [
        Fault("ws-api order.cancelReplace", "cancel-replace-cancel-fails", at=(3, 8))
    ],
    "WS API: the session's 24 h close": [Fault("ws-api order.cancelReplace", "session-expire", at=(4,))],
    "WS API: slow answers": [Fault("ws-api order.cancelReplace", "delay", every=3, delay_ms=300)],
    "REST cancelReplace: 502, and the new order refused": [
        Fault("POST /api/v3/order/cancelReplace", "http502", every=5),
        Fault("POST /api/v3/order/cancelReplace", "cancel-replace-new-fails", at=(3,)),
    ],
}

REST_ORDER_TARGETS = ("POST /api/v3/order", "DELETE /api/v3/order", "POST /api/v3/order/cancelReplace")


def order_entry_for(faults: list[Fault]) -> str:
    """``rest`` for a scenario whose faults target REST order endpoints (so they are exercised), else
    ``ws-api``, liqkit's default."""
    return "rest" if any(f.target in REST_ORDER_TARGETS for f in faults) else "ws-api"


# faults while liqkit starts (each fires on the first calls of its endpoint, before any quoting)
STARTUP_SCENARIOS: dict[str, list[Fault]] = {
    "start-up: 429/-1003 on exchangeInfo": [Fault("GET /api/v3/exchangeInfo", "429", at=(1, 2), retry_after=1)],
    "start-up: 429/-1003 on account": [Fault("GET /api/v3/account", "429", at=(1,), retry_after=1)],
    "start-up: 502 on openOrders": [Fault("GET /api/v3/openOrders", "http502", at=(1, 2))],
    "start-up: skewed clock": [Fault("GET /api/v3/openOrders", "clock-skew", at=(1,), skew_ms=15_000)],
}

# faults on from the moment a service crashed with orders open until (and while) it has started again
RESTART_SCENARIOS: dict[str, list[Fault]] = {
    "restart: -1007 on the cleanup's cancels": [
        Fault("DELETE /api/v3/order", "-1007-placed", at=(1,)),
        Fault("DELETE /api/v3/order", "-1007-not-placed", at=(2,)),
    ],
    "restart: 429 on exchangeInfo, 502 on openOrders, skewed clock": [
        Fault("GET /api/v3/exchangeInfo", "429", at=(1,), retry_after=1),
        Fault("GET /api/v3/openOrders", "http502", at=(1,)),
        Fault("GET /api/v3/account", "clock-skew", at=(1,), skew_ms=15_000),
        Fault("GET /api/v3/account", "429", at=(2,), retry_after=1),
    ],
}


def mixed_ws_plan(seed: int) -> FaultPlan:
    """Many WebSocket API order-entry faults at once (the engine's default order entry), by seeded
    probabilities: -1007s, drops before and after a request is carried out, cancel-replace's partial
    outcomes, delays, and the session's close."""
    return FaultPlan(
        [
            Fault("ws-api order.cancelReplace", "-1007-placed", probability=0.04),
            Fault("ws-api order.cancelReplace", "-1007-not-placed", probability=0.04),
            Fault("ws-api order.cancelReplace", "cancel-replace-new-fails", probability=0.05),
            Fault("ws-api order.cancelReplace", "cancel-replace-cancel-fails", probability=0.05),
            Fault("ws-api order.cancelReplace", "drop-after", probability=0.01),
            Fault("ws-api order.place", "-1007-placed", probability=0.05),
            Fault("ws-api order.cancel", "drop", probability=0.05),
            Fault("ws-api order.cancelReplace", "delay", probability=0.1, delay_ms=150),
            Fault("ws-api order.cancelReplace", "session-expire", at=(40,)),
            Fault("stream", "drop", probability=0.003),
        ],
        seed=seed,
    )


def mixed_plan(seed: int) -> FaultPlan:
    """Many faults at once, fired by seeded probabilities."""
    return FaultPlan(
        [
            Fault("POST /api/v3/order", "http502", probability=0.08),
            Fault("POST /api/v3/order", "-1007-placed", probability=0.05),
            Fault("POST /api/v3/order", "-1007-not-placed", probability=0.05),
            Fault("DELETE /api/v3/order", "http502", probability=0.08),
            Fault("*", "delay", probability=0.1, delay_ms=150),
            Fault("POST /api/v3/order", "429", at=(30,), retry_after=1),
            Fault("stream", "drop", probability=0.003),
            Fault("ws-api", "drop", at=(15,)),
        ],
        seed=seed,
    )


@dataclass
class ScenarioReport:
    """What one scenario did and whether the invariants held."""

    name: str
    faults_injected: int = 0
    orders_placed: int = 0
    fills_server: int = 0
    fills_journal: int = 0
    orphans: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    balance_mismatch: dict[str, tuple[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    resyncs: int = 0
    stream_restarts: int = 0
    unresolved: list[str] = field(default_factory=list)  # orders the engine still tracked after stop
    rate_limited: int = 0  # requests the server refused for going over a rate limit
    paced: int = 0  # new orders the venue held back to stay under the limits
    startup_retries: int = 0  # start-up steps retried through a transient fault
    orphans_at_restart: int = 0  # liqkit orders the crashed run left open when the restart began
    placed_after_restart: int = 0  # orders the restarted engine placed (it quotes again)
    order_entry: str = "ws-api"  # how the engine sent its orders
    ws_orders: int = 0  # order requests answered over the WebSocket API
    rest_orders: int = 0  # order requests sent over REST (all of them with REST order entry)
    ws_fallbacks: int = 0  # order requests sent over REST because the WebSocket API was down

    @property
    def fills_lost(self) -> int:
        """Fills the server made that the journal lacks (negative: journaled twice)."""
        return self.fills_server - self.fills_journal

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.orphans and not self.duplicates and self.fills_lost == 0 and not self.balance_mismatch


async def run_scenario(
    name: str,
    faults: FaultPlan,
    seconds: float = 3.0,
    speed: float = 20.0,
    state_dir: Path | None = None,
    stream_queue_size: int = 10_000,
    market_silence_s: float = 60.0,
    until: Callable[[ScenarioReport], bool] | None = None,
    max_seconds: float = 120.0,
    crash_first: bool = False,
    order_entry: str | None = None,
) -> ScenarioReport:
    """Quote BTCUSDT for ``seconds`` against a server injecting ``faults``, then stop and check.

    ``until`` keeps the scenario going after ``seconds`` until it holds for the report so far (its
    counters: faults injected, orders placed, resyncs, stream restarts, rate limited, paced), for at
    most ``max_seconds`` in all: on a busy machine a scenario then takes longer instead of ending
    before its faults fired.

    ``crash_first``: a first engine quotes (wide, so its orders rest) and dies without cleaning up, as
    on SIGKILL; then ``faults`` are switched on and a second engine starts on the same journal: it
    must come up through the faults, cancel the orphans, and quote.

    ``order_entry``: the engine's (``ws-api`` or ``rest``); by default ``order_entry_for`` the faults.
    """
    entry = order_entry or order_entry_for(faults.faults)
    # REST scenarios about place and cancel keep moving quotes with a cancel and a place
    replace = entry == "ws-api" or any("cancelReplace" in f.target for f in faults.faults)
    sim = SimConfig(balances={"BTC": Decimal(2), "USDT": Decimal(200_000)}, maker_fee_bps=Decimal(1))
    server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, sim, speed=speed, faults=FaultPlan() if crash_first else faults)
    site_runner, url = await server.listen()
    tmp = None if state_dir is not None else tempfile.TemporaryDirectory()
    state = state_dir or Path(tmp.name)  # type: ignore[union-attr]

    def make_venue() -> BinanceVenue:
        return BinanceVenue(
            ["BTCUSDT"],
            KEY,
            SECRET,
            base_url=url,
            order_entry=entry,
            cancel_replace=replace,
            stream_queue_size=stream_queue_size,
            market_silence_s=market_silence_s,
        )

    cfg = PairConfig.model_validate(
        {"symbol": "BTCUSDT", "spread": "0.5bps", "refresh_tolerance": "0.3bps", "size": "0.002"}
    )
    report = ScenarioReport(name, order_entry=entry)
    if crash_first:
        try:
            report.orphans_at_restart = await _crash(make_venue(), cfg, state, server)
        except BaseException:
            await site_runner.cleanup()
            raise
        server.faults = faults
    journal = Journal.in_state_dir(state)
    venue = make_venue()
    runner = EngineRunner(venue, [cfg], journal, RiskConfig(stale_feed_s=3), timer_s=0.2)
    runner.startup.initial_s = 0.2
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + max_seconds
        placed_before = _own_orders(server)
        await runner.start(run=["BTCUSDT"])
        report.startup_retries = runner.startup.attempts
        await asyncio.sleep(seconds)
        while until is not None and not until(_counters(report, server, faults, venue)) and loop.time() < end:
            await asyncio.sleep(0.1)
        await runner.stop(timeout_s=15)
        await asyncio.sleep(0.3)  # let the server finish what it was sending
        _counters(report, server, faults, venue)
        report.orphans = server.venue.own_open_orders()
        report.duplicates = list(server.duplicates)
        report.fills_server = server.fills_made
        report.fills_journal = len(journal.fills())
        report.placed_after_restart = _own_orders(server) - placed_before
        report.errors = list(runner.errors)
        report.unresolved = [f"{o.client_id} {o.status} filled={o.filled}" for o in runner.core.orders.values()]
        for asset, (free, locked) in server.venue.exchange.balances().items():
            ours = runner.core.balances.get(asset)
            if asset in ("BTC", "USDT") and ours != (free, locked):
                report.balance_mismatch[asset] = (str(ours), f"({free}, {locked})")
    finally:
        journal.close()
        await site_runner.cleanup()
        if tmp is not None:
            tmp.cleanup()
    return report


def _counters(report: ScenarioReport, server: BinanceServer, faults: FaultPlan, venue: BinanceVenue) -> ScenarioReport:
    """Fill in the report's running counters (what ``until`` may look at) from the server and venue."""
    report.orders_placed = _own_orders(server)
    report.faults_injected = faults.total_injected
    report.resyncs, report.stream_restarts = venue.resyncs, venue.stream_restarts
    report.rate_limited, report.paced = server.rate_limited, venue.paced
    report.ws_orders, report.rest_orders, report.ws_fallbacks = venue.ws_orders, venue.rest_orders, venue.ws_fallbacks
    return report


def _own_orders(server: BinanceServer) -> int:
    return sum(1 for o in server.orders.values() if o["clientOrderId"].startswith("lq."))


async def _crash(venue: BinanceVenue, cfg: PairConfig, state: Path, server: BinanceServer) -> int:
    """Quote wide until two liqkit orders rest at the server, then die as on SIGKILL: no cancel, no
    stop, the connections just gone. The number of liqkit orders left open."""
    wide = PairConfig.model_validate(
        {**cfg.model_dump(exclude={"bid_spread", "ask_spread"}), "spread": "200bps", "refresh_tolerance": "100bps"}
    )
    journal = Journal.in_state_dir(state)
    runner = EngineRunner(venue, [wide], journal, RiskConfig(stale_feed_s=3), timer_s=0.2)
    await runner.start(run=["BTCUSDT"])
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    while (len(server.venue.own_open_orders()) < 2 or runner._tasks) and loop.time() < end:
        await asyncio.sleep(0.05)
    for t in [*runner._loops, *runner._tasks]:
        t.cancel()
    await asyncio.gather(*runner._loops, *runner._tasks, return_exceptions=True)
    await venue.close()
    journal.close()
    return len(server.venue.own_open_orders())
