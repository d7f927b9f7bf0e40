"""python-binance against liqkit's Binance-compatible server on 127.0.0.1: nothing mocked below it."""

import asyncio
from collections import Counter
from decimal import Decimal

import pytest
from binance.exceptions import BinanceAPIException
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from processes import until

from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.runner import EngineRunner
from liqkit.journal import Journal
from liqkit.venues.binance import BinanceVenue, client_class, close_client, socket_manager_class
from liqkit.venues.binance_server.auth import ApiKey, hmac_key, public_key
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "test-key-0123456789", "test-secret-abcdefghij"


async def first_book(client) -> dict:
    """The server's top of book once its feed has shown one (the feed starts with the server)."""
    end = asyncio.get_running_loop().time() + 60
    while True:
        book = await client.get_orderbook_ticker(symbol="BTCUSDT")
        if Decimal(book["bidPrice"]) > 0:
            return book
        assert asyncio.get_running_loop().time() < end, "the server's feed never showed a book"
        await asyncio.sleep(0.2)  # a bookTicker costs 2 of 1,200 weight a minute


async def serve(speed: float = 10.0):
    sim = SimConfig(balances={"BTC": Decimal(2), "USDT": Decimal(200_000), "ETH": Decimal(20)})
    server = BinanceServer(["BTCUSDT", "ETHUSDT"], {KEY: SECRET}, sim, speed=speed)
    runner, url = await server.listen()
    return server, runner, url


def test_an_ordinary_python_binance_client_trades_on_it():
    async def scenario():
        _server, runner, url = await serve()
        client = await client_class(url).create(KEY, SECRET)
        try:
            book = await first_book(client)
            info = await client.get_exchange_info()
            assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT"}
            bid = Decimal(book["bidPrice"])
            acct = await client.get_account()
            assert {b["asset"]: b["free"] for b in acct["balances"]}["USDT"] == "200000"
            low = format(bid - 50, "f")
            o = await client.create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=low, newClientOrderId="lq.t.1"
            )
            # LIMIT_MAKER answers ACK unless asked otherwise, as on Binance: ids and time, no status
            assert set(o) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
            assert o["clientOrderId"] == "lq.t.1"
            q = await client.get_order(symbol="BTCUSDT", origClientOrderId="lq.t.1")
            assert q["price"] == low.rstrip("0").rstrip(".") and q["status"] == "NEW"
            assert [x["clientOrderId"] for x in await client.get_open_orders(symbol="BTCUSDT")] == ["lq.t.1"]
            acct = await client.get_account()
            assert {b["asset"]: b["locked"] for b in acct["balances"]}["USDT"] != "0"
            # a post-only order that would take is refused as Binance does
            with pytest.raises(BinanceAPIException) as e:
                await client.create_order(
                    symbol="BTCUSDT",
                    side="BUY",
                    type="LIMIT_MAKER",
                    quantity="0.001",
                    price=format(bid + 100, "f"),
                    newClientOrderId="lq.t.2",
                )
            assert e.value.code == -2010 and "immediately match" in e.value.message
            with pytest.raises(BinanceAPIException) as e:  # filters
                await client.create_order(
                    symbol="BTCUSDT",
                    side="BUY",
                    type="LIMIT_MAKER",
                    quantity="0.00001",
                    price=low,
                    newClientOrderId="lq.t.3",
                )
            assert e.value.code == -1013
            with pytest.raises(BinanceAPIException) as e:  # timeInForce on LIMIT_MAKER
                await client.create_order(
                    symbol="BTCUSDT",
                    side="BUY",
                    type="LIMIT_MAKER",
                    timeInForce="GTC",
                    quantity="0.001",
                    price=low,
                    newClientOrderId="lq.t.4",
                )
            assert e.value.code == -1106
            c = await client.cancel_order(symbol="BTCUSDT", origClientOrderId="lq.t.1")
            assert c["status"] == "CANCELED"
            with pytest.raises(BinanceAPIException) as e:
                await client.cancel_order(symbol="BTCUSDT", origClientOrderId="lq.t.1")
            assert e.value.code == -2011
            with pytest.raises(BinanceAPIException) as e:
                await client.get_order(symbol="BTCUSDT", origClientOrderId="never")
            assert e.value.code == -2013
            # a wrong secret: -1022; a clock far off: -1021
            bad = await client_class(url).create(KEY, "wrong-secret")
            with pytest.raises(BinanceAPIException) as e:
                await bad.get_account()
            assert e.value.code == -1022
            await close_client(bad)
            client.timestamp_offset = -120_000
            with pytest.raises(BinanceAPIException) as e:
                await client.get_account()
            assert e.value.code == -1021
            client.timestamp_offset = 0
            # combined market streams through BinanceSocketManager
            bsm = socket_manager_class(url)(client)
            async with bsm.multiplex_socket(["btcusdt@bookTicker", "btcusdt@trade"]) as s:
                frames = [await asyncio.wait_for(s.recv(), 60) for _ in range(5)]
            assert {f["stream"] for f in frames} <= {"btcusdt@bookTicker", "btcusdt@trade"}  # as Binance names them
            assert all(f["data"]["s"] == "BTCUSDT" for f in frames)
        finally:
            await close_client(client)
            await runner.cleanup()

    asyncio.run(scenario())


