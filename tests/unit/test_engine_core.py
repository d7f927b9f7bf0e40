"""The engine core, driven by hand (sans-I/O: no loop, no sockets), and its band property."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simloop import SimLoop

from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.engine.core import EngineCore
from liqkit.engine.ids import is_liqkit_id, is_valid_client_id
from liqkit.engine.intents import Cancel, CancelAll, Place
from liqkit.quoting import level_prices, skew_shift, tolerance
from liqkit.venues.sim.exchange import SimExchange

BTC = default_rules("BTCUSDT")
BAL = {"BTC": (Decimal(10), Decimal(0)), "USDT": (Decimal(1_000_000), Decimal(0))}


def make(cfg: PairConfig | None = None, risk: RiskConfig | None = None) -> EngineCore:
    core = EngineCore(risk, run_nonce="test")
    core.add_pair(
        cfg or PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", refresh_tolerance="5ticks"), BTC
    )
    core.on_balances(BAL, 0)
    return core


def places(intents):
    return [i for i in intents if isinstance(i, Place)]


def test_run_cleans_up_then_quotes_both_sides_on_first_book():
    core = make()
    out = core.run("BTCUSDT", 1)
    assert out == [CancelAll("BTCUSDT", True)]
    out = core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10)
    ps = places(out)
    assert sorted((p.side, p.price, p.qty) for p in ps) == [(Side.SELL, 6_000_003, 100), (Side.BUY, 5_999_998, 100)]
    assert all(is_valid_client_id(p.client_id) and is_liqkit_id(p.client_id) and p.post_only for p in ps)


def test_no_intents_while_within_tolerance_then_cancel_before_replace():
    core = make()
    core.run("BTCUSDT", 1)
    ps = places(core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10))
    for p in ps:
        assert core.on_accepted(p.client_id, 3) == []
    assert core.on_book(0, 4, 6_000_005, 10, 6_000_006, 10) == []  # 5 ticks: kept
    out = core.on_book(0, 5, 6_000_006, 10, 6_000_007, 10)  # 6 ticks: both sides off
    assert all(isinstance(i, Cancel) for i in out) and len(out) == 2
    buy = next(p for p in ps if p.side is Side.BUY)
    # the replacement comes only once the venue confirms the cancel: never two live orders a level
    new = core.on_canceled(buy.client_id, 6)
    assert [(p.side, p.price) for p in places(new)] == [(Side.BUY, 6_000_004)]


def test_post_only_rejection_waits_for_the_next_book_update():
    core = make()
    core.run("BTCUSDT", 1)
    ps = places(core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10))
    buy = next(p for p in ps if p.side is Side.BUY)
    assert core.on_rejected(buy.client_id, 3, "[-2010] Order would immediately match and take.", True) == []
    again = places(core.on_book(0, 4, 6_000_000, 10, 6_000_001, 10))
    assert [p.side for p in again] == [Side.BUY]


def test_unknown_outcome_blocks_the_level_until_resolved():
    core = make()
    core.run("BTCUSDT", 1)
    ps = places(core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10))
    buy = next(p for p in ps if p.side is Side.BUY)
    core.on_unknown_outcome(buy.client_id, 3, "timeout")
    # far move: the unknown order is neither re-sent nor replaced
    out = core.on_book(0, 4, 6_000_100, 10, 6_000_101, 10)
    assert not any(isinstance(i, Place) and i.side is Side.BUY for i in out)
    # the venue says it rests after all: now it is managed (and replaced: it is far off)
    out = core.on_order_status(buy.client_id, "NEW", 0, 5)
    assert Cancel("BTCUSDT", buy.client_id) in out


def test_fill_accounting_and_requote_on_next_book():
    core = make()
    core.run("BTCUSDT", 1)
    ps = places(core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10))
    for p in ps:
        core.on_accepted(p.client_id, 3)
    buy = next(p for p in ps if p.side is Side.BUY)
    fee_nu = buy.price * buy.qty * 10_000  # 1 bps
    assert core.on_fill(buy.client_id, 4, buy.price, buy.qty, fee_nu, True, 77) == []
    assert core.on_fill(buy.client_id, 4, buy.price, buy.qty, fee_nu, True, 77) == []  # reported twice: once
    st = core.pair("BTCUSDT")
    assert st.pos == 100 and st.n_fills == 1 and st.cash == -buy.price * 100
    assert len(core.fill_log) == 1
    again = places(core.on_book(0, 5, 6_000_000, 10, 6_000_001, 10))
    assert [p.side for p in again] == [Side.BUY]


def test_stop_cancels_everything_and_accepts_after_stop_are_taken_down():
    core = make()
    core.run("BTCUSDT", 1)
    ps = places(core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10))
    core.on_accepted(ps[0].client_id, 3)
    out = core.stop("BTCUSDT", 4)
    assert Cancel("BTCUSDT", ps[0].client_id) in out and out[-1] == CancelAll("BTCUSDT", True)
    assert core.on_accepted(ps[1].client_id, 5) == [Cancel("BTCUSDT", ps[1].client_id)]


def test_stale_feed_pauses_and_resumes():
    core = make(risk=RiskConfig(stale_feed_s=2))
    core.run("BTCUSDT", 0)
    ps = places(core.on_book(0, 1, 6_000_000, 10, 6_000_001, 10))
    for p in ps:
        core.on_accepted(p.client_id, 2)
    out = core.on_timer(3_000_000_001)
    assert {i.client_id for i in out if isinstance(i, Cancel)} == {p.client_id for p in ps}
    assert core.pair("BTCUSDT").state == "paused"
    for p in ps:
        core.on_canceled(p.client_id, 3_000_000_002)
    again = core.on_book(0, 3_000_000_003, 6_000_000, 10, 6_000_001, 10)
    assert core.pair("BTCUSDT").state == "quoting" and len(places(again)) == 2


def test_kill_switch_halts_until_run_again():
    cfg = PairConfig(
        symbol="BTCUSDT",
        reference="touch",
        spread="2ticks",
        size=Decimal("0.1"),
        max_loss=Decimal(5),
        max_order_notional=Decimal(10_000),  # 0.1 BTC is 6,000 USDT here
    )
    core = make(cfg)
    core.run("BTCUSDT", 0)
    ps = places(core.on_book(0, 1, 6_000_000, 10, 6_000_001, 10))
    for p in ps:
        core.on_accepted(p.client_id, 2)
    buy = next(p for p in ps if p.side is Side.BUY)
    core.on_fill(buy.client_id, 3, buy.price, buy.qty, 0, True, 1)
    # 0.1 BTC long; a 60-tick drop (0.60 USDT x 0.1 = 0.06) is fine, a 100 USDT drop is not
    out = core.on_book(0, 4, 5_990_000, 10, 5_990_001, 10)
    st = core.pair("BTCUSDT")
    assert st.state == "halted" and "kill switch" in st.reason
    assert any(isinstance(i, Cancel) for i in out)
    assert places(core.on_book(0, 5, 6_000_000, 10, 6_000_001, 10)) == []


def test_configure_rejects_bad_values_and_keeps_running():
    core = make()
    core.run("BTCUSDT", 1)
    core.on_book(0, 2, 6_000_000, 10, 6_000_001, 10)
    import pytest

    from liqkit.domain.errors import ConfigError

    with pytest.raises(ConfigError, match="size"):
        core.configure(PairConfig(symbol="BTCUSDT", size=Decimal("0.000001")), 3)
    assert core.pair("BTCUSDT").state == "quoting"
    assert core.pair("BTCUSDT").cfg.size == Decimal("0.001")


configs = st.builds(
    dict,
    reference=st.sampled_from(["mid", "touch"]),
    bid_spread=st.sampled_from(["0ticks", "1ticks", "3ticks", "0.5bps", "2bps", "7.5bps"]),
    ask_spread=st.sampled_from(["0ticks", "2ticks", "1bps", "4bps"]),
    min_spread=st.sampled_from(["0ticks", "1ticks", "2ticks", "1bps"]),
    levels=st.integers(1, 3),
    level_spacing=st.sampled_from(["1ticks", "4ticks", "1bps"]),
    refresh_tolerance=st.sampled_from(["0ticks", "1ticks", "3ticks", "0.5bps", "2bps"]),
    skew=st.sampled_from([Decimal(0), Decimal("0.5")]),
    price_ceiling=st.sampled_from([None, Decimal("60000.5")]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cfg=configs,
    moves=st.lists(st.tuples(st.integers(-4, 4), st.integers(1, 4)), min_size=20, max_size=150),
    seed=st.integers(0, 99),
)
def test_no_update_is_skipped_that_should_have_moved_a_quote(cfg, moves, seed):
    """After every book update, each resting order is within tolerance of the pure pipeline's price.

    This is the band's contract: skipping the evaluation never leaves a quote stale.
    """
    pc = PairConfig(symbol="BTCUSDT", **cfg)
    core = make(pc)
    sim = SimExchange("realistic", 0, 0, {"BTC": Decimal(10), "USDT": Decimal(1_000_000)})
    sim.add_symbol(BTC)
    loop = SimLoop(core, sim)
    loop.submit(core.run("BTCUSDT", 0), 0)
    bid = 6_000_000
    st_ = core.pair("BTCUSDT")
    p = st_.params
    for n, (step, spread) in enumerate(moves, start=1):
        bid += step
        ask = bid + spread
        ts = n * 1_000_000
        loop.book(0, ts, bid, 5, ask, 5)  # the exchange sees it (fills reach the core), then the core
        if st_.state != "quoting":
            continue
        shift = skew_shift(p, bid + ask, st_.inventory()) if p.skew_on else 0
        want_b, want_a = level_prices(p, bid, ask, shift)
        for slots, want in ((st_.bids, want_b), (st_.asks, want_a)):
            for i, o in enumerate(slots):
                if o is not None and o.status in ("NEW", "PARTIALLY_FILLED"):
                    assert abs(want[i] - o.price) <= tolerance(p, o.price), (n, o, want[i])
        # the exchange and the engine agree on what rests
        assert {o.client_id for o in sim.open_orders(0)} <= {o.client_id for o in core.open_orders()}


def test_a_size_under_the_minimum_order_value_is_explained():
    eth = default_rules("ETHUSDT")
    core = EngineCore(run_nonce="test")
    core.add_pair(PairConfig(symbol="ETHUSDT", size=Decimal("0.001")), eth)  # 3 USDT at 3,000: under 10
    core.on_balances({"ETH": (Decimal(1), Decimal(0)), "USDT": (Decimal(10_000), Decimal(0))}, 0)
    core.run("ETHUSDT", 0)
    assert places(core.on_book(0, 1, 300_000, 10, 300_001, 10)) == []
    st = core.pair("ETHUSDT")
    assert st.reason == (
        "size 0.001 ETH is worth about 3.00 USDT, under ETHUSDT's minimum order value 10 USDT (NOTIONAL): raise size"
    )
    last = core.event_log[-1]
    assert (last.kind, last.ts, last.symbol) == ("state", 1, "ETHUSDT")
    n = len(core.event_log)
    core.on_book(0, 2, 300_002, 10, 300_003, 10)
    assert len(core.event_log) == n  # said once, not on every update


def test_the_skew_shift_moving_with_the_mid_is_never_missed():
    """Near the inventory target the skew shift moves with the mid (the base held is worth more as the
    mid rises) while the book stays inside a wide quiet band: every change of the shift must still
    reach the quotes (the band holds only for the shift it was built with)."""
    pc = PairConfig(
        symbol="BTCUSDT",
        spread="7.5bps",
        refresh_tolerance="50ticks",
        skew=Decimal(10),
        inventory_target=Decimal("0.5"),
    )
    core = make(pc)
    bal = {"BTC": Decimal("9.8"), "USDT": Decimal(612_000)}  # 49 % of the value in base at 60,000
    sim = SimExchange("realistic", 0, 0, bal)
    sim.add_symbol(BTC)
    loop = SimLoop(core, sim)
    core.on_balances({a: (v, Decimal(0)) for a, v in bal.items()}, 0)
    loop.submit(core.run("BTCUSDT", 0), 0)
    st_ = core.pair("BTCUSDT")
    p = st_.params
    shifts, quiet = set(), 0
    for n in range(1, 2000):
        bid = 6_000_000 + n  # a slow, steady rise
        ts = n * 1_000_000
        out = loop.book(0, ts, bid, 5, bid + 1, 5)
        quiet += not out
        shift = skew_shift(p, 2 * bid + 1, st_.inventory())
        shifts.add(shift)
        assert st_.shift == shift, (n, st_.shift, shift)  # the quotes are priced with the current shift
        want_b, want_a = level_prices(p, bid, bid + 1, shift)
        for o, want in ((st_.bids[0], want_b[0]), (st_.asks[0], want_a[0])):
            assert o is not None and abs(want - o.price) <= tolerance(p, o.price), (n, o, want)
    assert len(shifts) >= 4  # the shift did move with the mid
    assert quiet > 1000  # and most updates still cost nothing


def test_orders_refused_again_and_again_put_the_pair_in_error_until_run():
    core = make()
    core.run("BTCUSDT", 1)
    st_ = core.pair("BTCUSDT")
    ts = 2
    bid = 6_000_000
    refused = 0
    while st_.state == "quoting":
        ts += 2_000_000_000  # past the hold after each refusal
        bid += 1
        for p in places(core.on_book(0, ts, bid, 10, bid + 1, 10)):
            # rate-limit refusals do not count toward the error
            core.on_rejected(p.client_id, ts, "retry later: holding new orders", retryable=True)
        ts += 2_000_000_000
        bid += 1
        ps = places(core.on_book(0, ts, bid, 10, bid + 1, 10))
        assert ps, "the engine stopped placing before the error"
        core.on_rejected(ps[0].client_id, ts, "[-2010] Account has insufficient balance for requested action.")
        refused += 1
        assert refused <= 5
    assert refused == 5
    assert st_.state == "error"
    assert st_.reason.startswith("5 orders refused in a row (last: [-2010] Account has insufficient balance")
    last = core.event_log[-1]
    assert (last.kind, last.ts, last.symbol, last.state) == ("state", ts, "BTCUSDT", "error")
    assert places(core.on_book(0, ts + 5_000_000_000, bid + 3, 10, bid + 4, 10)) == []  # no new orders in error
    core.run("BTCUSDT", ts + 6_000_000_000)
    assert st_.state == "quoting"
    assert places(core.on_book(0, ts + 7_000_000_000, bid + 5, 10, bid + 6, 10))


def test_an_accepted_order_resets_the_refusal_count():
    core = make()
    core.run("BTCUSDT", 1)
    st_ = core.pair("BTCUSDT")
    ts, bid = 2, 6_000_000
    for _ in range(2):  # 4 refusals: one short of the error
        ts += 2_000_000_000
        bid += 1
        for p in places(core.on_book(0, ts, bid, 10, bid + 1, 10)):
            core.on_rejected(p.client_id, ts, "[-1013] Filter failure: NOTIONAL")
    assert st_.n_refused == 4 and st_.state == "quoting"
    ts += 2_000_000_000
    ps = places(core.on_book(0, ts, bid + 1, 10, bid + 2, 10))
    assert len(ps) == 2
    core.on_accepted(ps[0].client_id, ts)
    assert st_.n_refused == 0
    core.on_rejected(ps[1].client_id, ts, "[-1013] Filter failure: NOTIONAL")
    assert st_.n_refused == 1 and st_.state == "quoting"
