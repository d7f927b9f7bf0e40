"""The SQLite journal: WAL, exact decimals, fills once, readers beside the writer, redaction."""

import sqlite3
from decimal import Decimal

import pytest

from liqkit.domain.types import OrderStatus, Side
from liqkit.journal import Journal, JournalError, read_journal


def test_round_trip_exact_decimals_and_wal(tmp_path):
    with Journal.in_state_dir(tmp_path / "state", "e1") as j:
        j.order(
            10,
            "BTCUSDT",
            "lq.a",
            Side.BUY,
            Decimal("61837.63"),
            Decimal("0.00001"),
            Decimal(0),
            OrderStatus.NEW,
            level=0,
        )
        j.fill(
            11,
            "BTCUSDT",
            "lq.a",
            Side.BUY,
            Decimal("61837.63"),
            Decimal("0.00001"),
            Decimal("0.000061837630"),
            "USDT",
            True,
            trade_id=5,
        )
        j.balance(12, "BTC", Decimal("1.00001"), Decimal(0))
        j.state(13, "BTCUSDT", "quoting", "run")
        j.config_change(14, "BTCUSDT", {"spread": "2bps"}, "file")
        orders, fills = j.orders(), j.fills()
        assert orders["qty_text"].tolist() == ["0.00001"]  # never 1E-5
        assert fills["fee_text"].tolist() == ["0.00006183763"] and fills["price"].iloc[0] == pytest.approx(61837.63)
        assert j.balances()["free_text"].tolist() == ["1.00001"]
        assert j.states()["state"].tolist() == ["quoting"]
        mode = sqlite3.connect(tmp_path / "state" / "journal.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_a_fill_reported_twice_is_stored_once(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        for _ in range(3):
            j.fill(1, "BTCUSDT", "lq.a", Side.SELL, "100", "1", "0.01", "USDT", True, trade_id=42)
        j.fill(2, "BTCUSDT", "lq.a", Side.SELL, "100", "1", "0.01", "USDT", True, trade_id=43)
        assert len(j.fills()) == 2 and j.new_fills == 2


def test_readers_see_flushed_rows_while_the_writer_is_open(tmp_path):
    w = Journal(tmp_path / "j.sqlite", flush_every=1000)
    w.order(1, "BTCUSDT", "lq.a", Side.BUY, "1", "1", "0", "PENDING_NEW")
    r = Journal(tmp_path / "j.sqlite", engine_id="reader")
    assert len(r.orders()) == 0  # still buffered in the writer
    w.flush()
    assert len(r.orders()) == 1
    # a crash: the writer never closes; what was flushed survives
    w.order(2, "BTCUSDT", "lq.a", Side.BUY, "1", "1", "0", "NEW")
    w.flush()
    assert read_journal(tmp_path / "j.sqlite")["orders"]["status"].tolist() == ["PENDING_NEW", "NEW"]
    r.close()


def test_latest_and_open_orders(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        for cid, statuses in {
            "a": ["PENDING_NEW", "NEW", "CANCELED"],
            "b": ["PENDING_NEW", "NEW"],
            "c": ["UNKNOWN"],
        }.items():
            for k, s in enumerate(statuses):
                j.order(k, "BTCUSDT", cid, Side.BUY, "1", "1", "0", s)
        assert dict(zip(j.latest_orders()["client_id"], j.latest_orders()["status"], strict=True)) == {
            "a": "CANCELED",
            "b": "NEW",
            "c": "UNKNOWN",
        }
        assert sorted(j.open_orders()["client_id"]) == ["b", "c"]


def test_secrets_never_reach_the_journal(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.config_change(1, None, {"engine": {"api_key": "abc123", "API_SECRET": "s3cr3t", "venue": "sim"}}, "file")
        text = j.config_changes()["config"].iloc[0]
    assert "abc123" not in text and "s3cr3t" not in text and '"venue": "sim"' in text


def test_newer_schema_and_garbage_are_refused(tmp_path):
    db = sqlite3.connect(tmp_path / "new.sqlite")
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="newer"):
        Journal(tmp_path / "new.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="cannot use"):
        Journal(tmp_path / "junk.sqlite")


def test_orders_and_fills_carry_their_purpose_and_a_schema_1_journal_gains_the_column(tmp_path):
    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old)  # a journal as liqkit wrote it before the active rebalance (schema 1)
    db.executescript(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, ts_exchange INTEGER "
        "NOT NULL, engine_id TEXT NOT NULL, symbol TEXT NOT NULL, client_id TEXT NOT NULL, side TEXT NOT NULL, "
        "price TEXT NOT NULL, qty TEXT NOT NULL, filled TEXT NOT NULL, status TEXT NOT NULL, level INTEGER, "
        "venue_order_id INTEGER, reason TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE fills (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, ts_exchange INTEGER "
        "NOT NULL, engine_id TEXT NOT NULL, symbol TEXT NOT NULL, client_id TEXT NOT NULL, side TEXT NOT NULL, "
        "price TEXT NOT NULL, qty TEXT NOT NULL, fee TEXT NOT NULL, fee_asset TEXT NOT NULL, is_maker INTEGER NOT "
        "NULL, trade_id INTEGER NOT NULL);"
        "INSERT INTO fills (ts_local, ts_exchange, engine_id, symbol, client_id, side, price, qty, fee, fee_asset, "
        "is_maker, trade_id) VALUES (1, 0, 'e', 'BTCUSDT', 'lq.old', 'BUY', '1', '1', '0', 'USDT', 1, 1);"
        "PRAGMA user_version=1;"
    )
    db.commit()
    db.close()
    with Journal(old, "e") as j:
        j.fill(2, "BTCUSDT", "lq.rb", Side.SELL, "2", "1", "0.1", "USDT", False, trade_id=2, purpose="rebalance")
        j.order(2, "BTCUSDT", "lq.rb", Side.SELL, "2", "1", "1", OrderStatus.FILLED, purpose="rebalance")
        fills, orders = j.fills(), j.orders()
        recent = j.recent_fills("BTCUSDT")
    assert list(fills["purpose"]) == ["quote", "rebalance"]  # the old row reads "quote"
    assert list(orders["purpose"]) == ["rebalance"]
    assert [(r.client_id, r.purpose) for r in recent] == [("lq.old", "quote"), ("lq.rb", "rebalance")]
    assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone()[0] == 2