def test_user_data_over_the_websocket_api():
    async def scenario():
        _server, runner, url = await serve()
        client = await client_class(url).create(KEY, SECRET)
        try:
            await first_book(client)
            bsm = socket_manager_class(url)(client)
            async with bsm.user_socket() as user:
                book = await client.get_orderbook_ticker(symbol="BTCUSDT")
                await client.create_order(
                    symbol="BTCUSDT",
                    side="BUY",
                    type="LIMIT_MAKER",
                    quantity="0.001",
                    price=format(Decimal(book["bidPrice"]) - 20, "f"),
                    newClientOrderId="lq.u.1",
                )
                events = [await asyncio.wait_for(user.recv(), 60) for _ in range(2)]
            kinds = {e["e"] for e in events}
            assert kinds == {"executionReport", "outboundAccountPosition"}
            report = next(e for e in events if e["e"] == "executionReport")
            assert (report["c"], report["x"], report["X"], report["S"]) == ("lq.u.1", "NEW", "NEW", "BUY")
        finally:
            await close_client(client)
            await runner.cleanup()

    asyncio.run(scenario())


def key_pair(kind: str) -> tuple[ApiKey, str]:
    """A server-side key of ``kind`` and what the client signs with: the HMAC secret, or the private
    key's PEM text (Ed25519 or RSA), loaded the way liqkit loads BINANCE_PRIVATE_KEY_PATH."""
    if kind == "hmac":
        return hmac_key(SECRET), SECRET
    key = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else rsa.generate_private_key(65537, 2048)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return public_key(pub), pem.decode()


@pytest.mark.parametrize(
    ("kind", "entry"), [("hmac", "ws-api"), ("ed25519", "ws-api"), ("rsa", "ws-api"), ("ed25519", "rest")]
)
def test_the_engine_quotes_through_python_binance_and_stops_clean(tmp_path, kind, entry):
    server_key, signing = key_pair(kind)

    async def scenario():
        sim = SimConfig(balances={"BTC": Decimal(2), "USDT": Decimal(200_000), "ETH": Decimal(20)})
        server = BinanceServer(["BTCUSDT", "ETHUSDT"], {KEY: server_key}, sim, speed=20)
        web_runner, url = await server.listen()
        if kind == "hmac":
            venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url, order_entry=entry)
        else:
            venue = BinanceVenue(["BTCUSDT"], KEY, private_key=signing, base_url=url, order_entry=entry)
        journal = Journal.in_state_dir(tmp_path)
        cfg = PairConfig(symbol="BTCUSDT", spread="0.5bps", refresh_tolerance="0.3bps", size=Decimal("0.002"))
        runner = EngineRunner(venue, [cfg], journal, timer_s=0.1)
        venue.wire_log = []  # the method of each order request
        try:
            await runner.start(run=["BTCUSDT"])
            seen: set[str] = set()

            def quoted_and_filled() -> bool:  # quotes that moved with the market, and a fill
                seen.update(server.venue.own_open_orders())
                return len(seen) >= 6 and server.venue.exchange.n_fills >= 1

            await until(quoted_and_filled, 120, "six orders and a fill")
            status = runner.status()
            paths = (venue.ws_orders, venue.rest_orders, venue.ws_fallbacks, Counter(m for _, m, _ in venue.wire_log))
            await runner.stop()
            return server, runner, journal, seen, status, paths
        finally:
            await web_runner.cleanup()

    server, runner, journal, seen, status, (ws_orders, rest_orders, fallbacks, methods) = asyncio.run(scenario())
    if entry != "ws-api":
        assert ws_orders == 0 and rest_orders >= 6
    else:  # every order request went over the WebSocket API (REST only while it was down)
        assert ws_orders >= 6 and rest_orders == fallbacks, (ws_orders, rest_orders, fallbacks)
        assert methods["order.cancelReplace"] >= 2, methods  # quotes moved with one request each
    assert len(seen) >= 6  # quotes appeared and moved with the market
    assert any(".B0." in c for c in seen) and any(".S0." in c for c in seen)  # on both sides
    assert not status["errors"], status["errors"]
    assert server.venue.own_open_orders() == []  # stop leaves no liqkit order open at the server
    assert runner.core.orders == {}
    fills = journal.fills()
    assert len(fills) == server.venue.exchange.n_fills  # each fill the server made, journaled once
    for asset, (free, locked) in server.venue.exchange.balances().items():
        if asset in ("BTC", "USDT"):
            assert runner.core.balances[asset] == (free, locked)


