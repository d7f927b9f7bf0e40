"""``exit_for``: when a pair's excess over ``inventory_target`` passes ``exit_inventory``, one OCO for all of
it, priced from the mid (rounded away from it to the tick), within the free balance and the filters."""

from decimal import Decimal

from liqkit.domain.config import PairConfig
from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.engine.exits import excess_steps, exit_for

R = default_rules("BTCUSDT")  # tick 0.01, step 0.00001
BID, ASK = 6_000_000, 6_000_002  # 60000.00 / 60000.02: the mid is 60000.01
IDS = ("lq.BTCUSDT.x1", "lq.BTCUSDT.x1.tp", "lq.BTCUSDT.x1.sl")
BTC = 100_000  # steps in one BTC
USDT = 10_000_000  # tick*step units (1e-7 USDT) in one USDT


def cfg(**kw):
    return PairConfig(
        symbol="BTCUSDT", exit_inventory=Decimal("0.5"), exit_take_profit="10bps", exit_stop_loss="4ticks", **kw
    )


def test_too_much_base_gets_a_sell_exit_for_the_whole_excess():
    # 5 BTC and 60,000.05 USDT: half the value at the mid is 3 BTC, 2 BTC past it
    x = exit_for(cfg(), R, 5 * BTC, 5 * BTC, 60_000 * USDT, 60_000 * USDT, BID, ASK, IDS)
    assert x is not None and (x.side, x.qty) == (Side.SELL, 2 * BTC)
    assert x.take_profit == 6_006_002  # 60000.01 * 1.001 = 60060.01001, up to 60060.02
    assert x.stop == 6_000_001 - 4  # 4 ticks below the mid
    assert (x.list_id, x.tp_id, x.sl_id) == IDS


def test_too_little_base_gets_a_buy_exit_and_within_the_threshold_none():
    x = exit_for(cfg(), R, 1 * BTC, 1 * BTC, 300_000 * USDT, 300_000 * USDT, BID, ASK, IDS)
    # 360,000 of value: 3 BTC wanted, 2 short
    assert x is not None and (x.side, x.qty) == (Side.BUY, 2 * BTC)
    assert x.take_profit == 5_994_000  # 60000.01 * 0.999 = 59940.00999, down to 59940.00
    assert x.stop == 6_000_001 + 4
    assert excess_steps(cfg(), 3 * BTC + 40_000, 180_000 * USDT, BID, ASK) < 50_000
    assert exit_for(cfg(), R, 3 * BTC + 40_000, 3 * BTC + 40_000, 180_000 * USDT, 180_000 * USDT, BID, ASK, IDS) is None


def test_off_without_a_book_and_limited_to_what_is_free():
    off = PairConfig(symbol="BTCUSDT")
    assert exit_for(off, R, 5 * BTC, 5 * BTC, 0, 0, BID, ASK, IDS) is None
    assert exit_for(cfg(), R, 5 * BTC, 5 * BTC, 0, 0, 0, 0, IDS) is None
    x = exit_for(cfg(), R, 1 * BTC, 5 * BTC, 60_000 * USDT, 60_000 * USDT, BID, ASK, IDS)
    assert x is not None and x.qty == 1 * BTC  # only 1 BTC free of the 2 past the target
    # a take-profit distance inside the spread never crosses: it rests at the ask
    tight = PairConfig(
        symbol="BTCUSDT", exit_inventory=Decimal("0.5"), exit_take_profit="1ticks", exit_stop_loss="1ticks"
    )
    x = exit_for(tight, R, 5 * BTC, 5 * BTC, 60_000 * USDT, 60_000 * USDT, BID, ASK, IDS)
    assert x is not None and x.take_profit == ASK
    # nothing the filters allow: 5 steps (0.00005 BTC, 3 USDT) are past the target, below the 5 USDT minimum
    tiny = PairConfig(
        symbol="BTCUSDT", exit_inventory=Decimal("0.00001"), exit_take_profit="10bps", exit_stop_loss="10bps"
    )
    assert excess_steps(tiny, 10, 0, BID, ASK) == 5
    assert exit_for(tiny, R, 10, 10, 0, 0, BID, ASK, IDS) is None
    assert exit_for(tiny, R, 10 * BTC, 10 * BTC, 0, 0, BID, ASK, IDS) is not None
