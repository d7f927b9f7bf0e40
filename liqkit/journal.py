"""The journal: every order change, fill, balance, config change and state change, in SQLite, and
every order request's round trip (sent, answered, kind, outcome: ``liqkit latency export`` reads them).

One file in the state directory (``journal.sqlite``), WAL mode so readers (a notebook, the
dashboard) read while the engine writes. Writes are buffered and committed in batches: the engine's
hot path pays a list append. Every row carries the writing engine's id, so several engines (sharded
by pair) may share a schema. Exact decimal values are stored as plain decimal text; readers return
pandas DataFrames with float columns for analysis and the exact text beside them (``*_text``).
A fill is stored once even if the venue reports it twice (unique on engine, symbol, order, trade).
Orders and fills carry their ``purpose``: "quote", "rebalance" for the active rebalance's orders, "exit"
for an OCO exit's legs
(schema 2; a schema-1 journal gains the column, its rows read "quote").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from liqkit.domain.errors import LiqkitError
from liqkit.domain.rules import plain_decimal
from liqkit.domain.types import OrderStatus, Side

SCHEMA_VERSION = 2
PURPOSES = ("quote", "rebalance", "exit")
FILE_NAME = "journal.sqlite"
_OPEN = tuple(s.value for s in OrderStatus if s.is_open)
_SECRET_WORDS = ("key", "secret", "token", "password")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, ts_exchange INTEGER NOT NULL,
  engine_id TEXT NOT NULL, symbol TEXT NOT NULL, client_id TEXT NOT NULL, side TEXT NOT NULL,
  price TEXT NOT NULL, qty TEXT NOT NULL, filled TEXT NOT NULL, status TEXT NOT NULL,
  level INTEGER, venue_order_id INTEGER, reason TEXT NOT NULL DEFAULT '', purpose TEXT NOT NULL DEFAULT 'quote');
CREATE INDEX IF NOT EXISTS orders_by_client ON orders (engine_id, client_id, id);
CREATE TABLE IF NOT EXISTS fills (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, ts_exchange INTEGER NOT NULL,
  engine_id TEXT NOT NULL, symbol TEXT NOT NULL, client_id TEXT NOT NULL, side TEXT NOT NULL,
  price TEXT NOT NULL, qty TEXT NOT NULL, fee TEXT NOT NULL, fee_asset TEXT NOT NULL,
  is_maker INTEGER NOT NULL, trade_id INTEGER NOT NULL, purpose TEXT NOT NULL DEFAULT 'quote');
CREATE UNIQUE INDEX IF NOT EXISTS fills_once ON fills (engine_id, symbol, client_id, trade_id);
CREATE INDEX IF NOT EXISTS fills_by_symbol_time ON fills (symbol, ts_local);
CREATE INDEX IF NOT EXISTS fills_by_time ON fills (ts_local);
CREATE TABLE IF NOT EXISTS balances (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, engine_id TEXT NOT NULL,
  asset TEXT NOT NULL, free TEXT NOT NULL, locked TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS config_changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, engine_id TEXT NOT NULL,
  symbol TEXT, source TEXT NOT NULL, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS states (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_local INTEGER NOT NULL, engine_id TEXT NOT NULL,
  symbol TEXT, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_sent INTEGER NOT NULL, ts_answer INTEGER NOT NULL,
  engine_id TEXT NOT NULL, session TEXT NOT NULL, symbol TEXT NOT NULL, client_id TEXT NOT NULL,
  kind TEXT NOT NULL, outcome TEXT NOT NULL);
"""

