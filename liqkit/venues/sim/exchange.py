"""The simulated exchange's matching core: sans-I/O, deterministic, integer units.

It keeps our resting orders, matches them against the market feed it is shown, keeps balances
(free/locked per asset, like Binance), enforces the symbol's filters, and answers like Binance would
(post-only crossing is -2010, filter failures -1013 naming the filter, unknown orders -2011; the
filter check is ``OrderFilters.failure``, the one the engine quotes with). Orders can be reduced in
place (``amend``, Binance's keepPriority amend). Two fill models:

- ``trade-through`` (the common benchmark's rule): a resting buy at P fills whole on any trade at
  ``<= P``, a sell on any trade at ``>= P``.
- ``realistic``: a trade by a seller fills our bids priced above it, up to the trade's quantity;
  at our own price only after the queue ahead of us (the displayed quantity when we joined) has
  traded; a book that moves through our price (best ask ``<=`` our bid) fills us whole as maker.

Fees: maker/taker rates in bps, charged in the quote asset. Fills come back as tuples
``(client_id, price, qty, fee_nu, is_maker, trade_id)`` with ``fee_nu`` in (tick*step)/1e8 units.
Balances are integers in each asset's own unit: the finest of the steps (base) and tick*step
(quote) of the symbols that use it, e.g. 1e-5 BTC and 1e-7 USDT for BTCUSDT. Every fill is then
exact integer arithmetic on small numbers; ``balances()`` gives Decimals back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import RejectReason, Side
from liqkit.engine.ids import is_liqkit_id

INF: Final = 1 << 60
_BUY: Final = Side.BUY  # a module constant: compiled, no attribute lookup on the enum per use
FEE_SCALE: Final = 100_000_000
DEFAULT_UNIT: Final = Decimal("1e-8")  # Binance's balance precision, for assets no symbol uses yet


class SimFill:
    """One execution of one of our orders (price in ticks, qty in steps, fee in (tick*step)/1e8)."""

    __slots__ = ("client_id", "fee_nu", "is_maker", "price", "qty", "trade_id")

    def __init__(self, client_id: str, price: int, qty: int, fee_nu: int, is_maker: bool, trade_id: int) -> None:
        self.client_id = client_id
        self.price = price
        self.qty = qty
        self.fee_nu = fee_nu
        self.is_maker = is_maker
        self.trade_id = trade_id

    def __repr__(self) -> str:
        return f"SimFill({self.client_id}, {self.qty}@{self.price}, fee_nu={self.fee_nu}, #{self.trade_id})"


_NONE: Final[list[SimFill]] = []  # shared empty answer: callers must not mutate it


class PlaceResult:
    """Answer to a new order: accepted or not (and why), Binance's code and message, immediate taker fills."""

    __slots__ = ("accepted", "code", "fills", "message", "reason")

    def __init__(
        self, accepted: bool, code: int, message: str, fills: list[SimFill], reason: RejectReason = RejectReason.OTHER
    ) -> None:
        self.accepted = accepted
        self.code = code
        self.message = message
        self.fills = fills
        self.reason = reason

    def __repr__(self) -> str:
        return f"PlaceResult({self.accepted}, {self.code}, {self.message!r}, {self.fills!r}, {self.reason})"


_ACCEPTED: Final = PlaceResult(True, 0, "", _NONE)


class SimOrder:
    """An order resting at the simulated exchange."""

    __slots__ = ("buy", "client_id", "filled", "order_id", "pair", "price", "qty", "queue", "side", "ts")

    def __init__(
        self, client_id: str, pair: int, side: Side, price: int, qty: int, queue: int, ts: int, order_id: int
    ) -> None:
        self.client_id = client_id
        self.pair = pair
        self.side = side
        self.buy = side is _BUY
        self.price = price
        self.qty = qty
        self.filled = 0
        self.queue = queue  # quantity ahead of us at our price (realistic model)
        self.ts = ts
        self.order_id = order_id

    def __repr__(self) -> str:
        return f"SimOrder({self.client_id} {self.side.name} {self.qty}@{self.price} filled={self.filled})"


