"""Binance payloads to domain events, on real frames; python-binance errors to liqkit's error tree."""

import gzip
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from binance.exceptions import BinanceAPIException

from liqkit.data.capture import sample_recording_paths
from liqkit.domain.errors import OrderRejected, RetryableError, UnknownOrderError, UnknownOutcomeError
from liqkit.domain.rules import default_rules
from liqkit.domain.types import BalanceUpdate, BookTop, Side, Trade
from liqkit.engine.ports import UserFill, UserOrder
from liqkit.venues.binance import map_error, parse_market, parse_user

RULES = {"BTCUSDT": default_rules("BTCUSDT")}


def test_real_stream_frames_parse_like_the_capture_reader(sample_data):
    books, trades = [], []
    with gzip.open(sample_recording_paths()[0], "rt") as fh:
        for line in fh:
            ts, _, raw = line.partition(" ")
            msg = json.loads(raw)
            ev = parse_market(msg.get("data", {}), RULES, int(ts))
            if isinstance(ev, BookTop):
                books.append(ev)
            elif isinstance(ev, Trade):
                trades.append(ev)
            if len(books) >= 500 and len(trades) >= 200:
                break
    b = sample_data.book
    assert [x.bid for x in books] == b["bid"][: len(books)].tolist()
    assert [x.ask_qty for x in books] == b["ask_qty"][: len(books)].tolist()
    assert all(x.ts_exchange == 0 for x in books)  # spot bookTicker: no event time
    t = sample_data.trades
    assert [x.price for x in trades] == t["price"][: len(trades)].tolist()
    assert [int(x.aggressor) for x in trades] == t["aggressor"][: len(trades)].tolist()
    assert [x.ts_exchange for x in trades] == t["ts_exchange"][: len(trades)].tolist()


def _report(**kw):
    base = {
        "e": "executionReport",
        "E": 1723161255343,
        "s": "BTCUSDT",
        "c": "lq.BTCUSDT.B0.ab12.7",
        "S": "BUY",
        "o": "LIMIT_MAKER",
        "q": "0.00100000",
        "p": "61837.63000000",
        "x": "NEW",
        "X": "NEW",
        "r": "NONE",
        "i": 42,
        "l": "0.00000000",
        "z": "0.00000000",
        "L": "0.00000000",
        "n": "0",
        "N": None,
        "T": 1723161255342,
        "t": -1,
        "m": False,
        "C": "",
    }
    return {**base, **kw}


def test_execution_reports():
    (new,) = parse_user(_report(), RULES, 5)
    assert isinstance(new, UserOrder) and (new.client_id, new.status, new.filled) == ("lq.BTCUSDT.B0.ab12.7", "NEW", 0)
    fill, status = parse_user(
        _report(
            x="TRADE",
            X="PARTIALLY_FILLED",
            l="0.00040000",
            z="0.00040000",
            L="61837.63",
            n="0.00000004",
            N="BTC",
            t=3735683259,
            m=True,
        ),
        RULES,
        5,
    )
    assert isinstance(fill, UserFill)
    assert (fill.price, fill.qty, fill.fee, fill.fee_asset, fill.is_maker, fill.trade_id) == (
        6_183_763,
        40,
        Decimal("0.00000004"),
        "BTC",
        True,
        3735683259,
    )
    assert isinstance(status, UserOrder) and status.filled == 40
    # a cancel reports the cancel request's id in c and the order's own id in C
    (cancel,) = parse_user(_report(x="CANCELED", X="CANCELED", c="web_abc", C="lq.BTCUSDT.B0.ab12.7"), RULES, 5)
    assert cancel.client_id == "lq.BTCUSDT.B0.ab12.7" and cancel.status == "CANCELED"


def test_account_position():
    (ev,) = parse_user(
        {"e": "outboundAccountPosition", "E": 1, "u": 1, "B": [{"a": "BTC", "f": "1.00100000", "l": "0.00000000"}]},
        RULES,
        5,
    )
    assert isinstance(ev, BalanceUpdate) and ev.balances[0].free == Decimal("1.001")
    assert parse_user({"e": "balanceUpdate"}, RULES, 5) == []


def _api_error(status, code, msg, headers=None):
    response = SimpleNamespace(headers=headers or {}, text=json.dumps({"code": code, "msg": msg}))
    return BinanceAPIException(response, status, response.text)


@pytest.mark.parametrize(
    ("status", "code", "msg", "placing", "kind", "detail"),
    [
        (400, -2010, "Order would immediately match and take.", True, OrderRejected, "would_cross"),
        (400, -1013, "Filter failure: NOTIONAL", True, OrderRejected, ""),
        (
            400,
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            True,
            UnknownOutcomeError,
            "",
        ),
        (502, 0, "", True, UnknownOutcomeError, ""),
        (429, -1003, "Too much request weight used", True, RetryableError, "retry"),
        (418, -1003, "Way too much request weight used; IP banned", False, RetryableError, "retry"),
        (400, -1015, "Too many new orders", True, RetryableError, ""),
        (400, -2011, "Unknown order sent.", False, UnknownOrderError, ""),
    ],
)
def test_errors_map_to_the_liqkit_tree(status, code, msg, placing, kind, detail):
    err = map_error(_api_error(status, code, msg, {"Retry-After": "7"}), placing)
    assert isinstance(err, kind) and err.code == code
    if detail == "would_cross":
        assert err.would_cross
    if detail == "retry":
        assert err.retry_after == 7.0


def test_timeouts_are_unknown_outcomes():
    assert isinstance(map_error(TimeoutError(), True), UnknownOutcomeError)
    assert Side.parse("buy") is Side.BUY
