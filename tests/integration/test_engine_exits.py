"""The engine's OCO exits against sim-server on 127.0.0.1, through ``BinanceVenue`` (REST or the WebSocket
API): a pair holding more base than ``inventory_target``'s share gets one OCO for the excess (a
take-profit above the mid, a stop below it); stopping the engine cancels it, so the server holds no open
list; on a rising market the take-profit fills and the stop expires. The list and its legs are journaled."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from markets import drifting_feed, still_feed
from processes import until

from liqkit.data.feed import MarketData
from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.binance import BinanceVenue, client_class, close_client
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "exit-key-0123456789", "exit-secret-abcdefghij"
D = Decimal
# 5 BTC and 60,000 USDT at 60,000: half the value is 3 BTC, so 2 BTC are past the target
BALANCES = {"BTC": D(5), "USDT": D(60_000)}
EXIT = {"exit_inventory": D("0.5"), "exit_take_profit": "20bps", "exit_stop_loss": "30bps"}


def pair(**exits: Any) -> PairConfig:
    return PairConfig(symbol="BTCUSDT", spread="5bps", size=D("0.002"), **exits)


async def engine(tmp_path: Any, data: MarketData, entry: str, cfg: PairConfig) -> tuple[Any, ...]:
    server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, SimConfig(balances=BALANCES), {"BTCUSDT": data}, speed=1)
    web, url = await server.listen()
    venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url, order_entry=entry)
    venue.wire_log = []
    journal = Journal.in_state_dir(tmp_path)
    runner = EngineRunner(venue, [cfg], journal, timer_s=0.1)
    await until(lambda: server._book("BTCUSDT").bid and server.tapes["BTCUSDT"].trades, 60, "a book and a trade")
    await runner.start(run=["BTCUSDT"])
    return server, web, venue, journal, runner


@pytest.mark.parametrize("entry", ["ws-api", "rest"])
def test_the_engine_places_one_exit_for_the_excess_and_stop_cancels_it(tmp_path, entry):
    async def scenario() -> None:
        server, web, venue, journal, runner = await engine(tmp_path, still_feed(120), entry, pair(**EXIT))
        try:
            await until(lambda: server.lists.open_count() == 1, 60, "the engine's exit list")
            (ol,) = [x for x in server.lists.lists.values() if x.open]
            tp, sl = server.book.orders[ol.limit_id], server.book.orders[ol.stop_id]
            assert (tp["side"], tp["type"], sl["type"]) == ("SELL", "LIMIT_MAKER", "STOP_LOSS")
            # the whole excess (2 BTC), or what is free of it beside the engine's own ask (0.002)
            assert D("1.997") <= D(tp["origQty"]) <= D("2") and tp["origQty"] == sl["origQty"]
            mid = D("60000.005")
            assert D(tp["price"]) == (mid * (1 + D("0.002"))).quantize(D("0.01"), "ROUND_CEILING")
            assert D(sl["stopPrice"]) == (mid * (1 - D("0.003"))).quantize(D("0.01"), "ROUND_FLOOR")
            assert tp["clientOrderId"].startswith("lq.") and ol.client_id.startswith("lq.")
            methods = {m for _, m, _ in venue.wire_log}
            if entry == "ws-api":
                assert "orderList.place.oco" in methods, methods
            assert server.lists.open_count() == 1  # one exit at a time, however many balance updates came
            if entry == "rest":  # stopping the pair alone cancels its exit too
                await runner.stop_pair("BTCUSDT")  # its requests go out; the list is cancelled as they land
                await until(lambda: server.lists.open_count() == 0, 60, "the pair's exit cancelled")
            await runner.stop()
            assert server.lists.open_count() == 0  # no orphan list
            assert server.venue.own_open_orders() == [] and not server.book.open_orders({"symbol": "BTCUSDT"})
            assert (tp["status"], sl["status"]) == ("CANCELED", "CANCELED")
        finally:
            if runner.state != "stopped":
                await runner.stop()
            await web.cleanup()
        reasons = list(journal.states("BTCUSDT")["reason"])
        assert any(r.startswith(f"exit {ol.client_id}: OCO SELL") for r in reasons), reasons
        assert f"exit {ol.client_id} done: no leg filled" in reasons, reasons
        legs = journal.orders("BTCUSDT")
        legs = legs[legs["client_id"].isin([tp["clientOrderId"], sl["clientOrderId"]])]
        assert set(legs["purpose"]) == {"exit"}, legs
        ends = legs.groupby("client_id")["status"].last()
        assert list(ends) == ["CANCELED", "CANCELED"], legs  # each leg's last word: cancelled with the list

    asyncio.run(scenario())


def test_start_up_cleanup_cancels_an_exit_a_crashed_run_left_open(tmp_path):
    async def scenario() -> None:
        server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, SimConfig(balances=BALANCES), {"BTCUSDT": still_feed()})
        web, url = await server.listen()
        try:
            await until(lambda: server._book("BTCUSDT").bid and server.tapes["BTCUSDT"].trades, 60, "a market")
            client = await client_class(url).create(KEY, SECRET)
            try:  # as a crashed run's exit: liqkit's client ids
                await client.create_oco_order(
                    symbol="BTCUSDT",
                    side="SELL",
                    quantity="1",
                    listClientOrderId="lq.BTCUSDT.xold1",
                    aboveType="LIMIT_MAKER",
                    abovePrice="60500",
                    aboveClientOrderId="lq.BTCUSDT.xold1.tp",
                    belowType="STOP_LOSS",
                    belowStopPrice="59500",
                    belowClientOrderId="lq.BTCUSDT.xold1.sl",
                )
            finally:
                await close_client(client)
            assert server.lists.open_count() == 1
            venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url)
            runner = EngineRunner(venue, [pair()], Journal.in_state_dir(tmp_path), timer_s=0.1)
            await runner.start()  # cleans up liqkit's orders left open, the legs among them
            try:
                assert server.lists.open_count() == 0
            finally:
                await runner.stop()
        finally:
            await web.cleanup()

    asyncio.run(scenario())


def test_exits_off_by_default_place_no_list(tmp_path):
    async def scenario() -> None:
        server, web, _venue, _journal, runner = await engine(tmp_path, still_feed(120), "rest", pair())
        try:
            await until(lambda: server.venue.own_open_orders(), 60, "the engine's quotes")
            seen = len(server.tapes["BTCUSDT"].trades)
            await until(lambda: len(server.tapes["BTCUSDT"].trades) > seen + 20, 60, "two more seconds of trades")
            assert server.lists.lists == {}
            assert not [o for o in runner.core.orders.values() if o.exit_list]
            await runner.stop()
        finally:
            if runner.state != "stopped":
                await runner.stop()
            await web.cleanup()

    asyncio.run(scenario())


def test_a_rising_market_fills_the_exits_take_profit_and_the_stop_expires(tmp_path):
    async def scenario() -> None:
        cfg = pair(exit_inventory=D("0.5"), exit_take_profit="3ticks", exit_stop_loss="500bps")
        server, web, _venue, journal, runner = await engine(
            tmp_path, drifting_feed(+1, book_follows=True), "ws-api", cfg
        )
        try:
            st = runner.core.pair("BTCUSDT")
            await until(lambda: server.lists.lists and st.exit is None, 120, "the exit's take-profit to fill")
            (ol,) = list(server.lists.lists.values())[:1]
            tp, sl = server.book.orders[ol.limit_id], server.book.orders[ol.stop_id]
            assert (tp["status"], sl["status"]) == ("FILLED", "EXPIRED")
            # the exit's sale is the pair's own: in its position (the quotes' fills beside it)
            assert st.pos <= -int(D(tp["executedQty"]) / st.rules.step)
            await runner.stop()
            assert server.lists.open_count() == 0
        finally:
            if runner.state != "stopped":
                await runner.stop()
            await web.cleanup()
        fills = journal.fills("BTCUSDT")
        mine = fills[fills["client_id"] == tp["clientOrderId"]]
        assert set(mine["purpose"]) == {"exit"} and D(str(mine["qty"].sum())) == D(tp["executedQty"]), fills
        states = journal.states("BTCUSDT")
        assert f"exit {ol.client_id} done: take-profit filled" in list(states["reason"]), list(states["reason"])
        legs = journal.orders("BTCUSDT")  # the stop leg's EXPIRED report reached the engine
        assert "EXPIRED" in set(legs[legs["client_id"] == sl["clientOrderId"]]["status"]), legs

    asyncio.run(scenario())
