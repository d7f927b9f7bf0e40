"""The simulated exchange's matching core: sans-I/O, deterministic, integer units.

It keeps our resting orders, matches them against the market feed it is shown, keeps balances
(free/locked per asset, like Binance), enforces the symbol's filters, and answers like Binance would
(post-only crossing is -2010, filter failures -1013, unknown orders -2011). Two fill models:

- ``trade-through`` (the common benchmark's rule): a resting buy at P fills whole on any trade at
  ``<= P``, a sell on any trade at ``>= P``.
- ``realistic``: a trade by a seller fills our bids priced above it, up to the trade's quantity;
  at our own price only after the queue ahead of us (the displayed quantity when we joined) has
  traded; a book that moves through our price (best ask ``<=`` our bid) fills us whole as maker.

Fees: maker/taker rates in bps, charged in the quote asset. Fills come back as tuples
``(client_id, price, qty, fee_nu, is_maker, trade_id)`` with ``fee_nu`` in (tick*step)/1e8 units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from liqkit.domain.errors import FilterError
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import Side
from liqkit.engine.ids import is_liqkit_id

INF = 1 << 62
FEE_SCALE = 100_000_000


class SimFill(NamedTuple):
    """One execution of one of our orders."""

    client_id: str
    price: int
    qty: int
    fee_nu: int
    is_maker: bool
    trade_id: int


_NONE: list[SimFill] = []  # shared empty answer: callers must not mutate it


class PlaceResult(NamedTuple):
    """Answer to a new order: accepted or not, Binance's code and message, immediate taker fills."""

    accepted: bool
    code: int
    message: str
    fills: list[SimFill]


@dataclass(slots=True)
class SimOrder:
    """An order resting at the simulated exchange."""

    client_id: str
    pair: int
    side: Side
    price: int
    qty: int
    filled: int
    queue: int  # quantity ahead of us at our price (realistic model)
    ts: int
    order_id: int


class _Book:
    __slots__ = ("ask", "ask_qty", "bid", "bid_qty", "buys", "max_buy", "min_sell", "rules", "sells")

    def __init__(self, rules: SymbolRules) -> None:
        self.rules = rules
        self.bid = self.ask = self.bid_qty = self.ask_qty = 0
        self.buys: dict[str, SimOrder] = {}
        self.sells: dict[str, SimOrder] = {}
        self.max_buy = -INF
        self.min_sell = INF

    def refresh(self) -> None:
        self.max_buy = max((o.price for o in self.buys.values()), default=-INF)
        self.min_sell = min((o.price for o in self.sells.values()), default=INF)