@pytest.mark.parametrize("entry", ["ws-api", "rest"])
def test_the_venue_amends_replaces_and_sends_its_stp_mode(entry):
    """BinanceVenue's order requests one by one against the server, over the WebSocket API or REST: the
    pair's STP mode goes with each order; a keepPriority amend keeps the order (id, queue) and cuts it; a
    cancel-replace leaves the new order alone in the book; a cancel-replace of an order that is gone is
    ``ReplaceFailed`` naming the cancel, and nothing is placed; cancel all takes every open order."""
    from liqkit.domain.errors import ReplaceFailed, UnknownOrderError
    from liqkit.domain.types import Side
    from liqkit.engine.intents import Amend, Place, Replace

    async def scenario():
        server, web_runner, url = await serve()
        venue = BinanceVenue(
            ["BTCUSDT"], KEY, SECRET, base_url=url, order_entry=entry, stp_modes={"BTCUSDT": "EXPIRE_MAKER"}
        )
        await venue.start()
        try:
            r = (await venue.rules(["BTCUSDT"]))["BTCUSDT"]
            book = await first_book(venue.client)
            low = r.price_to_ticks(Decimal(book["bidPrice"])) - 5_000  # 50 USDT below: it rests
            if entry == "ws-api":
                await until(lambda: venue.client.ws_api is not None and venue.client.ws_api.ws is not None, 60)
            await venue.place(Place("BTCUSDT", "lq.v.1", Side.BUY, low, 300, True, 0))
            first = server.book.orders[server.book.by_cid["lq.v.1"]]
            assert first["selfTradePreventionMode"] == "EXPIRE_MAKER"
            oid, queue_ts = first["orderId"], server.venue.exchange.orders["lq.v.1"].ts
            await venue.amend(Amend("BTCUSDT", "lq.v.1", 200))
            kept = server.venue.exchange.orders["lq.v.1"]
            assert (kept.qty, kept.ts) == (200, queue_ts)  # cut in place: its time in the queue kept
            assert server.book.by_cid["lq.v.1"] == oid  # the same order under the same client id
            assert server.book.orders[oid]["origQty"] == r.format_qty(200)
            await venue.replace(
                Replace("BTCUSDT", "lq.v.1", Place("BTCUSDT", "lq.v.2", Side.BUY, low - 1, 200, True, 0))
            )
            assert sorted(o.client_id for o in server.venue.exchange.open_orders()) == ["lq.v.2"]
            assert server.book.orders[server.book.by_cid["lq.v.2"]]["selfTradePreventionMode"] == "EXPIRE_MAKER"
            with pytest.raises(ReplaceFailed) as e:  # lq.v.1 is gone: the cancel fails, nothing is placed
                await venue.replace(
                    Replace("BTCUSDT", "lq.v.1", Place("BTCUSDT", "lq.v.3", Side.BUY, low, 200, True, 0))
                )
            assert isinstance(e.value.cancel, UnknownOrderError) and e.value.place is None
            assert "lq.v.3" not in server.venue.exchange.orders
            await venue.place(Place("BTCUSDT", "other.1", Side.BUY, low - 2, 200, True, 0))
            gone = await venue.cancel_all("BTCUSDT", own_only=False)
            assert sorted(gone) == ["lq.v.2", "other.1"] and server.venue.exchange.open_orders() == []
            return venue.ws_orders, venue.rest_orders
        finally:
            await venue.close()
            await web_runner.cleanup()

    ws_orders, rest_orders = asyncio.run(scenario())
    assert (ws_orders, rest_orders) == ((6, 0) if entry == "ws-api" else (0, 6))
