"""Iceberg quotes before anything is sent: ``iceberg_visible`` validated, Binance's ICEBERG_PARTS and the
LOT_SIZE rule on icebergQty (``OrderFilters.iceberg_failure``), the visible part each quote carries, the
engine refusing a quote the filter would refuse (and saying why), and the pre-flight table showing it."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqkit.domain.config import PairConfig, pair_config, update_pair
from liqkit.domain.errors import ConfigError, FilterError
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules, default_rules, load_exchange_info
from liqkit.domain.types import Side
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Place
from liqkit.preflight import MarketSample, check_pair
from liqkit.quoting import compile_params, iceberg_qty, quote_qty

BTC = default_rules("BTCUSDT")  # step 0.00001 BTC, minQty 0.00001; ICEBERG_PARTS limit 10
BAL = {"BTC": (Decimal(10), Decimal(0)), "USDT": (Decimal(1_000_000), Decimal(0))}
D = Decimal


def rules_with(parts: int | None = None, allowed: bool = True) -> SymbolRules:
    info = copy.deepcopy(next(s for s in load_exchange_info()["symbols"] if s["symbol"] == "BTCUSDT"))
    info["icebergAllowed"] = allowed
    info["filters"] = [f for f in info["filters"] if f["filterType"] != "ICEBERG_PARTS"]
    if parts is not None:
        info["filters"].append({"filterType": "ICEBERG_PARTS", "limit": parts})
    return SymbolRules.from_symbol_info(info)


# ---- the filter ----------------------------------------------------------------------------------------
def test_icebergs_parts_and_lot_size_as_binance_defines_them() -> None:
    assert (BTC.iceberg_parts, BTC.iceberg_allowed) == (10, True)  # the shipped exchangeInfo's
    f = OrderFilters.from_rules(BTC)
    assert f.iceberg_failure(1_000, 100) == ""  # CEIL(1000 / 100) = 10 parts: the limit
    assert f.iceberg_failure(1_001, 100) == "ICEBERG_PARTS"  # 11 parts
    assert f.iceberg_failure(1_000, 99) == "ICEBERG_PARTS"
    assert f.iceberg_failure(1_000, 0) == "LOT_SIZE"  # below minQty
    lot = OrderFilters(min_qty=50, max_qty=400, iceberg_parts=10)
    assert lot.iceberg_failure(1_000, 40) == "LOT_SIZE" and lot.iceberg_failure(1_000, 401) == "LOT_SIZE"
    assert OrderFilters(iceberg_parts=0).iceberg_failure(10**9, 1) == ""  # no ICEBERG_PARTS: no bound
    with pytest.raises(FilterError, match=re.escape("11 parts, over the ICEBERG_PARTS limit 10: show at least 0.0011")):
        BTC.check_order(Side.BUY, 5_000_000, 1_100, iceberg_steps=100)
    BTC.check_order(Side.BUY, 5_000_000, 1_000, iceberg_steps=100)  # passes


@given(st.integers(1, 10**7), st.integers(1, 10**7), st.integers(1, 50))
def test_the_parts_rule_is_ceil_of_qty_over_visible(qty: int, visible: int, limit: int) -> None:
    f = OrderFilters(iceberg_parts=limit)
    parts = -(-qty // visible)
    assert (f.iceberg_failure(qty, visible) == "ICEBERG_PARTS") == (parts > limit)


# ---- the config --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "'nan' is not a quantity (NaN and infinity are not)"),
        ("inf", "'inf' is not a quantity"),
        (float("nan"), "is not a quantity"),
        ("-0.0001", "is negative: the visible part must be > 0"),
        ("0", "the visible part must be > 0"),
        ("0%", "the visible part must be > 0"),
        ("100%", "must be below 100%"),
        ("0.001", "must be below size 0.001"),
        ("0.01", "must be below size 0.001"),
        ("ten", "is not a quantity"),
        (True, "is not a quantity"),
    ],
)
def test_iceberg_visible_is_refused_naming_the_field_and_the_fix(value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        pair_config({"symbol": "BTCUSDT", "size": "0.001", "iceberg_visible": value})
    assert "pairs.iceberg_visible" in str(e.value) and message in str(e.value), str(e.value)
    assert "Traceback" not in str(e.value)


def test_iceberg_visible_reads_a_quantity_or_a_percentage_and_is_off_by_default() -> None:
    assert PairConfig(symbol="BTCUSDT").iceberg_visible is None
    a = pair_config({"symbol": "BTCUSDT", "size": "0.001", "iceberg_visible": "0.0002"})
    b = pair_config({"symbol": "BTCUSDT", "size": "0.001", "iceberg_visible": "25%"})
    c = pair_config({"symbol": "BTCUSDT", "size": "20", "size_unit": "quote", "iceberg_visible": 0.00001})
    assert (str(a.iceberg_visible), str(b.iceberg_visible), str(c.iceberg_visible)) == ("0.0002", "25%", "0.00001")
    assert b.model_dump(mode="json")["iceberg_visible"] == "25%"  # round-trips as written
    assert update_pair(a, {"iceberg_visible": "10%"}).iceberg_visible == b.iceberg_visible.model_copy(
        update={"value": D(10)}
    )
    assert update_pair(a, {"iceberg_visible": None}).iceberg_visible is None


def test_the_symbol_must_honour_the_visible_part() -> None:
    cfg = PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="0.00005")  # 20 parts
    with pytest.raises(ValueError, match=r"iceberg_visible = 0.00005: .*20 parts.*show at least 0.0001"):
        compile_params(cfg, BTC)
    with pytest.raises(ValueError, match=re.escape("not a multiple of BTCUSDT's stepSize 0.00001")):
        compile_params(PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="0.000015"), BTC)
    with pytest.raises(ValueError, match="does not allow iceberg orders"):
        compile_params(PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="25%"), rules_with(10, False))
    p = compile_params(PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="25%"), BTC)
    assert (p.ice_on, p.ice_steps, p.ice_ppb) == (True, 0, 25_000_000)
    assert not compile_params(PairConfig(symbol="BTCUSDT"), BTC).ice_on
    with pytest.raises(ConfigError, match="iceberg_visible"):  # the engine refuses the pair, not a traceback
        EngineCore(run_nonce="t").add_pair(PairConfig(symbol="BTCUSDT", iceberg_visible="0.00005"), BTC)


# ---- the quotes ----------------------------------------------------------------------------------------
def test_each_quote_carries_its_visible_part() -> None:
    pct = compile_params(PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="25%"), BTC)
    fixed = compile_params(PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="0.0003"), BTC)
    assert [iceberg_qty(pct, q) for q in (100, 41, 3, 1)] == [25, 10, 0, 0]  # rounded down; 0 shows it all
    assert [iceberg_qty(fixed, q) for q in (100, 31, 30, 10)] == [30, 30, 0, 0]  # a smaller quote is plain


def test_a_quote_the_filter_would_refuse_is_not_placed_and_the_engine_says_why() -> None:
    cfg = PairConfig(
        symbol="BTCUSDT", reference="touch", spread="2ticks", size=D("30"), size_unit="quote",
        iceberg_visible="0.00001",
    )  # fmt: skip
    p = compile_params(cfg, BTC)
    f = OrderFilters.from_rules(BTC)
    assert quote_qty(p, f, True, 5_000_000, 10**15, 10**12, 5_000_000) == 0  # 60 steps shown 1 at a time
    core = EngineCore(run_nonce="t")
    core.add_pair(cfg, BTC)
    core.on_balances(BAL, 0)
    core.run("BTCUSDT", 1)
    out = core.on_book(0, 2, 5_000_000, 10, 5_000_001, 10)
    assert [i for i in out if isinstance(i, Place)] == []
    reason = core.pair("BTCUSDT").reason
    assert "iceberg_visible 0.00001" in reason and "over the ICEBERG_PARTS limit 10" in reason, reason


def test_the_engine_places_icebergs_and_nothing_changes_without_them() -> None:
    def first_places(**more: Any) -> list[Place]:
        core = EngineCore(run_nonce="t")
        core.add_pair(PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", size=D("0.001"), **more), BTC)
        core.on_balances(BAL, 0)
        core.run("BTCUSDT", 1)
        return sorted((i for i in core.on_book(0, 2, 5_000_000, 10, 5_000_001, 10) if isinstance(i, Place)), key=str)

    plain, ice = first_places(), first_places(iceberg_visible="40%")
    assert [p.iceberg_qty for p in plain] == [0, 0] and [p.iceberg_qty for p in ice] == [40, 40]
    assert [(p.side, p.price, p.qty) for p in plain] == [(p.side, p.price, p.qty) for p in ice]


# ---- the pre-flight table ----------------------------------------------------------------------------
def test_the_preflight_table_shows_the_parts_and_names_the_refusal() -> None:
    top = MarketSample(5_000_000, 5_000_002, source="hand")
    bal = {"USDT": (D(100_000), D(0)), "BTC": (D(1), D(0))}
    ok, _ = check_pair(PairConfig(symbol="BTCUSDT", size=D("0.001"), iceberg_visible="25%"), BTC, bal, top)
    assert ok.ok and ok.filters is not None and ok.filters.iceberg_parts == 10
    assert {(q.iceberg_qty, q.iceberg_parts, q.placed_qty) for q in ok.quotes} == {("0.00025", 4, "0.001")}
    cfg = PairConfig(symbol="BTCUSDT", size=D("30"), size_unit="quote", iceberg_visible="0.00002")
    bad, _ = check_pair(cfg, BTC, bal, top)
    assert not bad.ok
    for q in bad.quotes:
        assert (q.iceberg_parts, q.placed_qty) == (30, "0")
        [why] = q.refusals
        assert (why.code, why.field) == ("ICEBERG_PARTS", "pairs.BTCUSDT.iceberg_visible")
        assert "30 parts, over the ICEBERG_PARTS limit 10: show at least 0.00006" in why.message
    plain, _ = check_pair(PairConfig(symbol="BTCUSDT", size=D("0.001")), BTC, bal, top)
    assert all(q.iceberg_qty is None and q.iceberg_parts is None for q in plain.quotes)
