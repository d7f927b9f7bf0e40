"""``Journal.recent_fills``: the latest fills asked for, read without walking the whole table."""

from decimal import Decimal

from liqkit.domain.types import Side
from liqkit.journal import Journal

T0 = 1_700_000_000 * 10**9


def write(j: Journal, n: int) -> None:
    for i in range(n):
        sym = "ETHUSDT" if i % 4 == 0 else "BTCUSDT"
        j.fill(T0 + i * 1000, sym, f"lq.{i}", Side.BUY, Decimal("100.5"), "0.01", "0", "USDT", True, trade_id=i)
    j.flush()


def steps(j: Journal, **query: object) -> int:
    """SQLite virtual-machine steps (in thousands) one ``recent_fills`` call takes."""
    n = [0]

    def tick() -> int:
        n[0] += 1
        return 0

    j._db.set_progress_handler(tick, 1000)
    try:
        j.recent_fills(**query)  # type: ignore[arg-type]
    finally:
        j._db.set_progress_handler(None, 0)
    return n[0]


def test_recent_fills_are_the_tail_of_the_full_read(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        write(j, 3_000)
        full = j.fills("BTCUSDT")
        rows = j.recent_fills("BTCUSDT", limit=25)
        assert [r.trade_id for r in rows] == full["trade_id"].tail(25).tolist()
        assert [r.price for r in rows] == full["price_text"].tail(25).tolist()
        since = T0 + 2_990 * 1000
        assert [r.trade_id for r in j.recent_fills(limit=100, since_ns=since)] == list(range(2_990, 3_000))
        assert j.recent_fills("XRPUSDT") == [] and j.recent_fills(limit=0) == []
        j.fill(T0 + 10**9, "BTCUSDT", "lq.new", Side.SELL, "101", "0.01", "0", "USDT", False, trade_id=99_999)
        assert j.recent_fills("BTCUSDT", limit=1)[0].trade_id == 99_999  # buffered writes are read too


def test_the_cost_does_not_grow_with_the_journal(tmp_path):
    with Journal(tmp_path / "small.sqlite") as small, Journal(tmp_path / "big.sqlite") as big:
        write(small, 1_000)
        write(big, 40_000)
        for query in ({"symbol": "BTCUSDT", "limit": 50}, {"limit": 50}, {"symbol": "ETHUSDT", "since_ns": T0}):
            a, b = steps(small, **query), steps(big, **query)
            assert b <= a + 2, (query, a, b)  # 40 times the rows, the same work
        assert steps(big, symbol="ETHUSDT", limit=5_000) > 10 * steps(big, symbol="ETHUSDT", limit=50)  # it counts