class SimExchange:
    """Match our orders for any number of symbols (indexed in the order they are added)."""

    def __init__(
        self,
        fill_model: str = "realistic",
        maker_fee_bps: Decimal | int = 0,
        taker_fee_bps: Decimal | int = 0,
        balances: dict[str, Decimal] | None = None,
    ) -> None:
        if fill_model not in ("trade-through", "realistic"):
            raise ValueError(f"fill_model = {fill_model!r}: use 'trade-through' or 'realistic'")
        self.realistic = fill_model == "realistic"
        self.maker_ppb = int(Decimal(maker_fee_bps) * 10_000)
        self.taker_ppb = int(Decimal(taker_fee_bps) * 10_000)
        self.books: list[_Book] = []
        self.index: dict[str, int] = {}
        self.orders: dict[str, SimOrder] = {}
        self.free: dict[str, Decimal] = {k: Decimal(v) for k, v in (balances or {}).items()}
        self.locked: dict[str, Decimal] = dict.fromkeys(self.free, Decimal(0))
        self.next_order_id = 1
        self.next_trade_id = 1
        self.n_placed = self.n_cancelled = self.n_fills = self.n_rejected = 0

    def add_symbol(self, rules: SymbolRules) -> int:
        """Trade ``rules.symbol`` here; returns its index."""
        if rules.symbol in self.index:
            return self.index[rules.symbol]
        self.books.append(_Book(rules))
        self.index[rules.symbol] = len(self.books) - 1
        for asset in (rules.base_asset, rules.quote_asset):
            self.free.setdefault(asset, Decimal(0))
            self.locked.setdefault(asset, Decimal(0))
        return len(self.books) - 1

    # ---- market feed ------------------------------------------------------------------------------
    def on_book(self, idx: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> list[SimFill]:
        """Show a new top of book; in the realistic model a book through our price fills us."""
        bk = self.books[idx]
        bk.bid, bk.ask, bk.bid_qty, bk.ask_qty = bid, ask, bid_qty, ask_qty
        if not self.realistic or (ask > bk.max_buy and bid < bk.min_sell):
            if self.realistic:
                self._shrink_queues(bk)
            return _NONE
        fills: list[SimFill] = []
        for o in [o for o in bk.buys.values() if ask <= o.price]:
            fills.append(self._fill(bk, o, o.price, o.qty - o.filled, True))
        for o in [o for o in bk.sells.values() if bid >= o.price]:
            fills.append(self._fill(bk, o, o.price, o.qty - o.filled, True))
        self._shrink_queues(bk)
        return fills

    def _shrink_queues(self, bk: _Book) -> None:
        # the queue ahead of us cannot exceed what is displayed at our price
        for o in bk.buys.values():
            if o.price == bk.bid and o.queue > bk.bid_qty:
                o.queue = bk.bid_qty
        for o in bk.sells.values():
            if o.price == bk.ask and o.queue > bk.ask_qty:
                o.queue = bk.ask_qty

    def on_trade(self, idx: int, price: int, qty: int, aggressor: int) -> list[SimFill]:
        """Show a public trade; return the fills it causes to our orders."""
        bk = self.books[idx]
        if bk.max_buy < price < bk.min_sell:
            return _NONE
        if not self.realistic:
            fills = [self._fill(bk, o, o.price, o.qty - o.filled, True) for o in list(bk.buys.values()) if price <= o.price]
            fills += [self._fill(bk, o, o.price, o.qty - o.filled, True) for o in list(bk.sells.values()) if price >= o.price]
            return fills
        fills = []
        left = qty
        if aggressor < 0 and price <= bk.max_buy:  # a seller took: our bids at or above the price
            for o in sorted(bk.buys.values(), key=lambda o: (-o.price, o.ts)):
                if left <= 0 or o.price < price:
                    break
                left = self._match(bk, o, price, left, fills)
        elif aggressor > 0 and price >= bk.min_sell:
            for o in sorted(bk.sells.values(), key=lambda o: (o.price, o.ts)):
                if left <= 0 or o.price > price:
                    break
                left = self._match(bk, o, price, left, fills)
        return fills

    def _match(self, bk: _Book, o: SimOrder, price: int, left: int, fills: list[SimFill]) -> int:
        if o.price == price:  # at our price: the queue ahead trades first
            if o.queue >= left:
                o.queue -= left
                return 0
            left -= o.queue
            o.queue = 0
        q = min(left, o.qty - o.filled)
        fills.append(self._fill(bk, o, o.price, q, True))
        return left - q

    def _fill(self, bk: _Book, o: SimOrder, price: int, qty: int, maker: bool) -> SimFill:
        r = bk.rules
        o.filled += qty
        notional = price * qty
        fee_nu = notional * (self.maker_ppb if maker else self.taker_ppb)
        unit = r.tick * r.step
        fee = Decimal(fee_nu) * unit / FEE_SCALE
        if o.side is Side.BUY:
            self.locked[r.quote_asset] -= unit * (o.price * qty)
            self.free[r.quote_asset] += unit * ((o.price - price) * qty) - fee
            self.free[r.base_asset] += r.step * qty
        else:
            self.locked[r.base_asset] -= r.step * qty
            self.free[r.quote_asset] += unit * notional - fee
        if o.filled >= o.qty:
            del self.orders[o.client_id]
            (bk.buys if o.side is Side.BUY else bk.sells).pop(o.client_id)
            bk.refresh()
        self.n_fills += 1
        tid = self.next_trade_id
        self.next_trade_id += 1
        return SimFill(o.client_id, price, qty, fee_nu, maker, tid)

    # ---- orders -----------------------------------------------------------------------------------
    def place(self, idx: int, ts: int, client_id: str, side: Side, price: int, qty: int, post_only: bool) -> PlaceResult:
        """Accept or refuse a new limit order, as Binance would."""
        bk = self.books[idx]
        r = bk.rules
        if client_id in self.orders:
            return self._reject(-2010, "Duplicate order sent.")
        try:
            r.check_order(side, price, qty, (bk.bid + bk.ask) // 2 if bk.bid else None)
        except FilterError as e:
            return self._reject(-1013, f"Filter failure: {e.filter_name}")
        crosses = (side is Side.BUY and bk.ask and price >= bk.ask) or (side is Side.SELL and bk.bid and price <= bk.bid)
        if post_only and crosses:
            return self._reject(-2010, "Order would immediately match and take.")
        if r.max_orders and len(bk.buys) + len(bk.sells) >= r.max_orders:
            return self._reject(-1013, "Filter failure: MAX_NUM_ORDERS")
        unit = r.tick * r.step
        if side is Side.BUY:
            need, asset = unit * (price * qty), r.quote_asset
        else:
            need, asset = r.step * qty, r.base_asset
        if self.free[asset] < need:
            return self._reject(-2010, "Account has insufficient balance for requested action.")
        self.free[asset] -= need
        self.locked[asset] += need
        queue = 0
        if self.realistic:
            if side is Side.BUY:
                queue = bk.bid_qty if price == bk.bid else (0 if price > bk.bid else bk.bid_qty)
            else:
                queue = bk.ask_qty if price == bk.ask else (0 if price < bk.ask else bk.ask_qty)
        o = SimOrder(client_id, idx, side, price, qty, 0, queue, ts, self.next_order_id)
        self.next_order_id += 1
        self.orders[client_id] = o
        if side is Side.BUY:
            bk.buys[client_id] = o
            if price > bk.max_buy:
                bk.max_buy = price
        else:
            bk.sells[client_id] = o
            if price < bk.min_sell:
                bk.min_sell = price
        self.n_placed += 1
        fills: list[SimFill] = []
        if crosses:  # a plain limit order that crosses takes the touch's displayed quantity
            avail = bk.ask_qty if side is Side.BUY else bk.bid_qty
            touch = bk.ask if side is Side.BUY else bk.bid
            if avail > 0:
                fills.append(self._fill(bk, o, touch, min(avail, qty), False))
        return PlaceResult(True, 0, "", fills)

    def _reject(self, code: int, message: str) -> PlaceResult:
        self.n_rejected += 1
        return PlaceResult(False, code, message, [])

    def cancel(self, client_id: str) -> bool:
        """Cancel a resting order; False if it is not open (Binance: -2011 Unknown order sent)."""
        o = self.orders.pop(client_id, None)
        if o is None:
            return False
        bk = self.books[o.pair]
        r = bk.rules
        rem = o.qty - o.filled
        if o.side is Side.BUY:
            del bk.buys[client_id]
            amount, asset = r.tick * r.step * (o.price * rem), r.quote_asset
        else:
            del bk.sells[client_id]
            amount, asset = r.step * rem, r.base_asset
        self.locked[asset] -= amount
        self.free[asset] += amount
        bk.refresh()
        self.n_cancelled += 1
        return True

    def cancel_all(self, idx: int, own_only: bool = True) -> list[str]:
        """Cancel a symbol's open orders (only liqkit's when ``own_only``); returns their ids."""
        bk = self.books[idx]
        ids = [cid for cid in [*bk.buys, *bk.sells] if not own_only or is_liqkit_id(cid)]
        for cid in ids:
            self.cancel(cid)
        return ids

    def open_orders(self, idx: int | None = None) -> list[SimOrder]:
        """Resting orders (of one symbol, or all)."""
        return [o for o in self.orders.values() if idx is None or o.pair == idx]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, locked) per asset."""
        return {a: (self.free[a], self.locked[a]) for a in sorted(self.free)}
