"""``BacktestResult``: the metrics of one run and its tables (orders, fills, samples, states).

The metrics come straight from NumPy columns; the pandas tables are built the first time they are
read (then kept). ``liqkit backtest --json`` reads only the metrics, so it never imports pandas.

The inputs are plain columns, whatever produced them: orders and fills as a dict of column lists
(``ORDER_COLUMNS``, ``FILL_COLUMNS``), the engine's state changes as ``(ts, symbol, state, reason)``
rows and the driver's samples as ``SAMPLE_COLS`` tuples; prices in ticks, quantities in lot steps,
fees in ``FEE_SCALE`` units of tick x step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from liqkit.backtest import metrics as M
from liqkit.data.feed import MarketData
from liqkit.domain.rules import SymbolRules
from liqkit.engine.core import FEE_SCALE
from liqkit.engine.records import StateRecord

if TYPE_CHECKING:
    import pandas as pd

ORDER_COLUMNS = (
    "ts",
    "symbol",
    "client_id",
    "side",
    "price_ticks",
    "qty_steps",
    "filled_steps",
    "status",
    "level",
    "reason",
    "purpose",
)
FILL_COLUMNS = (
    "ts",
    "ts_exchange",
    "symbol",
    "client_id",
    "side",
    "price_ticks",
    "qty_steps",
    "fee_nu",
    "is_maker",
    "trade_id",
    "level",
    "purpose",
)
STATE_COLUMNS = ("ts", "symbol", "state", "reason")
SAMPLE_COLS = [
    "ts",
    "symbol",
    "bid_ticks",
    "ask_ticks",
    "our_bid_ticks",
    "our_ask_ticks",
    "pos_steps",
    "cash_units",
    "fee_nu",
    "state",
    "base_share",
]
_SUMMED = (
    "pnl",
    "spread_capture",
    "inventory_pnl",
    "fees",
    "rebalance_cost",
    "rebalance_fills",
    "exit_fills",
    "volume",
    "fills",
    "buy_fills",
    "sell_fills",
    "orders_placed",
    "orders_cancelled",
    "orders_filled",
    "orders_rejected",
)


class BacktestResult:
    """Metrics and tables (pandas, prices and quantities in exchange units) of one backtest.

    ``metrics`` (the whole run) and ``per_pair`` (one dict a symbol) are plain dicts computed at
    once; ``orders``, ``fills``, ``samples`` and ``states`` are DataFrames with a UTC time index,
    built on first access.
    """

    def __init__(
        self,
        orders: Mapping[str, Sequence[Any]],
        fills: Mapping[str, Sequence[Any]],
        states: Sequence[Sequence[Any]],
        samples: Sequence[Sequence[Any]],
        datas: Sequence[MarketData],
        events: int,
        wall_s: float,
    ) -> None:
        """Keep the run's columns and compute its metrics (see the module docstring for the inputs)."""
        for what, cols, names in (("orders", orders, ORDER_COLUMNS), ("fills", fills, FILL_COLUMNS)):
            missing = [n for n in names if n not in cols]
            if missing:
                raise ValueError(f"{what}: the columns lack {missing} (expected {list(names)})")
        self._order_cols = orders
        self._fill_cols = fills
        self._state_rows = states
        self._sample_rows = samples
        self._rules: dict[str, SymbolRules] = {md.symbol: md.rules for md in datas}
        self.per_pair: dict[str, dict[str, Any]] = _per_pair(orders, fills, datas, self._rules)
        self.metrics: dict[str, Any] = _totals(self.per_pair, datas, events, wall_s)

    @property
    def state_rows(self) -> list[Any]:
        """The engine's state changes as ``(ts, symbol, state, reason)`` rows (``states`` as a frame)."""
        return list(self._state_rows)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"BacktestResult(symbols={m['symbols']}, events={m['events']:,}, orders_placed={m['orders_placed']:,}, "
            f"fills={m['fills']:,}, pnl={m['pnl']:.6g})"
        )

    def summary(self) -> pd.Series:
        """Metrics as a Series (for display)."""
        import pandas as pd

        return pd.Series(self.metrics)

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Every order state change: ts, symbol, client_id, side, price, qty, filled, status, level, reason."""
        from liqkit.backtest.tables import orders_frame

        return orders_frame(self._order_cols, self._rules)

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every fill, with side_sign (+1 buy, -1 sell), fee (quote asset), notional and purpose ("quote",
        or "rebalance" for the active rebalance's orders)."""
        from liqkit.backtest.tables import fills_frame

        return fills_frame(self._fill_cols, self._rules)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """The run sampled over time per pair: market and our best prices, position, equity, state, and
        ``base_share``: the base asset's share of the pair's value (free and locked) at the mid."""
        from liqkit.backtest.tables import samples_frame

        return samples_frame(self._sample_rows, SAMPLE_COLS, self._rules)

    @cached_property
    def states(self) -> pd.DataFrame:
        """The engine's state changes per pair (quoting, paused, halted ...) and why."""
        from liqkit.backtest.tables import states_frame

        return states_frame(self._state_rows, STATE_COLUMNS)


