"""The active rebalance through python-binance against ``liqkit sim-server`` (the server in this process,
on 127.0.0.1, replaying the shipped BTCUSDT recording): the engine starts with 38% of its value in BTC,
below its band of 40% to 60%, and rebalances back into it — a LIMIT IOC within the slippage (taker) or a
LIMIT_MAKER at the touch (maker) — over the WebSocket API, its fills journaled as "rebalance", nothing
left open at the server after stop."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from processes import until

from liqkit.data.capture import load_sample
from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.binance import BinanceVenue
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "test-key-0123456789", "test-secret-abcdefghij"


def share(runner: EngineRunner) -> float:
    st = runner.core.pair("BTCUSDT")
    base2 = (st.base_free + st.base_locked) * (st.bid + st.ask)
    return base2 / (base2 + 2 * (st.quote_free + st.quote_locked))


@pytest.mark.parametrize("mode", ["taker", "maker"])
def test_the_engine_rebalances_through_python_binance(tmp_path, mode):
    async def scenario():
        sim = SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(100_000)})
        server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, sim, data={"BTCUSDT": load_sample()}, speed=5)
        web_runner, url = await server.listen()
        venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url)
        journal = Journal.in_state_dir(tmp_path)
        cfg = PairConfig(
            symbol="BTCUSDT",
            spread="20bps",  # the quotes stay out of the way: the fills are the rebalance's
            rebalance_band=Decimal("0.1"),
            rebalance_mode=mode,
            max_order_notional=Decimal(5000),
        )
        runner = EngineRunner(venue, [cfg], journal, timer_s=0.1)
        try:
            await runner.start(run=["BTCUSDT"])
            await until(lambda: runner.core.pair("BTCUSDT").has_book, 60, "the first book")
            await until(lambda: 0.4 <= share(runner) <= 0.6, 120, "the BTC share back in its band")
            await until(lambda: runner.core.pair("BTCUSDT").rebal is None, 30, "the rebalancing order gone")
            await until(lambda: runner.core.pair("BTCUSDT").reason.startswith("rebalanced"), 30, "the pair's reason")
            sent = [o for o in server.book.orders.values() if ".R" in o["clientOrderId"]]
            after = share(runner)
            status = runner.status()
            await runner.stop()
            return server, journal, sent, after, status, venue.ws_orders
        finally:
            await web_runner.cleanup()

    server, journal, sent, after, status, ws_orders = asyncio.run(scenario())
    assert 0.4 <= after <= 0.6
    assert ws_orders >= len(sent)  # order entry over the WebSocket API (order.place)
    assert sent and all(o["side"] == "BUY" for o in sent)  # 38% BTC: it bought
    if mode == "taker":
        assert all((o["type"], o["timeInForce"]) == ("LIMIT", "IOC") for o in sent), sent
    else:
        assert all(o["type"] == "LIMIT_MAKER" for o in sent), sent
    fills = journal.fills()
    rb = fills[fills["purpose"] == "rebalance"]
    assert len(rb) >= 1 and set(rb["side"]) == {"BUY"}
    assert (rb["is_maker"] == (1 if mode == "maker" else 0)).all()
    assert set(rb["client_id"]) <= {o["clientOrderId"] for o in sent}
    orders = journal.orders()
    rb_orders = orders[orders["purpose"] == "rebalance"]
    refused = set(rb_orders[rb_orders["status"] == "REJECTED"]["client_id"])  # e.g. a post-only that would take
    assert set(rb_orders["client_id"]) - refused == {o["clientOrderId"] for o in sent}
    assert len(fills) == server.venue.exchange.n_fills  # every fill the server made, journaled once
    assert server.venue.own_open_orders() == []  # stop left nothing open
    assert "rebalanced: BTC share" in " ".join(journal.states("BTCUSDT")["reason"])
    assert not status["errors"], status["errors"]
