"""Iceberg orders through python-binance against ``liqkit sim-server`` on 127.0.0.1: the engine quotes
icebergs (``iceberg_visible``) over the WebSocket API and REST, the server's depth shows only their visible
part, order answers and queries echo ``icebergQty`` as Binance does, and the server refuses an icebergQty
with Binance's codes (ICEBERG_PARTS, a type or time in force that does not allow it, not below the quantity)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from binance.exceptions import BinanceAPIException
from markets import still_feed
from processes import until

from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.binance import BinanceVenue, client_class, close_client
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "ice-key-0123456789", "ice-secret-abcdefghijklmnop"
D = Decimal


async def serve() -> tuple[BinanceServer, object, str]:
    """The still market of ``markets.still_feed`` (60000.00 x 0.3 BTC / 60000.01 x 0.2 BTC)."""
    sim = SimConfig(balances={"BTC": D(2), "USDT": D(200_000)})
    server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, sim, {"BTCUSDT": still_feed(600.0)}, speed=1.0)
    runner, url = await server.listen()
    await until(lambda: server._book("BTCUSDT").bid, 60, "a first book")
    return server, runner, url


@pytest.mark.parametrize("entry", ["ws-api", "rest"])
def test_the_engine_quotes_icebergs_and_the_depth_shows_only_their_visible_part(tmp_path, entry):
    async def scenario():
        server, web_runner, url = await serve()
        venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url, order_entry=entry)
        cfg = PairConfig(symbol="BTCUSDT", spread="1bps", size=D("0.002"), iceberg_visible="25%")
        runner = EngineRunner(venue, [cfg], Journal.in_state_dir(tmp_path), timer_s=0.1)
        client = await client_class(url).create(KEY, SECRET)
        try:
            await runner.start(run=["BTCUSDT"])
            await until(lambda: len(server.venue.own_open_orders()) == 2, 60, "a bid and an ask")
            book = await client.get_order_book(symbol="BTCUSDT", limit=10)
            opened = await client.get_open_orders(symbol="BTCUSDT")
            await runner.stop()
            gone = server.venue.own_open_orders()
            return book, opened, gone, venue.ws_orders, venue.rest_orders
        finally:
            await close_client(client)
            await web_runner.cleanup()

    book, opened, gone, ws_orders, rest_orders = asyncio.run(scenario())
    assert len(opened) == 2
    for o in opened:  # each quote went out as an iceberg showing 25% of its 0.002 BTC
        assert (o["origQty"], o["icebergQty"], o["timeInForce"]) == ("0.002", "0.0005", "GTC")
    prices = {o["side"]: o["price"] for o in opened}
    bids, asks = dict(book["bids"]), dict(book["asks"])
    assert bids[prices["BUY"]] == "0.0005" and asks[prices["SELL"]] == "0.0005"  # the visible part, not 0.002
    assert bids["60000"] == "0.3" and asks["60000.01"] == "0.2"  # the market beside them as it is
    assert gone == []  # stop cancelled them
    assert (ws_orders > 0, rest_orders > 0) == ((True, False) if entry == "ws-api" else (False, True))


def test_python_binance_places_icebergs_over_rest_and_the_websocket_api_with_binances_checks():
    async def scenario():
        server, web_runner, url = await serve()
        client = await client_class(url).create(KEY, SECRET)
        try:
            low = "59000"
            placed = await client.create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=low,
                icebergQty="0.002", newClientOrderId="ice.rest", newOrderRespType="RESULT",
            )  # fmt: skip
            assert (placed["status"], placed["icebergQty"], placed["origQty"]) == ("NEW", "0.002", "0.01")
            q = await client.get_order(symbol="BTCUSDT", origClientOrderId="ice.rest")
            assert q["icebergQty"] == "0.002"
            ws = await client.ws_create_order(
                symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER", quantity="0.004", price="61000",
                icebergQty="0.001", newClientOrderId="ice.ws",
            )  # fmt: skip
            assert ws["clientOrderId"] == "ice.ws" and "icebergQty" not in ws  # an ACK answer has no order fields
            assert (await client.ws_get_order(symbol="BTCUSDT", origClientOrderId="ice.ws"))["icebergQty"] == "0.001"
            plain = await client.create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price="58000",
                newClientOrderId="plain", newOrderRespType="RESULT",
            )  # fmt: skip
            assert "icebergQty" not in plain  # only when the request sent one, as Binance answers
            book = await client.get_order_book(symbol="BTCUSDT", limit=20)
            assert dict(book["bids"])["59000"] == "0.002" and dict(book["asks"])["61000"] == "0.001"
            assert dict(book["bids"])["58000"] == "0.001"

            async def refused(**params):
                base = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", "price": low}
                with pytest.raises(BinanceAPIException) as e:
                    await client.create_order(**{**base, **params})
                return e.value.code, e.value.message

            assert await refused(type="LIMIT_MAKER", icebergQty="0.0005") == (-1013, "Filter failure: ICEBERG_PARTS")
            assert await refused(type="LIMIT_MAKER", icebergQty="0.01") == (-2010, "IcebergQty exceeds QTY.")
            assert await refused(type="LIMIT", timeInForce="IOC", icebergQty="0.002") == (
                -2010,
                "Unsupported order combination",
            )
            assert await refused(type="LIMIT_MAKER", icebergQty="0.000001") == (-1013, "Filter failure: LOT_SIZE")
            code, message = await refused(type="MARKET", price=None, icebergQty="0.002")
            assert (code, message) == (-1106, "Parameter 'icebergQty' sent when not required.")
            with pytest.raises(BinanceAPIException) as e:  # the WebSocket API answers the same
                await client.ws_create_order(
                    symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.01", price=low, icebergQty="0.0005"
                )
            assert (e.value.code, e.value.message) == (-1013, "Filter failure: ICEBERG_PARTS")
            return sorted(server.venue.exchange.orders)
        finally:
            await close_client(client)
            await web_runner.cleanup()

    assert asyncio.run(scenario()) == ["ice.rest", "ice.ws", "plain"]  # nothing refused was placed


@pytest.mark.parametrize("entry", ["ws-api", "rest"])
def test_the_venue_sends_icebergqty_with_new_orders_and_cancel_replaces(entry):
    from liqkit.domain.types import Side
    from liqkit.engine.intents import Place, Replace

    async def scenario():
        server, web_runner, url = await serve()
        venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url, order_entry=entry)
        await venue.start()
        try:
            await venue.rules(["BTCUSDT"])
            if entry == "ws-api":
                await until(lambda: venue.client.ws_api is not None and venue.client.ws_api.ws is not None, 60)
            await venue.place(Place("BTCUSDT", "lq.i.1", Side.BUY, 5_900_000, 400, True, 0, 100))
            first = server.venue.exchange.orders["lq.i.1"]
            shown = (first.visible, first.shown)
            new = Place("BTCUSDT", "lq.i.2", Side.BUY, 5_899_999, 300, False, 0, 150)
            await venue.replace(Replace("BTCUSDT", "lq.i.1", new))
            second = server.book.orders[server.book.by_cid["lq.i.2"]]
            levels = server.venue.exchange.levels(0, 5)[0]
            return shown, second, levels, venue.ws_orders, venue.rest_orders
        finally:
            await venue.close()
            await web_runner.cleanup()

    shown, second, levels, ws_orders, rest_orders = asyncio.run(scenario())
    assert shown == (100, 100)
    assert (second["icebergQty"], second["origQty"], second["type"], second["timeInForce"]) == (
        "0.0015",
        "0.003",
        "LIMIT",
        "GTC",
    )
    assert (5_899_999, 150) in levels and all(p != 5_900_000 for p, _ in levels)  # the new one, its visible part
    assert (ws_orders, rest_orders) == ((2, 0) if entry == "ws-api" else (0, 2))