class LazyColumns(Mapping[str, Sequence[Any]]):
    """Columns built when first read: ``build()`` makes them all at once; a column in ``single`` is
    made alone when it is read before the others (the metrics need only the order statuses)."""

    def __init__(
        self,
        names: Sequence[str],
        build: Callable[[], dict[str, list[Any]]],
        single: Mapping[str, Callable[[], list[Any]]] | None = None,
    ) -> None:
        self._names = tuple(names)
        self._build = build
        self._single = dict(single or {})
        self._cols: dict[str, Sequence[Any]] = {}
        self._all = False

    def __getitem__(self, key: str) -> Sequence[Any]:
        if key not in self._names:
            raise KeyError(key)
        col = self._cols.get(key)
        if col is None:
            make = self._single.get(key)
            if make is not None and not self._all:
                col = self._cols[key] = make()
            else:
                self._cols.update(self._build())
                self._all = True
                col = self._cols[key]
        return col

    def __contains__(self, key: object) -> bool:  # without building anything
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def build_result(
    core: Any, samples: list[tuple[Any, ...]], datas: list[MarketData], events: int, wall_s: float
) -> BacktestResult:
    """Turn the engine core's logs and the driver's samples into a result (the order table's
    columns only when the orders are read: the metrics need just their statuses)."""
    from liqkit.backtest.driver import fill_columns, order_columns

    order_log = core.order_log
    orders = LazyColumns(
        ORDER_COLUMNS,
        lambda: order_columns(order_log),
        {
            "status": lambda: [r.status for r in order_log],
            "symbol": lambda: [r.order.symbol for r in order_log],
        },
    )
    states = [(r.ts, r.symbol, r.state, r.reason) for r in core.event_log if isinstance(r, StateRecord)]
    return BacktestResult(orders, fill_columns(core.fill_log), states, samples, datas, events, wall_s)


def _ints(v: Sequence[Any]) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)  # a list, or an array already


def _per_pair(
    orders: Mapping[str, Sequence[Any]],
    fills: Mapping[str, Sequence[Any]],
    datas: Sequence[MarketData],
    rules: dict[str, SymbolRules],
) -> dict[str, dict[str, Any]]:
    """Each pair's metrics, from the columns (the scale of a row is its symbol's tick and step)."""
    syms = fills["symbol"]
    ts = _ints(fills["ts"])
    sign = np.where(_ints(fills["side"]) > 0, 1.0, -1.0)
    px_ticks, qty_steps, fee_nu = _ints(fills["price_ticks"]), _ints(fills["qty_steps"]), _ints(fills["fee_nu"])
    rebal = np.fromiter((p == "rebalance" for p in fills["purpose"]), bool, len(ts))
    exits = np.fromiter((p == "exit" for p in fills["purpose"]), bool, len(ts))
    if len(rules) == 1:
        only = next(iter(rules.values()))
        row_of: dict[str, np.ndarray] = {only.symbol: np.ones(len(ts), bool)}
        tick: Any = float(only.tick)
        step: Any = float(only.step)
        unit: Any = np.full(len(ts), float(only.tick * only.step))
    else:
        index = {s: i for i, s in enumerate(rules)}
        code = np.fromiter((index[s] for s in syms), np.int64, len(syms))
        row_of = {s: code == i for s, i in index.items()}
        r = list(rules.values())
        tick = np.array([float(x.tick) for x in r])[code]
        step = np.array([float(x.step) for x in r])[code]
        unit = np.array([float(x.tick * x.step) for x in r])[code]
    price = px_ticks.astype(float) * tick
    qty = qty_steps.astype(float) * step
    fee = fee_nu.astype(float) * unit / FEE_SCALE
    statuses = _status_counts(orders, rules)
    out: dict[str, dict[str, Any]] = {}
    for md in datas:
        sym = md.symbol
        k = row_of.get(sym, np.zeros(len(ts), bool))
        f = M.PairFills(ts[k], sign[k], price[k], qty[k], fee[k], rebal[k], exits[k])
        out[sym] = M.pair_metrics(f, M.MidLine.of_book(md.book, float(md.rules.tick)), statuses.get(sym, {}))
    return out


def _status_counts(orders: Mapping[str, Sequence[Any]], rules: dict[str, SymbolRules]) -> dict[str, Counter[str]]:
    """How many order log rows each status has, per symbol."""
    if len(rules) == 1:
        return {next(iter(rules)): Counter(orders["status"])}
    out: dict[str, Counter[str]] = {s: Counter() for s in rules}
    for (sym, status), n in Counter(zip(orders["symbol"], orders["status"], strict=True)).items():
        out.setdefault(sym, Counter())[status] = n
    return out


def _totals(
    per_pair: dict[str, dict[str, Any]], datas: Sequence[MarketData], events: int, wall_s: float
) -> dict[str, Any]:
    """The run's metrics: the one pair's, or the sums over pairs; then symbols, start and duration."""
    total: dict[str, Any] = {"events": events, "events_per_s": events / wall_s if wall_s > 0 else 0.0, "wall_s": wall_s}
    if len(datas) == 1:
        total.update(per_pair[datas[0].symbol])
    else:
        for key in _SUMMED:
            total[key] = sum(m[key] for m in per_pair.values())
    total["symbols"] = [md.symbol for md in datas]
    firsts = [int(md.book["ts_local"][0]) for md in datas if len(md.book["ts_local"])]
    lasts = [int(md.book["ts_local"][-1]) for md in datas if len(md.book["ts_local"])]
    total["start"] = M.utc_text(min(firsts)) if events and firsts else None
    total["duration_s"] = float((max(lasts) - min(firsts)) / 1e9) if events and firsts else 0.0
    return total


def decimal_pnl(result: BacktestResult) -> Decimal:
    """Total PnL as a Decimal (exact from the fills' integers), for accounting checks."""
    return Decimal(repr(result.metrics.get("pnl", 0.0)))