_INSERT = {
    "orders": "INSERT INTO orders (ts_local, ts_exchange, engine_id, symbol, client_id, side, price, qty, filled, "
    "status, level, venue_order_id, reason, purpose) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "fills": "INSERT OR IGNORE INTO fills (ts_local, ts_exchange, engine_id, symbol, client_id, side, price, qty, fee, "
    "fee_asset, is_maker, trade_id, purpose) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "balances": "INSERT INTO balances (ts_local, engine_id, asset, free, locked) VALUES (?,?,?,?,?)",
    "config_changes": "INSERT INTO config_changes (ts_local, engine_id, symbol, source, config) VALUES (?,?,?,?,?)",
    "states": "INSERT INTO states (ts_local, engine_id, symbol, state, reason) VALUES (?,?,?,?,?)",
    "requests": "INSERT INTO requests (ts_sent, ts_answer, engine_id, session, symbol, client_id, kind, outcome) "
    "VALUES (?,?,?,?,?,?,?,?)",
}
_DECIMALS = {"orders": ("price", "qty", "filled"), "fills": ("price", "qty", "fee"), "balances": ("free", "locked")}


class FillRow(NamedTuple):
    """One stored fill: times in ns, exact decimals as their plain text."""

    ts_local: int
    ts_exchange: int
    symbol: str
    client_id: str
    side: str
    price: str
    qty: str
    fee: str
    fee_asset: str
    is_maker: bool
    trade_id: int
    purpose: str = "quote"


_FILL_COLUMNS = ", ".join(FillRow._fields)


class JournalError(LiqkitError):
    """The journal file cannot be used (newer schema, not a journal, unwritable)."""


def plain(value: Decimal | str | int) -> str:
    """A decimal (or its text) as plain text, never exponent form."""
    return plain_decimal(value if isinstance(value, Decimal) else Decimal(str(value)))


def redact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-looking keys (key, secret, token, password) replaced."""
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        if any(w in str(k).lower() for w in _SECRET_WORDS):
            out[k] = "***"
        elif isinstance(v, Mapping):
            out[k] = redact(v)
        else:
            out[k] = v
    return out


class Journal:
    """Append-only record of what an engine did, in one SQLite file."""

    def __init__(self, path: str | Path, engine_id: str = "main", *, flush_every: int = 256) -> None:
        self.path = Path(path)
        self.engine_id = engine_id
        self.flush_every = flush_every
        self._pending: dict[str, list[tuple[Any, ...]]] = {k: [] for k in _INSERT}
        self._n = 0
        self.new_fills = 0  # fills actually stored (duplicates ignored)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path}: journal schema {version} is newer than this liqkit's ({SCHEMA_VERSION}): upgrade"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.commit()
        except sqlite3.DatabaseError as e:
            raise JournalError(f"{self.path}: cannot use as a journal: {e}") from None

    def _migrate(self) -> None:
        """Bring an older journal's tables to this schema (CREATE TABLE IF NOT EXISTS leaves them as they are):
        schema 2 added ``purpose`` to orders and fills."""
        for table in ("orders", "fills"):
            cols = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if "purpose" not in cols:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN purpose TEXT NOT NULL DEFAULT 'quote'")

    @classmethod
    def in_state_dir(cls, state_dir: str | Path, engine_id: str = "main") -> Journal:
        """Open (creating the folder and file if needed) the journal of a state directory."""
        d = Path(state_dir)
        d.mkdir(parents=True, exist_ok=True)
        return cls(d / FILE_NAME, engine_id)

    # ---- writing --------------------------------------------------------------------------------
    def _add(self, table: str, row: tuple[Any, ...]) -> None:
        self._pending[table].append(row)
        self._n += 1
        if self._n >= self.flush_every:
            self.flush()

    def order(
        self,
        ts_local: int,
        symbol: str,
        client_id: str,
        side: Side,
        price: Decimal | str,
        qty: Decimal | str,
        filled: Decimal | str,
        status: OrderStatus | str,
        *,
        ts_exchange: int = 0,
        level: int | None = None,
        venue_order_id: int | None = None,
        reason: str = "",
        purpose: str = "quote",
    ) -> None:
        """Record an order's new state (``purpose``: one of ``PURPOSES``)."""
        st = status.value if isinstance(status, OrderStatus) else str(status)
        self._add(
            "orders",
            (
                ts_local,
                ts_exchange,
                self.engine_id,
                symbol,
                client_id,
                Side(side).name,
                plain(price),
                plain(qty),
                plain(filled),
                st,
                level,
                venue_order_id,
                reason,
                purpose,
            ),
        )

    def fill(
        self,
        ts_local: int,
        symbol: str,
        client_id: str,
        side: Side,
        price: Decimal | str,
        qty: Decimal | str,
        fee: Decimal | str,
        fee_asset: str,
        is_maker: bool,
        *,
        ts_exchange: int = 0,
        trade_id: int = 0,
        purpose: str = "quote",
    ) -> None:
        """Record an execution (stored once per engine, symbol, order and trade id; ``purpose``: one of
        ``PURPOSES``)."""
        self._add(
            "fills",
            (
                ts_local,
                ts_exchange,
                self.engine_id,
                symbol,
                client_id,
                Side(side).name,
                plain(price),
                plain(qty),
                plain(fee),
                fee_asset,
                int(bool(is_maker)),
                trade_id,
                purpose,
            ),
        )

    def balance(self, ts_local: int, asset: str, free: Decimal | str, locked: Decimal | str) -> None:
        """Record an asset's balance."""
        self._add("balances", (ts_local, self.engine_id, asset, plain(free), plain(locked)))

    def config_change(self, ts_local: int, symbol: str | None, config: Mapping[str, Any] | str, source: str) -> None:
        """Record a configuration change (secret-looking values are redacted)."""
        body = config if isinstance(config, str) else json.dumps(redact(config), sort_keys=True, default=str)
        self._add("config_changes", (ts_local, self.engine_id, symbol, source, body))

    def state(self, ts_local: int, symbol: str | None, state: str, reason: str = "") -> None:
        """Record an engine (symbol None) or pair state change."""
        self._add("states", (ts_local, self.engine_id, symbol, state, reason))

    def request(
        self, ts_sent: int, ts_answer: int, symbol: str, client_id: str, kind: str, outcome: str, session: str = ""
    ) -> None:
        """Record one order request's round trip: sent and answered (the engine's clock, ns), its kind
        (place, cancel, amend, replace, cancel_all, query, place_oco, cancel_list), the outcome (ok,
        refused, not_open, retry, unknown, failed) and the session (its runner's start:
        ``<start ns>-<4 characters>``)."""
        self._add("requests", (ts_sent, ts_answer, self.engine_id, session, symbol, client_id, kind, outcome))

    def flush(self) -> None:
        """Commit everything buffered, in one transaction."""
        if not self._n:
            return
        with self._db:
            for table, rows in self._pending.items():
                if rows:
                    before = self._db.total_changes
                    self._db.executemany(_INSERT[table], rows)
                    if table == "fills":
                        self.new_fills += self._db.total_changes - before
                    rows.clear()
        self._n = 0

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db.close()
                self._db = None  # type: ignore[assignment]

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading --------------------------------------------------------------------------------
    def _frame(self, table: str, where: str = "", params: tuple[Any, ...] = ()) -> pd.DataFrame:
        self.flush()
        df = pd.read_sql_query(f"SELECT * FROM {table} {where} ORDER BY id", self._db, params=params)
        for col in _DECIMALS.get(table, ()):
            df[f"{col}_text"] = df[col]
            df[col] = df[col].astype(float)
        ts = df["ts_sent" if table == "requests" else "ts_local"]
        df.index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="time")
        return df

    @staticmethod
    def _filters(symbol: str | None = None, since_ns: int | None = None) -> tuple[str, tuple[Any, ...]]:
        conds: list[str] = []
        params: list[Any] = []
        if symbol is not None:
            conds.append("symbol = ?")
            params.append(symbol)
        if since_ns is not None:
            conds.append("ts_local >= ?")
            params.append(since_ns)
        return ("WHERE " + " AND ".join(conds) if conds else ""), tuple(params)

    def orders(self, symbol: str | None = None, since_ns: int | None = None) -> pd.DataFrame:
        """Every order state change."""
        return self._frame("orders", *self._filters(symbol, since_ns))

    def fills(self, symbol: str | None = None, since_ns: int | None = None) -> pd.DataFrame:
        """Every fill."""
        return self._frame("fills", *self._filters(symbol, since_ns))

    def recent_fills(self, symbol: str | None = None, limit: int = 200, since_ns: int | None = None) -> list[FillRow]:
        """The latest ``limit`` fills (of ``symbol``; at or after ``since_ns``), oldest first.

        One indexed query that reads only the rows it returns, however long the journal: what a
        dashboard asks every few seconds. Ordered by local time, then by insertion.
        """
        self.flush()
        where, params = self._filters(symbol, since_ns)
        rows = self._db.execute(
            f"SELECT {_FILL_COLUMNS} FROM fills {where} ORDER BY ts_local DESC, id DESC LIMIT ?",
            (*params, max(0, limit)),
        ).fetchall()
        return [FillRow._make((*r[:9], bool(r[9]), *r[10:])) for r in reversed(rows)]

    def requests(self, session: str | None = None) -> pd.DataFrame:
        """Every order request's round trip (of one ``session`` if given), in the order answered."""
        if session is None:
            return self._frame("requests")
        return self._frame("requests", "WHERE session = ?", (session,))

    def sessions(self) -> list[str]:
        """The sessions that sent requests (one per runner start), in the order they first wrote."""
        self.flush()
        rows = self._db.execute("SELECT session FROM requests GROUP BY session ORDER BY MIN(id)")
        return [r[0] for r in rows]

    def balances(self, since_ns: int | None = None) -> pd.DataFrame:
        """Every balance record."""
        return self._frame("balances", *self._filters(None, since_ns))

    def config_changes(self, symbol: str | None = None) -> pd.DataFrame:
        """Every configuration change."""
        return self._frame("config_changes", *self._filters(symbol))

    def states(self, symbol: str | None = None) -> pd.DataFrame:
        """Every state change."""
        return self._frame("states", *self._filters(symbol))

    def latest_orders(self, symbol: str | None = None) -> pd.DataFrame:
        """The last recorded state of each order."""
        df = self.orders(symbol)
        return df.groupby(["engine_id", "client_id"], sort=False).tail(1)

    def open_orders(self, symbol: str | None = None) -> pd.DataFrame:
        """Orders whose last recorded state may still be open."""
        df = self.latest_orders(symbol)
        return df[df["status"].isin(_OPEN)]


def read_journal(path: str | Path) -> dict[str, pd.DataFrame]:
    """All tables of a journal file (or of a state directory's journal) as DataFrames."""
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    if not p.exists():
        raise JournalError(f"{p}: no journal here")
    with Journal(p, engine_id="reader") as j:
        return {
            "orders": j.orders(),
            "fills": j.fills(),
            "balances": j.balances(),
            "config_changes": j.config_changes(),
            "states": j.states(),
            "requests": j.requests(),
        }
