"""Symbol rules from real exchangeInfo answers: both filter eras, integer bounds, formatting."""

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqkit.domain.errors import FilterError, RulesError
from liqkit.domain.rules import default_rules, parse_exchange_info
from liqkit.domain.types import Side

BTC = default_rules("BTCUSDT")  # read here, once: the property tests below time only what they test


@pytest.fixture(scope="module")
def full_info(shared_dir):
    return json.loads((shared_dir / "data/binance-rest/exchangeInfo_spot_full_2021-10-12.json").read_text())


def test_both_shared_exchange_info_files_parse(shared_dir, full_info):
    rules = parse_exchange_info(full_info)
    assert len(rules) == 1695
    only = json.loads((shared_dir / "data/binance-rest/exchangeInfo_spot_BTCUSDT_only_2021-10-12.json").read_text())
    btc = parse_exchange_info(only, ["btcusdt"])["BTCUSDT"]
    assert btc == rules["BTCUSDT"]
    assert (btc.tick, btc.step, btc.min_notional) == (Decimal("0.01"), Decimal("0.00001"), Decimal(10))
    assert btc.min_notional_units == 10 * 10**7  # 10 USDT in 1e-7 units
    assert btc.max_orders == 200 and btc.percent_price is not None


def test_notional_era_and_unknown_filters(full_info):
    info = copy.deepcopy(next(s for s in full_info["symbols"] if s["symbol"] == "BTCUSDT"))
    info["filters"] = [f for f in info["filters"] if f["filterType"] not in ("MIN_NOTIONAL", "PERCENT_PRICE")] + [
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000},
        {"filterType": "SOMETHING_NEW_IN_2027", "x": 1},
    ]
    r = parse_exchange_info({"symbols": [info]})["BTCUSDT"]
    assert r.min_notional == Decimal(5) and r.max_notional_units == 9_000_000 * 10**7
    with pytest.raises(FilterError, match="NOTIONAL"):
        r.check_order(Side.BUY, 6_000_000, 8, 6_000_000)  # 4.8 USDT


def test_shipped_rules_are_the_full_answer_parsed(full_info):
    # default_rules parses only the symbol asked for; it must give what parsing everything gives
    every = parse_exchange_info(full_info)
    for sym in ("BTCUSDT", "ETHUSDT", "SHIBUSDT", "BNBBTC"):
        assert default_rules(sym) == every[sym]
    assert default_rules("btcusdt") is default_rules("BTCUSDT")  # parsed once, then looked up


def test_unknown_symbol_is_a_clear_error(full_info):
    with pytest.raises(RulesError, match="BTCUSDX"):
        parse_exchange_info(full_info, ["BTCUSDX"])
    with pytest.raises(RulesError, match="unknown symbol 'NOPE'"):
        default_rules("NOPE")


def test_formatting_is_plain_decimal():
    r = default_rules("BTCUSDT")
    assert r.format_price(6_183_763) == "61837.63"
    assert r.format_qty(1) == "0.00001"  # never 1E-5
    assert r.format_qty(100_000) == "1"
    shib = default_rules("SHIBUSDT")
    assert "E" not in shib.format_price(1) and shib.format_price(1) == format(shib.tick, "f")


@given(price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=6))
def test_price_to_ticks_never_rounds_toward_crossing(price):
    r = BTC
    b = r.price_to_ticks(price, Side.BUY)
    a = r.price_to_ticks(price, Side.SELL)
    assert r.price(b) <= price <= r.price(a)
    assert a - b <= 1


@given(qty=st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=8))
def test_quantities_round_down_to_the_step(qty):
    r = BTC
    s = r.qty_to_steps(qty)
    assert r.qty(s) <= qty < r.qty(s + 1)


def test_off_grid_exact_conversion_is_refused():
    r = default_rules("BTCUSDT")
    with pytest.raises(FilterError, match="tickSize"):
        r.price_to_ticks("61837.635")
    with pytest.raises(FilterError, match="stepSize"):
        r.qty_to_steps("0.000015", exact=True)


def test_check_order_names_the_filter():
    r = default_rules("BTCUSDT")
    with pytest.raises(FilterError, match="LOT_SIZE"):
        r.check_order(Side.BUY, 6_000_000, 0)
    with pytest.raises(FilterError, match="PERCENT_PRICE"):
        r.check_order(Side.SELL, 60_000_000, 1000, 6_000_000)
    r.check_order(Side.BUY, 6_000_000, 1000, 6_000_000)