class _Book:
    __slots__ = (
        "ask",
        "ask_qty",
        "base",
        "bid",
        "bid_qty",
        "buys",
        "filters",
        "max_buy",
        "max_orders",
        "min_sell",
        "quote",
        "rules",
        "sells",
        "step_atoms",
        "unit_atoms",
    )

    def __init__(self, rules: SymbolRules) -> None:
        self.rules = rules
        self.step_atoms = self.unit_atoms = 1  # base/quote balance units per step / per tick*step
        self.filters = OrderFilters.from_rules(rules)  # the one filter check, shared with the engine
        self.max_orders = rules.max_orders or 0
        self.base, self.quote = rules.base_asset, rules.quote_asset
        self.bid = self.ask = self.bid_qty = self.ask_qty = 0
        self.buys: dict[str, SimOrder] = {}
        self.sells: dict[str, SimOrder] = {}
        self.max_buy = -INF
        self.min_sell = INF

    def refresh(self) -> None:
        hi = -INF
        for o in self.buys.values():
            if o.price > hi:
                hi = o.price
        lo = INF
        for o in self.sells.values():
            if o.price < lo:
                lo = o.price
        self.max_buy = hi
        self.min_sell = lo


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
        self.units: dict[str, Decimal] = {}
        self.free: dict[str, int] = {}
        self.locked: dict[str, int] = {}
        for asset, amount in (balances or {}).items():
            self._set_unit(asset, DEFAULT_UNIT)
            self.free[asset] = self._to_units(asset, Decimal(amount))
        self.next_order_id = 1
        self.next_trade_id = 1
        self.n_placed = self.n_cancelled = self.n_fills = self.n_rejected = self.n_amended = 0

    def add_symbol(self, rules: SymbolRules) -> int:
        """Trade ``rules.symbol`` here; returns its index."""
        if rules.symbol in self.index:
            return self.index[rules.symbol]
        self.books.append(_Book(rules))
        self.index[rules.symbol] = len(self.books) - 1
        self._set_unit(rules.base_asset, rules.step)
        self._set_unit(rules.quote_asset, rules.tick * rules.step)
        for bk in self.books:
            bk.step_atoms = int(bk.rules.step / self.units[bk.base])
            bk.unit_atoms = int(bk.rules.tick * bk.rules.step / self.units[bk.quote])
        return len(self.books) - 1

    def _set_unit(self, asset: str, unit: Decimal) -> None:
        """Make ``asset``'s balance unit at least as fine as ``unit`` (rescaling what is held)."""
        unit = unit.normalize()
        old = self.units.get(asset)
        if old is None:
            self.units[asset] = unit
            self.free[asset] = self.free.get(asset, 0)
            self.locked[asset] = self.locked.get(asset, 0)
            return
        if unit >= old:
            return
        factor = old / unit
        if factor != factor.to_integral_value():
            raise ValueError(f"{asset}: balance units {old} and {unit} are not decimal multiples of each other")
        k = int(factor)
        self.units[asset] = unit
        self.free[asset] *= k
        self.locked[asset] *= k

    def _to_units(self, asset: str, amount: Decimal) -> int:
        q = amount / self.units[asset]
        if q != q.to_integral_value():
            raise ValueError(f"balance {amount} {asset} has more decimals than the unit {self.units[asset]}")
        return int(q)

    # ---- market feed ------------------------------------------------------------------------------
    def quiet_book(self, idx: int, bid: int, ask: int) -> bool:
        """Whether a new top (bid, ask) changes nothing but the stored top: with trade-through fills
        always; in the realistic model while every order of ours rests behind the touch (no fill, no
        queue to shrink). ``on_book`` then only stores it."""
        if not self.realistic:
            return True
        bk = self.books[idx]
        return bk.max_buy < bid and ask < bk.min_sell

    def quiet_trade(self, idx: int, price: int) -> bool:
        """Whether a public trade at ``price`` leaves our orders as they are (it reaches none of them)."""
        bk = self.books[idx]
        return bk.max_buy < price < bk.min_sell

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
        if bk.max_buy < price < bk.min_sell:  # quiet_trade
            return _NONE
        if not self.realistic:
            fills = [
                self._fill(bk, o, o.price, o.qty - o.filled, True) for o in list(bk.buys.values()) if price <= o.price
            ]
            fills += [
                self._fill(bk, o, o.price, o.qty - o.filled, True) for o in list(bk.sells.values()) if price >= o.price
            ]
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
        o.filled += qty
        notional = price * qty
        fee_nu = notional * (self.maker_ppb if maker else self.taker_ppb)
        unit = bk.unit_atoms
        fee = -((-fee_nu * unit) // FEE_SCALE)  # charged rounded up to the asset's unit
        free = self.free
        if o.buy:
            self.locked[bk.quote] -= unit * o.price * qty
            free[bk.quote] += unit * (o.price - price) * qty - fee
            free[bk.base] += bk.step_atoms * qty
        else:
            self.locked[bk.base] -= bk.step_atoms * qty
            free[bk.quote] += unit * notional - fee
        if o.filled >= o.qty:
            del self.orders[o.client_id]
            (bk.buys if o.buy else bk.sells).pop(o.client_id)
            if o.price == (bk.max_buy if o.buy else bk.min_sell):
                bk.refresh()
        self.n_fills += 1
        tid = self.next_trade_id
        self.next_trade_id += 1
        return SimFill(o.client_id, price, qty, fee_nu, maker, tid)

    # ---- orders -----------------------------------------------------------------------------------
    def place(
        self, idx: int, ts: int, client_id: str, side: Side, price: int, qty: int, post_only: bool
    ) -> PlaceResult:
        """Accept or refuse a new limit order, as Binance would."""
        bk = self.books[idx]
        if client_id in self.orders:
            return self._reject(-2010, "Duplicate order sent.", RejectReason.OTHER)
        buy = side is _BUY
        failed = bk.filters.failure(buy, price, qty, (bk.bid + bk.ask) // 2 if bk.bid else 0)
        if failed:
            return self._reject(-1013, f"Filter failure: {failed}", RejectReason.FILTER)
        crosses = (buy and bk.ask and price >= bk.ask) or (not buy and bk.bid and price <= bk.bid)
        if post_only and crosses:
            return self._reject(-2010, "Order would immediately match and take.", RejectReason.WOULD_CROSS)
        if bk.max_orders and len(bk.buys) + len(bk.sells) >= bk.max_orders:
            return self._reject(-1013, "Filter failure: MAX_NUM_ORDERS", RejectReason.FILTER)
        if buy:
            need, asset = bk.unit_atoms * price * qty, bk.quote
        else:
            need, asset = bk.step_atoms * qty, bk.base
        if self.free[asset] < need:
            return self._reject(-2010, "Account has insufficient balance for requested action.", RejectReason.BALANCE)
        self.free[asset] -= need
        self.locked[asset] += need
        queue = 0
        if self.realistic:
            if buy:
                queue = bk.bid_qty if price == bk.bid else (0 if price > bk.bid else bk.bid_qty)
            else:
                queue = bk.ask_qty if price == bk.ask else (0 if price < bk.ask else bk.ask_qty)
        o = SimOrder(client_id, idx, side, price, qty, queue, ts, self.next_order_id)
        self.next_order_id += 1
        self.orders[client_id] = o
        if buy:
            bk.buys[client_id] = o
            if price > bk.max_buy:
                bk.max_buy = price
        else:
            bk.sells[client_id] = o
            if price < bk.min_sell:
                bk.min_sell = price
        self.n_placed += 1
        if crosses:  # a plain limit order that crosses takes the touch's displayed quantity
            avail = bk.ask_qty if buy else bk.bid_qty
            touch = bk.ask if buy else bk.bid
            if avail > 0:
                return PlaceResult(True, 0, "", [self._fill(bk, o, touch, min(avail, qty), False)])
        return _ACCEPTED

    def _reject(self, code: int, message: str, reason: RejectReason) -> PlaceResult:
        self.n_rejected += 1
        return PlaceResult(False, code, message, [], reason)

    def amend(self, client_id: str, new_qty: int) -> PlaceResult:
        """Reduce a resting order to ``new_qty`` steps in all, as Binance's keepPriority amend does:
        the order keeps its queue position and time priority, and what the cut held is released.

        Refused like Binance: -2013 for an order that is not open, -2038 for a quantity that is not
        smaller, -1013 naming the filter (LOT_SIZE also for a quantity not above what has executed).
        """
        o = self.orders.get(client_id)
        if o is None:
            return PlaceResult(False, -2013, "Order does not exist.", _NONE)
        if new_qty == o.qty:
            return PlaceResult(False, -2038, "The requested action would change no state; rejecting", _NONE)
        if new_qty > o.qty:
            return PlaceResult(False, -2038, "Order amend (quantity increase) is not supported.", _NONE)
        bk = self.books[o.pair]
        buy = o.buy
        failed = "LOT_SIZE" if new_qty <= o.filled else bk.filters.failure(buy, o.price, new_qty, 0)
        if failed:
            return PlaceResult(False, -1013, f"Filter failure: {failed}", _NONE)
        cut = o.qty - new_qty
        o.qty = new_qty
        if buy:
            amount, asset = bk.unit_atoms * o.price * cut, bk.quote
        else:
            amount, asset = bk.step_atoms * cut, bk.base
        self.locked[asset] -= amount
        self.free[asset] += amount
        self.n_amended += 1
        return _ACCEPTED

    def cancel(self, client_id: str) -> bool:
        """Cancel a resting order; False if it is not open (Binance: -2011 Unknown order sent)."""
        o = self.orders.pop(client_id, None)
        if o is None:
            return False
        bk = self.books[o.pair]
        rem = o.qty - o.filled
        if o.buy:
            del bk.buys[client_id]
            amount, asset = bk.unit_atoms * o.price * rem, bk.quote
        else:
            del bk.sells[client_id]
            amount, asset = bk.step_atoms * rem, bk.base
        self.locked[asset] -= amount
        self.free[asset] += amount
        if o.price == (bk.max_buy if o.buy else bk.min_sell):
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
        return {
            a: ((self.free[a] * self.units[a]).normalize(), (self.locked[a] * self.units[a]).normalize())
            for a in sorted(self.free)
        }
