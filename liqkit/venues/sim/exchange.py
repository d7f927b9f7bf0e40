"""The simulated exchange's matching core: sans-I/O, deterministic, integer units.

It keeps our resting orders, matches them against the market feed it is shown, keeps balances
(free/locked per asset, like Binance), enforces the symbol's filters, and answers like Binance would
(post-only crossing is -2010, filter failures -1013 naming the filter, unknown orders -2011; the
filter check is ``OrderFilters.failure``, the one the engine quotes with). Orders can be reduced in
place (``amend``, Binance's keepPriority amend). Two fill models for resting orders:

- ``trade-through`` (the common benchmark's rule): a resting buy at P fills whole on any trade at
  ``<= P``, a sell on any trade at ``>= P``.
- ``realistic``: a trade by a seller fills our bids priced above it, up to the trade's quantity;
  at our own price only after the queue ahead of us has traded; a book that moves through our price
  (best ask ``<=`` our bid) fills us whole as maker.

The queue ahead of a resting order (realistic model; ``SimOrder.queue``, in lot steps) starts at the
market's quantity at its price when it rests: the recorded top's at the top's price, none inside the
spread, and beyond the top the L2 book's (0 for an empty level) when the data has depth, else (the top
alone known) the top's quantity. Trades at its price take from it first (``_match``). The market's
quantity at its price, as the data shows it again, moves it by the queue model (``queue_model``,
hftbacktest's models, ``_observe``); each order keeps the last quantity it saw at its price (``seen``)
and what traded there since (``traded``):

- ``risk-averse``: the queue never exceeds the market's quantity at its price (a decrease shortens it
  only when it leaves less than the queue): only trades advance us;
- ``prob-power`` (``f(x) = x ** queue_param``) and ``prob-log`` (``f(x) = ln(1 + x)``): a decrease the
  trades do not explain, ``drop = (seen - traded) - qty``, is taken from ahead of us with probability
  ``f(front) / (f(front) + f(back))`` (``back = seen - traded - front``, what rests behind us): its
  expected value, ``round(p * drop)`` half up, and from ahead of us too what exceeds ``back``; the
  queue stays within ``[0, qty]``. An increase joins behind us and changes nothing ahead.

Which rows show the market's quantity at an order's price: a book row while its price is the top (the
bookTicker is real time), an empty level while its price is better than the top (depth data only), and
beyond the top the depth rows naming its price (depth@100ms is batched: at or inside the top its levels
are older news than the top, as ``_Book.market`` says). A change of source is no observation: the
order compares each new row with the last quantity it saw, whichever source showed it, so a stale L2
level met when the top moves off an order's price is not a fake decrease. Without depth the top alone is
observed, at its price, as it always was (``risk-averse`` then gives the results of the matching before
queue models, bit for bit: ``tests/unit/test_queue_parity.py``).

The book. Each symbol has the recorded top (``on_book``: bid, bid qty, ask, ask qty) and, when the data
has depth (``on_depth``: a snapshot, then level changes, ``liqkit.data.depth``), an L2 book (price ticks
-> qty steps); without depth the top is all there is. The market's levels as an order meets them: the
recorded top, then the L2 levels beyond it (bookTicker rows are real time, depth@100ms is batched, so
the top wins and L2 levels at or inside it are not shown), plus our own resting orders. A recorded level
at or through one of our resting orders on the other side is not shown (on Binance our order would
have taken it: a book is never crossed).

Taker orders (``place`` of a crossing LIMIT, or a MARKET order) take level by level, best first, each
at its level's price, up to the limit price and the quantity (or ``quote_qty``, a MARKET order's
quoteOrderQty): the market's levels and our own resting orders alike, where at one price the market
quantity ahead of our order (its queue) goes first. What they take of the market is taken off the
displayed quantity until the data shows that level again (the next book row for the top, the next
depth update naming it). (In the trade-through model, the common benchmark's reference semantics,
our orders never meet one another: a post-only order is refused for crossing the recorded market
only, and a taker takes the market's levels only.) Our own resting orders meet self-trade prevention,
the taker's mode deciding
(``stp``): ``STP_NONE`` trades them (a fill each side, one trade id), ``STP_EXPIRE_TAKER`` expires the
taker's rest, ``STP_EXPIRE_MAKER`` expires the resting order and goes on, ``STP_EXPIRE_BOTH`` both,
``STP_DECREMENT`` takes the smaller remaining quantity off both and expires the one it used up (both
when equal). Expired orders are reported apart (``PlaceResult.prevented``, status EXPIRED_IN_MATCH).
Time in force (``tif``): ``TIF_GTC`` rests what is left at the limit price, ``TIF_IOC`` expires it,
``TIF_FOK`` expires the whole order with nothing done unless it fills whole; a MARKET order expires
what the book could not fill.

The rule for a taker's rest. It rests at its limit, the best price on its side; the recorded market
beside it does not know it is there, and its next rows still show the levels it took or could not see
(without depth, those beyond the top). Those rows are not new sellers: on Binance the order took what
was there on arrival and only later arrivals trade with it. So a resting order whose price was at or
through the recorded opposite top when it came to rest ("through") is filled as maker only by
evidence of later arrivals: public trades by the other side at or through its price (the realistic
model's trade rule, up to their quantity), not by book rows that merely show the recorded market at or
through its price. Once a row shows the market off its price, the order is an ordinary resting order
again: a book that then moves through it fills it as above. (The trade-through model fills on trades
alone, as it always does.)

Iceberg orders (``place(iceberg_qty=...)``, Binance's icebergQty on a LIMIT GTC or LIMIT_MAKER; refused as
Binance refuses it, ``iceberg_refusal``). Only the current slice (``SimOrder.shown``) is in the book
(``levels``); a trade at its price takes the queue ahead of it, then the slice (``_match_iceberg``); when the
slice is done, the refill, ``min(visible, reserve)``, joins the back of the queue at that price: its queue
is the market's quantity there at that moment, set as a new order's is (``_arrive``), and the queue model
moves it from then on. A book that moves through its price fills it whole (everything at its price was
taken, refills included); a taker of ours meets its slice only; in the trade-through model it fills whole
on a trade, as every order does there.

Order lists (``place_oco``, Binance's OCO: ``orderList/oco``). A list is two legs of one quantity and side:
a LIMIT_MAKER take-profit, which rests as any resting order does (its queue is set as ``place`` sets a
new order's, the fill models apply), and a STOP_LOSS, which waits off the book. Refused as Binance refuses
it: a known client id (-2010 Duplicate order sent.), a leg breaking a filter (-1013 naming it; the stop
leg's price is checked without the percent-price band, which binds limit prices), prices on the wrong
sides of the last trade price (the mid before the first trade): a SELL list needs take-profit > last >
stop, a BUY list take-profit < last < stop (-2010 The relationship of the prices ...), a take-profit that
would take (-2010 Order would immediately match and take.), or a balance short of what the list locks.
The list locks once: a SELL list ``qty`` base (held by its take-profit leg, as any sell order holds it),
a BUY list ``qty * stop`` quote (its dearer leg's price: the take-profit leg holds ``qty * take_profit``
of it as any buy order does, the list the rest until its stop leg ends). Binance triggers a stop on the
last trade price, so only public trades trigger (``on_trade``, after they matched our resting orders):
one at or below a SELL list's stop (at or above a BUY list's) expires the take-profit leg and executes the
stop leg at once as a MARKET order of ``qty`` (``_market_order``'s walk: level by level, taker fees; what
the book cannot fill expires); its fills come back with the trade's, ``client_id`` the stop leg's. The
take-profit leg's first fill (on a trade, a book through its price, or a taker of ours) expires the
waiting stop leg. A list is open while a leg is (``open_lists``): done when a leg is FILLED or both ended
(so a take-profit partly filled still goes with ``cancel_list``; the sim-server's lists, built on its own
orders, are ALL_DONE at that first fill). The triggered stop meets our own resting orders as ``place``'s
default does (self-trade prevention NONE), and what it trades triggers no further stop.
``cancel_list``, or ``cancel`` of either leg (Binance cancels the list with it), cancels both legs;
``cancel_all`` cancels the symbol's lists with its orders. What a leg does that no call answers (EXPIRED
when the other filled or triggered, the stop's unfilled rest EXPIRED, the other leg CANCELED with a
cancelled one) waits in a queue, ``take_events``, for the caller to report on its user stream. The
book keeps the bounds of its waiting stops (``sell_stop``, ``buy_stop``): with no list open a trade
costs one comparison more.

Fees: maker/taker rates in bps, charged in the quote asset. Fills come back as ``SimFill``
``(client_id, price, qty, fee_nu, is_maker, trade_id)`` with ``fee_nu`` in (tick*step)/1e8 units.
Balances are integers in each asset's own unit: the finest of the steps (base) and tick*step
(quote) of the symbols that use it, e.g. 1e-5 BTC and 1e-7 USDT for BTCUSDT. Every fill is then
exact integer arithmetic on small numbers; ``balances()`` gives Decimals back.
"""

from __future__ import annotations

import heapq
import math
from decimal import Decimal
from typing import Final

from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import OrderStatus, RejectReason, Side
from liqkit.engine.ids import is_liqkit_id

INF: Final = 1 << 60
_BUY: Final = Side.BUY  # a module constant: compiled, no attribute lookup on the enum per use
FEE_SCALE: Final = 100_000_000
DEFAULT_UNIT: Final = Decimal("1e-8")  # Binance's balance precision, for assets no symbol uses yet

# time in force (``place(tif=...)``), Binance's names at their index
TIF_GTC: Final = 0
TIF_IOC: Final = 1
TIF_FOK: Final = 2
TIF_NAMES: Final = ("GTC", "IOC", "FOK")
# self-trade prevention modes (``place(stp=...)``), Binance's names at their index
STP_NONE: Final = 0
STP_EXPIRE_TAKER: Final = 1
STP_EXPIRE_MAKER: Final = 2
STP_EXPIRE_BOTH: Final = 3
STP_DECREMENT: Final = 4
STP_NAMES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT")
# expiry reasons, as Binance names them
UNFILLED_IOC: Final = "UNFILLED_IOC_QUANTITY_EXPIRED"
UNFILLED_FOK: Final = "UNFILLED_FOK_ORDER_EXPIRED"
INSUFFICIENT_LIQUIDITY: Final = "INSUFFICIENT_LIQUIDITY"
# the depth rows' reset kinds (``liqkit.data.depth``)
DEPTH_SNAPSHOT: Final = 1
DEPTH_LOST: Final = 2
# what a taker's walk does at one step
_TAKE: Final = 0  # takes from the recorded market's level
_TRADE: Final = 1  # trades with our own resting order (STP NONE)
_EXPIRE: Final = 2  # expires our own resting order (STP EXPIRE_MAKER, EXPIRE_BOTH)
_DECREMENT: Final = 3  # takes the quantity off both (STP DECREMENT)
# queue models (the realistic fill model): ``SimExchange(queue_model=...)`` by name, kept as the index
QUEUE_RISK_AVERSE: Final = 0
QUEUE_PROB_POWER: Final = 1
QUEUE_PROB_LOG: Final = 2
QUEUE_MODELS: Final = ("risk-averse", "prob-power", "prob-log")
DEFAULT_QUEUE_PARAM: Final = 3.0  # prob-power's exponent unless given
_NEW: Final = OrderStatus.NEW
_EXPIRED: Final = OrderStatus.EXPIRED
_EXPIRED_IN_MATCH: Final = OrderStatus.EXPIRED_IN_MATCH
_CANCELED: Final = OrderStatus.CANCELED
BAD_PRICES: Final = "The relationship of the prices for the orders is not correct."


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
_NO_PREVENTED: Final[list[tuple[str, int, bool, int]]] = []  # shared, as _NONE


class PlaceResult:
    """Answer to a new order: accepted or not (and why), Binance's code and message, and what it did on
    arrival. ``fills``: the new order's own (taker) fills; ``status``: the new order's status after
    arrival (NEW, PARTIALLY_FILLED, FILLED, EXPIRED, EXPIRED_IN_MATCH; REJECTED when refused) and
    ``expiry`` Binance's expiryReason for EXPIRED. ``matched``: it went through matching on arrival
    (it met the book, or its time in force ended it); only then can it have fills, maker fills,
    prevented orders or a status other than NEW. ``maker_fills``: fills of our own resting orders it
    traded with (STP NONE);
    ``prevented``: (client id, quantity, expired, filled) of each of our resting orders self-trade
    prevention touched: the quantity it took off, whether that expired the order (EXPIRED_IN_MATCH; else
    DECREMENT left it open, that much smaller), and what the order had filled;
    ``taker_prevented``: the new order's own prevented quantity."""

    __slots__ = (
        "accepted",
        "code",
        "expiry",
        "fills",
        "maker_fills",
        "matched",
        "message",
        "prevented",
        "reason",
        "status",
        "taker_prevented",
    )

    def __init__(
        self,
        accepted: bool,
        code: int,
        message: str,
        fills: list[SimFill],
        reason: RejectReason = RejectReason.OTHER,
        status: OrderStatus = OrderStatus.NEW,
        expiry: str = "",
    ) -> None:
        self.accepted = accepted
        self.code = code
        self.message = message
        self.fills = fills
        self.reason = reason
        self.status = status
        self.expiry = expiry
        self.matched = False
        self.maker_fills = _NONE
        self.prevented = _NO_PREVENTED
        self.taker_prevented = 0

    @property
    def expired(self) -> bool:
        """Whether the new order ended expired on arrival (time in force, liquidity, or self-trade prevention)."""
        return self.status is _EXPIRED or self.status is _EXPIRED_IN_MATCH

    def __repr__(self) -> str:
        return (
            f"PlaceResult({self.accepted}, {self.code}, {self.message!r}, {self.fills!r}, {self.reason}, "
            f"{self.status}{', ' + self.expiry if self.expiry else ''})"
        )


_ACCEPTED: Final = PlaceResult(True, 0, "", _NONE)


class SimOrder:
    """An order resting at the simulated exchange."""

    __slots__ = (
        "buy",
        "client_id",
        "filled",
        "lst",
        "order_id",
        "pair",
        "price",
        "qty",
        "queue",
        "seen",
        "shown",
        "side",
        "traded",
        "ts",
        "visible",
    )

    def __init__(
        self, client_id: str, pair: int, side: Side, price: int, qty: int, queue: int, ts: int, order_id: int
    ) -> None:
        self.client_id = client_id
        self.pair = pair
        self.side = side
        self.buy = side is _BUY
        self.price = price
        self.qty = qty  # what it can execute in all: its quantity less what self-trade prevention took off
        self.filled = 0
        self.queue = queue  # quantity ahead of us at our price (realistic model)
        self.seen = -1  # the market's quantity at our price when the data last showed it (-1: not yet)
        self.traded = 0  # public trades at our price since then
        self.ts = ts
        self.order_id = order_id
        self.visible = 0  # an iceberg's icebergQty (0: a plain order)
        self.shown = 0  # an iceberg's part on the book now (what is left of its current slice)
        self.lst: SimList | None = None  # the order list whose take-profit leg it is (None: a plain order)

    def display(self) -> int:
        """What the book shows of it: an iceberg's current slice, else all it has left."""
        return self.shown if self.visible else self.qty - self.filled

    def __repr__(self) -> str:
        return f"SimOrder({self.client_id} {self.side.name} {self.qty}@{self.price} filled={self.filled})"


class SimList:
    """An OCO order list (``place_oco``): its client id, the pair, side and quantity (steps), the
    take-profit's limit price and the stop price (ticks), the legs' client ids, the take-profit leg while
    it rests (``tp``), whether the stop leg still waits for its trigger (``waiting``), and the quote a
    BUY list holds beyond its take-profit leg's own (``extra``, balance units)."""

    __slots__ = (
        "buy",
        "extra",
        "list_id",
        "pair",
        "qty",
        "side",
        "sl_id",
        "stop",
        "take_profit",
        "tp",
        "tp_id",
        "waiting",
    )

    def __init__(
        self, list_id: str, pair: int, side: Side, qty: int, take_profit: int, stop: int, tp_id: str, sl_id: str
    ) -> None:
        self.list_id = list_id
        self.pair = pair
        self.side = side
        self.buy = side is _BUY
        self.qty = qty
        self.take_profit = take_profit
        self.stop = stop
        self.tp_id = tp_id
        self.sl_id = sl_id
        self.tp: SimOrder | None = None
        self.waiting = True
        self.extra = 0

    def __repr__(self) -> str:
        return (
            f"SimList({self.list_id} {self.side.name} {self.qty} tp={self.take_profit} stop={self.stop}"
            f"{'' if self.tp is None else ' tp open'}{' stop waiting' if self.waiting else ''})"
        )


class _Book:
    __slots__ = (
        "ask",
        "ask_qty",
        "base",
        "bid",
        "bid_qty",
        "buy_stop",
        "buys",
        "depth",
        "filters",
        "l2_asks",
        "l2_bids",
        "last",
        "max_buy",
        "max_orders",
        "min_sell",
        "quote",
        "rules",
        "sell_stop",
        "sells",
        "step_atoms",
        "stops",
        "through",
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
        self.depth = False  # whether the L2 book below is in sync with the data
        self.l2_bids: dict[int, int] = {}  # price ticks -> qty steps
        self.l2_asks: dict[int, int] = {}
        self.through: dict[str, SimOrder] = {}  # resting orders at or through the recorded opposite top
        self.last = 0  # the last public trade's price (0 before the first)
        self.stops: list[SimList] = []  # the lists whose stop leg waits, in the order they were placed
        self.sell_stop = -INF  # the highest waiting SELL stop: a trade at or below it triggers one
        self.buy_stop = INF  # the lowest waiting BUY stop: a trade at or above it triggers one

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

    def market(self, bids: bool, limit: int, n: int = INF) -> list[tuple[int, int]]:
        """The recorded market's levels of one side as an order meets them, best first, those priced
        at or better than ``limit`` only (the best ``n`` of them): the top, then the L2 levels beyond it;
        none at or through our own resting orders on the other side (see the module's text)."""
        out: list[tuple[int, int]] = []
        if bids:
            ceiling = self.min_sell
            top = self.bid
            if top and top < ceiling and top >= limit and self.bid_qty > 0:
                out.append((top, self.bid_qty))
            if self.depth and len(out) < n:
                beyond = top if top else INF
                prices = [p for p, q in self.l2_bids.items() if p < beyond and p < ceiling and p >= limit and q > 0]
                if n - len(out) < len(prices):
                    prices = heapq.nlargest(n - len(out), prices)
                else:
                    prices.sort(reverse=True)
                out += [(p, self.l2_bids[p]) for p in prices]
        else:
            floor = self.max_buy
            top = self.ask
            if top and top > floor and top <= limit and self.ask_qty > 0:
                out.append((top, self.ask_qty))
            if self.depth and len(out) < n:
                beyond = top if top else -INF
                prices = [p for p, q in self.l2_asks.items() if p > beyond and p > floor and p <= limit and q > 0]
                if n - len(out) < len(prices):
                    prices = heapq.nsmallest(n - len(out), prices)
                else:
                    prices.sort()
                out += [(p, self.l2_asks[p]) for p in prices]
        return out

    def shown_at(self, buy: bool, price: int) -> int:
        """With depth: the market's quantity at ``price`` on one side as an order meets it (the top's at the
        top's price, none inside the spread, the L2 book's beyond the top)."""
        if buy:
            if self.bid and price >= self.bid:
                return self.bid_qty if price == self.bid else 0
            return self.l2_bids.get(price, 0)
        if self.ask and price <= self.ask:
            return self.ask_qty if price == self.ask else 0
        return self.l2_asks.get(price, 0)

    def would_take(self, buy: bool, price: int, own: bool) -> bool:
        """Whether an order at ``price`` meets the book on arrival: the recorded top's price (shown,
        whatever is left of its quantity), an L2 level or (``own``) one of our own resting orders."""
        if buy:
            if (own and price >= self.min_sell) or (self.ask and self.ask > self.max_buy and price >= self.ask):
                return True
        elif (own and price <= self.max_buy) or (self.bid and self.bid < self.min_sell and price <= self.bid):
            return True
        return self.depth and len(self.market(not buy, price)) > 0

    def taken(self, bids: bool, price: int, qty: int) -> None:
        """``qty`` taken of the recorded market's level at ``price``: off the displayed quantity."""
        if bids:
            if price == self.bid:
                self.bid_qty -= qty
            else:
                left = self.l2_bids.get(price, 0) - qty
                if left > 0:
                    self.l2_bids[price] = left
                else:
                    self.l2_bids.pop(price, None)
        elif price == self.ask:
            self.ask_qty -= qty
        else:
            left = self.l2_asks.get(price, 0) - qty
            if left > 0:
                self.l2_asks[price] = left
            else:
                self.l2_asks.pop(price, None)


def front_share(model: int, param: float, front: int, back: int) -> float:
    """The probability that a decrease at an order's price is taken from ahead of it (``front`` lot steps
    ahead, ``back`` behind): ``f(front) / (f(front) + f(back))`` with ``f(x) = x ** param``
    (``QUEUE_PROB_POWER``) or ``f(x) = ln(1 + x)`` (``QUEUE_PROB_LOG``); 0 with nothing ahead, 1 with
    nothing behind. The power's is computed as ``1 / (1 + exp(param * ln(back / front)))``: no power
    overflows."""
    if front <= 0:
        return 0.0
    if back <= 0:
        return 1.0
    if model == QUEUE_PROB_LOG:
        a = math.log1p(front)
        return a / (a + math.log1p(back))
    z = param * (math.log(back) - math.log(front))
    if z > 700.0:  # exp would overflow: f(back) dwarfs f(front)
        return 0.0
    return 1.0 / (1.0 + math.exp(z))


class _Walk:
    """A taker's walk through the book, planned before anything is done (FOK needs all or nothing, a
    MARKET order its cost before it locks it): the steps (price, qty, our order or None, what)."""

    __slots__ = ("cost", "filled", "prevented", "ran_out", "steps", "taker_expired")

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, SimOrder | None, int]] = []
        self.filled = 0  # steps the taker executes
        self.cost = 0  # their notional, ticks x steps
        self.prevented = 0  # the taker's quantity self-trade prevention took off (DECREMENT)
        self.taker_expired = False  # self-trade prevention expires the taker's rest
        self.ran_out = False  # the book within the limit ended before the order was done


def iceberg_refusal(
    rules: SymbolRules, filters: OrderFilters, qty: int, iceberg_qty: int, tif: int, market: bool
) -> tuple[int, str]:
    """Binance's refusal of an order of ``qty`` steps with ``icebergQty`` ``iceberg_qty`` steps, as (code,
    message), (0, "") when it may go on: the symbol must allow icebergs, the order be a LIMIT GTC or
    LIMIT_MAKER (``tif`` TIF_GTC, not ``market``), the icebergQty below the quantity, and the order pass
    LOT_SIZE for it and ICEBERG_PARTS (``OrderFilters.iceberg_failure``). The simulated exchange and the
    sim-server's parameter checks both decide with it."""
    if not rules.iceberg_allowed:
        return -2010, "Iceberg orders are not supported for this symbol."
    if market or tif != TIF_GTC:
        return -2010, "Unsupported order combination"
    if iceberg_qty >= qty:
        return -2010, "IcebergQty exceeds QTY."
    failed = filters.iceberg_failure(qty, iceberg_qty)
    if failed:
        return -1013, f"Filter failure: {failed}"
    return 0, ""


class SimExchange:
    """Match our orders for any number of symbols (indexed in the order they are added)."""

    def __init__(
        self,
        fill_model: str = "realistic",
        maker_fee_bps: Decimal | int = 0,
        taker_fee_bps: Decimal | int = 0,
        balances: dict[str, Decimal] | None = None,
        queue_model: str = "risk-averse",
        queue_param: float = DEFAULT_QUEUE_PARAM,
    ) -> None:
        if fill_model not in ("trade-through", "realistic"):
            raise ValueError(f"fill_model = {fill_model!r}: use 'trade-through' or 'realistic'")
        if queue_model not in QUEUE_MODELS:
            raise ValueError(f"queue_model = {queue_model!r}: use 'risk-averse', 'prob-power' or 'prob-log'")
        if fill_model == "trade-through" and queue_model != "risk-averse":
            raise ValueError(
                f"queue_model = {queue_model!r}: the trade-through fill model has no queue; "
                "use fill_model 'realistic' for a queue model"
            )
        if not queue_param > 0 or queue_param == math.inf:
            raise ValueError(f"queue_param = {queue_param!r}: must be a number > 0")
        self.realistic = fill_model == "realistic"
        self.queue_model = QUEUE_MODELS.index(queue_model)
        self.queue_param = float(queue_param)
        self.maker_ppb = int(Decimal(maker_fee_bps) * 10_000)
        self.taker_ppb = int(Decimal(taker_fee_bps) * 10_000)
        self.books: list[_Book] = []
        self.index: dict[str, int] = {}
        self.orders: dict[str, SimOrder] = {}
        self.lists: dict[str, SimList] = {}  # open order lists by their client id
        self.legs: dict[str, SimList] = {}  # open lists by their open legs' client ids
        self.events: list[tuple[int, str, OrderStatus, int]] = []  # ``take_events``
        self.units: dict[str, Decimal] = {}
        self.free: dict[str, int] = {}
        self.locked: dict[str, int] = {}
        for asset, amount in (balances or {}).items():
            self._set_unit(asset, DEFAULT_UNIT)
            self.free[asset] = self._to_units(asset, Decimal(amount))
        self.next_order_id = 1
        self.next_trade_id = 1
        self.n_placed = self.n_cancelled = self.n_fills = self.n_rejected = self.n_amended = self.n_expired = 0

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
        """Whether a public trade at ``price`` leaves our orders as they are (it reaches none of them, nor a
        waiting stop); it stores the trade's price as the last one, all such a trade changes."""
        bk = self.books[idx]
        bk.last = price
        return bk.max_buy < price < bk.min_sell and bk.sell_stop < price < bk.buy_stop

    def on_book(self, idx: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> list[SimFill]:
        """Show a new top of book; in the realistic model a book through our price fills us (not an
        order that was already through the recorded top when it came to rest: the module's rule)."""
        bk = self.books[idx]
        bk.bid, bk.ask, bk.bid_qty, bk.ask_qty = bid, ask, bid_qty, ask_qty
        if not self.realistic or (ask > bk.max_buy and bid < bk.min_sell):
            if self.realistic:
                if bk.through:
                    bk.through.clear()  # the market is off every order's price
                self._observe_top(bk)
            return _NONE
        through = bk.through
        fills: list[SimFill] = []
        for o in [o for o in bk.buys.values() if ask <= o.price and through.get(o.client_id) is not o]:
            fills.append(self._fill(bk, o, o.price, o.qty - o.filled, True))
        for o in [o for o in bk.sells.values() if bid >= o.price and through.get(o.client_id) is not o]:
            fills.append(self._fill(bk, o, o.price, o.qty - o.filled, True))
        if through:
            for cid in list(through):
                t = through[cid]
                if self.orders.get(cid) is not t or (ask > t.price if t.buy else bid < t.price):
                    del through[cid]
        self._observe_top(bk)
        return fills

    def _observe_top(self, bk: _Book) -> None:
        """A book row shows the market's quantity at the top's price (and, with depth, an empty level at
        prices better than the top) to the orders resting there."""
        depth = bk.depth
        bid, ask = bk.bid, bk.ask
        for o in bk.buys.values():
            if o.price == bid:
                self._observe(o, bk.bid_qty)
            elif depth and bid and o.price > bid:
                self._observe(o, 0)
        for o in bk.sells.values():
            if o.price == ask:
                self._observe(o, bk.ask_qty)
            elif depth and ask and o.price < ask:
                self._observe(o, 0)

    def _observe(self, o: SimOrder, qty: int) -> None:
        """The data shows ``qty`` of the market at ``o``'s price: move its queue by the queue model (the
        module's text)."""
        front = o.queue
        model = self.queue_model
        if model != QUEUE_RISK_AVERSE and o.seen >= 0 and front > 0:
            level = o.seen - o.traded  # what the trades since the last row left
            drop = level - qty  # what they do not explain
            if drop > 0:
                back = level - front
                if back < 0:
                    back = 0
                take = int(front_share(model, self.queue_param, front, back) * drop + 0.5)
                if drop - take > back:  # more left than rested behind us: the rest was ahead
                    take = drop - back
                front -= take
                if front < 0:
                    front = 0
        if front > qty:
            front = qty
        o.queue = front
        o.seen = qty
        o.traded = 0

    def on_trade(self, idx: int, price: int, qty: int, aggressor: int) -> list[SimFill]:
        """Show a public trade; return the fills it causes to our orders (then to the stop legs it triggers)."""
        bk = self.books[idx]
        bk.last = price
        if bk.max_buy < price < bk.min_sell:  # quiet_trade
            if bk.sell_stop < price < bk.buy_stop:
                return _NONE
            return self._trigger(bk, idx, price, _NONE)
        if not self.realistic:
            fills = [
                self._fill(bk, o, o.price, o.qty - o.filled, True) for o in list(bk.buys.values()) if price <= o.price
            ]
            fills += [
                self._fill(bk, o, o.price, o.qty - o.filled, True) for o in list(bk.sells.values()) if price >= o.price
            ]
            if bk.sell_stop < price < bk.buy_stop:
                return fills
            return self._trigger(bk, idx, price, fills)
        fills = []
        left = qty
        if self.queue_model != QUEUE_RISK_AVERSE:  # what traded at an order's price, for its next row
            for o in (bk.buys if aggressor < 0 else bk.sells).values():
                if o.price == price:
                    o.traded += qty
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
        if bk.sell_stop < price < bk.buy_stop:
            return fills
        return self._trigger(bk, idx, price, fills)

    def on_depth(self, idx: int, reset: int, side: int, price: int, qty: int) -> None:
        """One row of the data's depth (``liqkit.data.depth``): ``reset`` DEPTH_SNAPSHOT replaces the L2
        book (cleared first), DEPTH_LOST drops it (the top alone from then on); ``side`` +1 sets a bid
        level, -1 an ask level (``qty`` 0 removes it; it shows the level again after a taker took of it),
        0 names no level."""
        bk = self.books[idx]
        if reset:
            bk.l2_bids.clear()
            bk.l2_asks.clear()
            bk.depth = reset == DEPTH_SNAPSHOT
        if side:
            book = bk.l2_bids if side > 0 else bk.l2_asks
            if qty:
                book[price] = qty
            else:
                book.pop(price, None)
            if not self.realistic or not bk.depth:
                return
            # the level's news for our orders resting there, beyond the top (at or inside it the top wins)
            if side > 0:
                if price <= bk.max_buy and not (bk.bid and price >= bk.bid):
                    for o in bk.buys.values():
                        if o.price == price:
                            self._observe(o, qty)
            elif price >= bk.min_sell and not (bk.ask and price <= bk.ask):
                for o in bk.sells.values():
                    if o.price == price:
                        self._observe(o, qty)

    def has_depth(self, idx: int) -> bool:
        """Whether the symbol has an L2 book in sync with the data (else its top alone)."""
        return self.books[idx].depth

    def levels(self, idx: int, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The book as a Binance depth answer shows it: up to ``n`` levels a side, best first, as
        (price ticks, qty steps); the recorded market's levels (see ``_Book.market``) with what is
        left of our own resting orders added at their prices (of an iceberg, its visible part only)."""
        bk = self.books[idx]
        bids: dict[int, int] = dict(bk.market(True, 0, n))  # the best n of the market's and our own
        asks: dict[int, int] = dict(bk.market(False, INF, n))  # prices hold the best n of both
        for o in bk.buys.values():
            bids[o.price] = bids.get(o.price, 0) + o.display()
        for o in bk.sells.values():
            asks[o.price] = asks.get(o.price, 0) + o.display()
        b = sorted(bids.items(), reverse=True)[:n]
        a = sorted(asks.items())[:n]
        return b, a

    def _match(self, bk: _Book, o: SimOrder, price: int, left: int, fills: list[SimFill]) -> int:
        if o.visible:
            return self._match_iceberg(bk, o, price, left, fills)
        if o.price == price:  # at our price: the queue ahead trades first
            if o.queue >= left:
                o.queue -= left
                return 0
            left -= o.queue
            o.queue = 0
        q = min(left, o.qty - o.filled)
        fills.append(self._fill(bk, o, o.price, q, True))
        return left - q

    def _match_iceberg(self, bk: _Book, o: SimOrder, price: int, left: int, fills: list[SimFill]) -> int:
        """``_match`` for an iceberg: a trade takes the queue ahead of its slice, then the slice; each slice
        done, a refill joins the back of the queue at its price (``_refill``) and the trade goes on."""
        at = o.price == price
        while left > 0:
            if at:
                if o.queue >= left:
                    o.queue -= left
                    return 0
                left -= o.queue
                o.queue = 0
            q = min(left, o.shown)
            o.shown -= q
            left -= q
            fills.append(self._fill(bk, o, o.price, q, True))
            if o.filled >= o.qty:
                break
            if not o.shown:
                self._refill(bk, o)
                o.traded = left  # the rest of this trade is the market's at that price, for the queue model
        return left

    def _refill(self, bk: _Book, o: SimOrder) -> None:
        """An iceberg's slice is done: the next, ``min(visible, reserve)``, joins the back of the queue at its
        price, behind the market's quantity there now (as a new order's queue is set, ``_arrive``)."""
        o.shown = min(o.visible, o.qty - o.filled)
        self._arrive(bk, o)

    def _arrive(self, bk: _Book, o: SimOrder) -> None:
        """Set the queue ahead of ``o`` as it joins its price (realistic model): with depth the market's
        quantity shown there; the top alone: its quantity at the top's price and deeper (no better guess),
        none inside the spread."""
        if not self.realistic:
            return
        if bk.depth:
            self._join(bk, o)
            return
        price = o.price
        if o.buy:
            o.queue = bk.bid_qty if price == bk.bid else (0 if price > bk.bid else bk.bid_qty)
        else:
            o.queue = bk.ask_qty if price == bk.ask else (0 if price < bk.ask else bk.ask_qty)
        if (price >= bk.bid) if o.buy else (bk.ask and price <= bk.ask):  # at or inside the top
            o.seen = o.queue

    def _settle(self, bk: _Book, buy: bool, lock_price: int, price: int, qty: int, maker: bool) -> int:
        """The balances of ``qty`` executed at ``price`` by an order that locked ``lock_price`` per
        step (a buy); returns the fee in (tick*step)/1e8 units (charged rounded up to the asset's unit)."""
        notional = price * qty
        fee_nu = notional * (self.maker_ppb if maker else self.taker_ppb)
        unit = bk.unit_atoms
        fee = -((-fee_nu * unit) // FEE_SCALE)
        free = self.free
        if buy:
            self.locked[bk.quote] -= unit * lock_price * qty
            free[bk.quote] += unit * (lock_price - price) * qty - fee
            free[bk.base] += bk.step_atoms * qty
        else:
            self.locked[bk.base] -= bk.step_atoms * qty
            free[bk.quote] += unit * notional - fee
        return fee_nu

    def _fill(self, bk: _Book, o: SimOrder, price: int, qty: int, maker: bool) -> SimFill:
        o.filled += qty
        fee_nu = self._settle(bk, o.buy, o.price, price, qty, maker)
        if o.filled >= o.qty:
            del self.orders[o.client_id]
            (bk.buys if o.buy else bk.sells).pop(o.client_id)
            if o.price == (bk.max_buy if o.buy else bk.min_sell):
                bk.refresh()
        self.n_fills += 1
        tid = self.next_trade_id
        self.next_trade_id += 1
        if o.lst is not None:
            self._leg_traded(bk, o, o.lst)
        return SimFill(o.client_id, price, qty, fee_nu, maker, tid)

    # ---- orders -----------------------------------------------------------------------------------
    def place(
        self,
        idx: int,
        ts: int,
        client_id: str,
        side: Side,
        price: int,
        qty: int,
        post_only: bool,
        tif: int = TIF_GTC,
        stp: int = STP_NONE,
        market: bool = False,
        quote_qty: int = 0,
        iceberg_qty: int = 0,
    ) -> PlaceResult:
        """Accept or refuse a new order, as Binance would, and match it if it meets the book.

        A limit order at ``price`` for ``qty`` steps (LIMIT_MAKER when ``post_only``), with time in force
        ``tif`` (TIF_GTC, TIF_IOC, TIF_FOK) and self-trade prevention mode ``stp`` (STP_*). ``market``: a
        MARKET order (``price`` is not used) for ``qty`` steps, or for ``quote_qty`` (quoteOrderQty in
        tick*step units, then ``qty`` is 0). ``iceberg_qty`` > 0: an iceberg (LIMIT GTC or LIMIT_MAKER)
        showing that many steps at a time: only its slice is on the book (``levels``) and trades at its
        price; each refill joins the back of the queue there (``_refill``)."""
        bk = self.books[idx]
        if client_id in self.orders or (self.legs and client_id in self.legs):
            return self._reject(-2010, "Duplicate order sent.", RejectReason.OTHER)
        buy = side is _BUY
        if iceberg_qty:
            refused = self._iceberg_refusal(bk, qty, iceberg_qty, tif, market)
            if refused is not None:
                return refused
        if market:
            return self._market_order(bk, idx, ts, client_id, side, qty, quote_qty, stp)
        failed = bk.filters.failure(buy, price, qty, (bk.bid + bk.ask) // 2 if bk.bid else 0)
        if failed:
            return self._reject(-1013, f"Filter failure: {failed}", RejectReason.FILTER)
        crosses = self._crosses(bk, buy, price)
        if post_only and crosses:
            return self._reject(-2010, "Order would immediately match and take.", RejectReason.WOULD_CROSS)
        if bk.max_orders and len(bk.buys) + len(bk.sells) + len(bk.stops) >= bk.max_orders:
            return self._reject(-1013, "Filter failure: MAX_NUM_ORDERS", RejectReason.FILTER)
        if buy:
            need, asset = bk.unit_atoms * price * qty, bk.quote
        else:
            need, asset = bk.step_atoms * qty, bk.base
        if self.free[asset] < need:
            return self._reject(-2010, "Account has insufficient balance for requested action.", RejectReason.BALANCE)
        if crosses:
            return self._take(bk, idx, ts, client_id, side, price, qty, tif, stp, need, asset, iceberg_qty)
        if tif != TIF_GTC:  # IOC or FOK that meets nothing: expired at once
            self.n_placed += 1
            self.n_expired += 1
            self.next_order_id += 1
            r = PlaceResult(
                True, 0, "", _NONE, status=_EXPIRED, expiry=UNFILLED_IOC if tif == TIF_IOC else UNFILLED_FOK
            )
            r.matched = True
            return r
        self.free[asset] -= need
        self.locked[asset] += need
        o = SimOrder(client_id, idx, side, price, qty, 0, ts, self.next_order_id)
        if iceberg_qty:
            o.visible = o.shown = iceberg_qty
        if self.realistic:
            self._arrive(bk, o)
        self._rest(bk, o)
        self.next_order_id += 1
        self.n_placed += 1
        return _ACCEPTED

    def _crosses(self, bk: _Book, buy: bool, price: int) -> bool:
        """Whether a limit order at ``price`` meets the book on arrival (a post-only one is refused)."""
        if buy:
            crosses = (bk.ask != 0 and price >= bk.ask) or (price >= bk.min_sell and self.realistic)
        else:
            crosses = (bk.bid != 0 and price <= bk.bid) or (price <= bk.max_buy and self.realistic)
        return crosses and bk.would_take(buy, price, self.realistic)  # the top may be hidden behind our own order

    def _iceberg_refusal(self, bk: _Book, qty: int, iceberg_qty: int, tif: int, market: bool) -> PlaceResult | None:
        """``iceberg_refusal`` as a refused order (None: it may go on)."""
        code, message = iceberg_refusal(bk.rules, bk.filters, qty, iceberg_qty, tif, market)
        if not code:
            return None
        return self._reject(code, message, RejectReason.FILTER if code == -1013 else RejectReason.OTHER)

    def _join(self, bk: _Book, o: SimOrder) -> None:
        """With depth: ``o`` joins the queue at its price behind the market's quantity shown there."""
        o.queue = o.seen = bk.shown_at(o.buy, o.price)

    def _rest(self, bk: _Book, o: SimOrder) -> None:
        """Put ``o`` on the book."""
        self.orders[o.client_id] = o
        if o.buy:
            bk.buys[o.client_id] = o
            if o.price > bk.max_buy:
                bk.max_buy = o.price
        else:
            bk.sells[o.client_id] = o
            if o.price < bk.min_sell:
                bk.min_sell = o.price

    def _market_order(
        self, bk: _Book, idx: int, ts: int, client_id: str, side: Side, qty: int, quote_qty: int, stp: int
    ) -> PlaceResult:
        """A MARKET order: whatever the book holds, level by level, for ``qty`` steps or ``quote_qty``;
        refused when the account cannot pay for what it would fill (as Binance refuses it)."""
        buy = side is _BUY
        f = bk.filters
        if not quote_qty and (qty < f.min_qty or qty > f.max_qty):
            return self._reject(-1013, "Filter failure: LOT_SIZE", RejectReason.FILTER)
        walk = self._walk(bk, buy, INF if buy else 0, qty if not quote_qty else INF, quote_qty, stp)
        # NOTIONAL on what the order asks for, as Binance checks it before matching (a quote order: its
        # quoteOrderQty; by quantity: at the touch it meets first, standing in for the average price), not
        # on what a thin book lets it fill: that part fills and the rest expires
        asked = quote_qty if quote_qty else qty * walk.steps[0][0] if walk.steps else 0
        if asked and not f.min_notional <= asked <= f.max_notional:
            return self._reject(-1013, "Filter failure: NOTIONAL", RejectReason.FILTER)
        if not walk.steps and not walk.taker_expired:
            return self._reject(-2010, "Order book liquidity is less than symbol minimum quantity.", RejectReason.OTHER)
        if quote_qty and walk.filled < f.min_qty and not walk.taker_expired:
            if walk.ran_out:
                msg = "Order book liquidity is less than LOT_SIZE filter minimum quantity."
                return self._reject(-2010, msg, RejectReason.OTHER)
            return self._reject(-1013, "Filter failure: LOT_SIZE", RejectReason.FILTER)
        if buy:
            need, asset = bk.unit_atoms * walk.cost, bk.quote
        else:
            need, asset = bk.step_atoms * walk.filled, bk.base
        if self.free[asset] < need:
            return self._reject(-2010, "Account has insufficient balance for requested action.", RejectReason.BALANCE)
        total = qty if not quote_qty else walk.filled + walk.prevented  # a quote order: as much as it pays for
        return self._execute(bk, idx, ts, client_id, side, 0, total, walk, TIF_IOC, need, asset)

    def _take(
        self,
        bk: _Book,
        idx: int,
        ts: int,
        client_id: str,
        side: Side,
        price: int,
        qty: int,
        tif: int,
        stp: int,
        need: int,
        asset: str,
        iceberg_qty: int = 0,
    ) -> PlaceResult:
        """A limit order that meets the book: its walk, all or nothing for FOK."""
        walk = self._walk(bk, side is _BUY, price, qty, 0, stp)
        if tif == TIF_FOK and walk.filled < qty:
            self.n_placed += 1
            self.n_expired += 1
            self.next_order_id += 1
            r = PlaceResult(True, 0, "", _NONE, status=_EXPIRED, expiry=UNFILLED_FOK)
            r.matched = True
            return r
        return self._execute(bk, idx, ts, client_id, side, price, qty, walk, tif, need, asset, iceberg_qty)

    def _walk(self, bk: _Book, buy: bool, limit: int, qty: int, quote_qty: int, stp: int) -> _Walk:
        """Plan a taker's walk: the market's levels and our own resting orders on the other side, best
        price first, at one price the market's quantity ahead of our order (its queue) first; for
        ``qty`` steps (or as many as ``quote_qty`` pays for), no worse than ``limit``."""
        w = _Walk()
        levels = bk.market(not buy, limit)
        ours: list[SimOrder] = []  # the trade-through model: our orders never meet one another
        if self.realistic and buy:
            ours = sorted([o for o in bk.sells.values() if o.price <= limit], key=lambda o: (o.price, o.ts))
        elif self.realistic:
            ours = sorted([o for o in bk.buys.values() if o.price >= limit], key=lambda o: (-o.price, o.ts))
        steps = w.steps
        left = qty
        left_quote = quote_qty
        i = j = 0
        taken = 0  # of the market's level i
        last = 0  # the last price met
        while True:
            pm = levels[i][0] if i < len(levels) else -1
            po = ours[j].price if j < len(ours) else -1
            if pm < 0 and po < 0:  # the book ended: with quantity left (a quote order: more than dust)
                w.ran_out = left > 0 and (not quote_qty or left_quote >= last)
                break
            mine = po >= 0 and (pm < 0 or (po <= pm if buy else po >= pm))
            p = po if mine else pm
            last = p
            want = left if not quote_qty else min(left, left_quote // p)
            if want <= 0:
                break
            if mine:
                o = ours[j]
                if pm == po and min(o.queue, levels[i][1]) > taken:  # the market's quantity ahead of ours
                    q = min(min(o.queue, levels[i][1]) - taken, want)
                else:
                    avail = o.qty - o.filled
                    if stp == STP_NONE:
                        if o.visible:  # an iceberg: its slice (the refill joins behind this taker's walk)
                            avail = o.shown
                        q = min(want, avail)
                        steps.append((p, q, o, _TRADE))
                        w.filled += q
                        w.cost += p * q
                        left -= q
                        left_quote -= p * q
                        if q == avail:
                            j += 1
                    elif stp == STP_EXPIRE_MAKER:
                        steps.append((p, avail, o, _EXPIRE))
                        j += 1
                    elif stp == STP_DECREMENT:
                        q = min(want, avail)
                        steps.append((p, q, o, _DECREMENT))
                        w.prevented += q
                        left -= q
                        left_quote -= p * q
                        j += 1
                        if q == want:
                            w.taker_expired = True
                            break
                    else:  # EXPIRE_TAKER, EXPIRE_BOTH
                        if stp == STP_EXPIRE_BOTH:
                            steps.append((p, avail, o, _EXPIRE))
                        w.taker_expired = True
                        break
                    continue
            else:
                q = min(levels[i][1] - taken, want)
            steps.append((p, q, None, _TAKE))  # of the market's level at p
            w.filled += q
            w.cost += p * q
            left -= q
            left_quote -= p * q
            taken += q
            if taken == levels[i][1]:
                i += 1
                taken = 0
        return w

    def _execute(
        self,
        bk: _Book,
        idx: int,
        ts: int,
        client_id: str,
        side: Side,
        price: int,
        qty: int,
        walk: _Walk,
        tif: int,
        need: int,
        asset: str,
        iceberg_qty: int = 0,
    ) -> PlaceResult:
        """Do a planned walk: lock ``need`` of ``asset``, execute each step, then rest, or expire, the rest.
        ``price`` 0: a MARKET order (each fill locked at its own price). An iceberg taker rests its rest
        as an iceberg: a slice of ``min(iceberg_qty, rest)`` on the book."""
        buy = side is _BUY
        self.free[asset] -= need
        self.locked[asset] += need
        o = SimOrder(client_id, idx, side, price, qty, 0, ts, self.next_order_id)
        self.next_order_id += 1
        self.n_placed += 1
        fills: list[SimFill] = []
        maker_fills: list[SimFill] = []
        prevented: list[tuple[str, int, bool, int]] = []
        taken_at: dict[int, int] = {}
        for p, q, m, what in walk.steps:
            if what == _TAKE:
                bk.taken(not buy, p, q)
                taken_at[p] = taken_at.get(p, 0) + q
                fills.append(self._taker_fill(bk, o, p, q, self.next_trade_id))
                self.next_trade_id += 1
            elif m is None:
                raise AssertionError("a step with our own order names none")
            elif what == _TRADE:
                mf = self._fill(bk, m, p, q, True)
                m.queue = 0
                if m.visible:
                    m.shown -= q
                    if not m.shown and m.filled < m.qty:
                        self._refill(bk, m)
                maker_fills.append(mf)
                fills.append(self._taker_fill(bk, o, p, q, mf.trade_id))  # one trade, both sides
            elif what == _EXPIRE:
                self._expire(bk, m)
                prevented.append((m.client_id, q, True, m.filled))
            else:  # _DECREMENT
                if q >= m.qty - m.filled:
                    self._expire(bk, m)
                    prevented.append((m.client_id, q, True, m.filled))
                else:
                    self._cut(bk, m, q)
                    m.queue = 0
                    prevented.append((m.client_id, q, False, m.filled))
        if taken_at:  # the market's quantity taken at a price was ahead of our orders resting there
            for x in (bk.sells if buy else bk.buys).values():
                if x.price in taken_at:
                    x.queue = max(0, x.queue - taken_at[x.price])
        left = o.qty - o.filled  # the taker's rest, prevented quantity included
        dry = walk.ran_out and not price  # a MARKET order the book could not fill
        if walk.taker_expired:
            status, expiry = _EXPIRED_IN_MATCH, ""
        elif left == walk.prevented and not dry:  # all done (what DECREMENT took off was never to execute)
            status, expiry = OrderStatus.FILLED, ""
        elif tif != TIF_GTC:
            status, expiry = _EXPIRED, (UNFILLED_IOC if price else INSUFFICIENT_LIQUIDITY)
        else:
            status, expiry = (OrderStatus.PARTIALLY_FILLED if o.filled else _NEW), ""
        rests = status is _NEW or status is OrderStatus.PARTIALLY_FILLED
        release = walk.prevented if rests else left
        if release and price:  # held for what will not execute (a MARKET order held exactly what it filled)
            if buy:
                amount, a = bk.unit_atoms * price * release, bk.quote
            else:
                amount, a = bk.step_atoms * release, bk.base
            self.locked[a] -= amount
            self.free[a] += amount
        if rests:
            o.qty -= walk.prevented
            if iceberg_qty:
                o.visible = iceberg_qty
                o.shown = min(iceberg_qty, o.qty - o.filled)
            if self.realistic:
                if bk.depth:
                    self._join(bk, o)
                else:
                    top, top_qty = (bk.bid, bk.bid_qty) if buy else (bk.ask, bk.ask_qty)
                    o.queue = top_qty if price == top else 0  # else it is the best price on its side
                    o.seen = o.queue
            self._rest(bk, o)
            if self.realistic and ((bk.ask and price >= bk.ask) if buy else (bk.bid and price <= bk.bid)):
                bk.through[client_id] = o  # rests at or through the recorded market: the module's rule
        if status is _EXPIRED or status is _EXPIRED_IN_MATCH:
            self.n_expired += 1
        r = PlaceResult(True, 0, "", fills, status=status, expiry=expiry)
        r.matched = True
        r.maker_fills = maker_fills
        r.prevented = prevented
        r.taker_prevented = walk.prevented + (left - walk.prevented if walk.taker_expired else 0)
        return r

    def _taker_fill(self, bk: _Book, o: SimOrder, price: int, qty: int, trade_id: int) -> SimFill:
        """The taker's fill (``o`` is not on the book; a MARKET order, price 0, locked each fill's cost)."""
        o.filled += qty
        fee_nu = self._settle(bk, o.buy, o.price or price, price, qty, False)
        self.n_fills += 1
        return SimFill(o.client_id, price, qty, fee_nu, False, trade_id)

    def _expire(self, bk: _Book, o: SimOrder) -> None:
        """Take a resting order off the book, expired (self-trade prevention), releasing what it held (a
        take-profit leg's list ends: its waiting stop leg expires)."""
        self._remove(bk, o)
        self.n_expired += 1
        lst = o.lst
        if lst is not None:
            o.lst = lst.tp = None
            if lst.waiting:
                self._end_stop(bk, lst)
                self.n_expired += 1
                self.events.append((lst.pair, lst.sl_id, _EXPIRED, 0))
            self._done(lst)

    def _remove(self, bk: _Book, o: SimOrder) -> None:
        del self.orders[o.client_id]
        rem = o.qty - o.filled
        if o.buy:
            del bk.buys[o.client_id]
            amount, asset = bk.unit_atoms * o.price * rem, bk.quote
        else:
            del bk.sells[o.client_id]
            amount, asset = bk.step_atoms * rem, bk.base
        self.locked[asset] -= amount
        self.free[asset] += amount
        if o.price == (bk.max_buy if o.buy else bk.min_sell):
            bk.refresh()

    def _cut(self, bk: _Book, o: SimOrder, qty: int) -> None:
        """Take ``qty`` off what a resting order can still execute, releasing what it held for it (an
        iceberg's slice shows no more than is left)."""
        o.qty -= qty
        if o.visible and o.shown > o.qty - o.filled:
            o.shown = o.qty - o.filled
        if o.buy:
            amount, asset = bk.unit_atoms * o.price * qty, bk.quote
        else:
            amount, asset = bk.step_atoms * qty, bk.base
        self.locked[asset] -= amount
        self.free[asset] += amount

    def _reject(self, code: int, message: str, reason: RejectReason) -> PlaceResult:
        self.n_rejected += 1
        return PlaceResult(False, code, message, [], reason, OrderStatus.REJECTED)

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
        failed = "LOT_SIZE" if new_qty <= o.filled else bk.filters.failure(o.buy, o.price, new_qty, 0)
        if failed:
            return PlaceResult(False, -1013, f"Filter failure: {failed}", _NONE)
        self._cut(bk, o, o.qty - new_qty)
        self.n_amended += 1
        return _ACCEPTED

    def cancel(self, client_id: str) -> bool:
        """Cancel a resting order; False if it is not open (Binance: -2011 Unknown order sent). A leg of an
        open list (the resting take-profit or the waiting stop) cancels the whole list, as on Binance: the
        other leg's CANCELED waits in ``take_events`` (the caller reports the one it named)."""
        o = self.orders.get(client_id)
        if o is None:
            lst = self.legs.get(client_id) if self.legs else None
            if lst is None:
                return False
            self._cancel_list(lst, client_id, True)
            return True
        if o.lst is not None:
            self._cancel_list(o.lst, client_id, True)
            return True
        self._remove(self.books[o.pair], o)
        self.n_cancelled += 1
        return True

    def cancel_all(self, idx: int, own_only: bool = True) -> list[str]:
        """Cancel a symbol's open orders and order lists (only liqkit's when ``own_only``: a list when a leg's
        id is); returns their ids (each open leg's of a list, after the plain orders'). Nothing waits in
        ``take_events`` for them: the ids are the answer."""
        bk = self.books[idx]
        ids = [
            o.client_id
            for o in [*bk.buys.values(), *bk.sells.values()]
            if o.lst is None and (not own_only or is_liqkit_id(o.client_id))
        ]
        for cid in ids:
            self.cancel(cid)
        if self.lists:
            for lst in [x for x in self.lists.values() if x.pair == idx]:
                if not own_only or is_liqkit_id(lst.tp_id) or is_liqkit_id(lst.sl_id):
                    if lst.tp is not None:
                        ids.append(lst.tp_id)
                    if lst.waiting:
                        ids.append(lst.sl_id)
                    self._cancel_list(lst, "", False)
        return ids

    def open_orders(self, idx: int | None = None) -> list[SimOrder]:
        """Resting orders (of one symbol, or all): an open list's take-profit leg among them, not its
        waiting stop leg (``open_lists``)."""
        return [o for o in self.orders.values() if idx is None or o.pair == idx]

    # ---- order lists ------------------------------------------------------------------------------
    def place_oco(
        self,
        idx: int,
        ts: int,
        list_id: str,
        tp_id: str,
        sl_id: str,
        side: Side,
        qty: int,
        take_profit: int,
        stop: int,
    ) -> PlaceResult:
        """Accept or refuse an OCO list of ``qty`` steps on ``side``: a LIMIT_MAKER take-profit ``tp_id`` at
        ``take_profit`` and a STOP_LOSS ``sl_id`` at ``stop`` (ticks), as Binance would (the module's text).
        Accepted, the take-profit leg rests, the stop leg waits for a trade at its price, and the list
        locks its balance once (a BUY list ``qty * stop`` quote)."""
        bk = self.books[idx]
        known = self.orders
        if (
            list_id in self.lists
            or tp_id == sl_id
            or tp_id in known
            or sl_id in known
            or tp_id in self.legs
            or sl_id in self.legs
        ):
            return self._reject(-2010, "Duplicate order sent.", RejectReason.OTHER)
        buy = side is _BUY
        mid = (bk.bid + bk.ask) // 2 if bk.bid else 0
        failed = bk.filters.failure(buy, take_profit, qty, mid) or bk.filters.failure(buy, stop, qty, 0)
        if failed:
            return self._reject(-1013, f"Filter failure: {failed}", RejectReason.FILTER)
        last = bk.last if bk.last else mid
        if not (take_profit < last < stop if buy else take_profit > last > stop):
            return self._reject(-2010, BAD_PRICES, RejectReason.OTHER)
        if self._crosses(bk, buy, take_profit):
            return self._reject(-2010, "Order would immediately match and take.", RejectReason.WOULD_CROSS)
        if bk.max_orders and len(bk.buys) + len(bk.sells) + len(bk.stops) + 2 > bk.max_orders:
            return self._reject(-1013, "Filter failure: MAX_NUM_ORDERS", RejectReason.FILTER)
        if buy:
            need, asset = bk.unit_atoms * stop * qty, bk.quote
        else:
            need, asset = bk.step_atoms * qty, bk.base
        if self.free[asset] < need:
            return self._reject(-2010, "Account has insufficient balance for requested action.", RejectReason.BALANCE)
        self.free[asset] -= need
        self.locked[asset] += need
        lst = SimList(list_id, idx, side, qty, take_profit, stop, tp_id, sl_id)
        if buy:
            lst.extra = bk.unit_atoms * (stop - take_profit) * qty  # the rest is the take-profit leg's to hold
        o = SimOrder(tp_id, idx, side, take_profit, qty, 0, ts, self.next_order_id)
        o.lst = lst
        lst.tp = o
        if self.realistic:
            self._arrive(bk, o)
        self._rest(bk, o)
        self.next_order_id += 2  # the stop leg has its id too
        self.n_placed += 2
        self.lists[list_id] = lst
        self.legs[tp_id] = lst
        self.legs[sl_id] = lst
        bk.stops.append(lst)
        self._stop_bounds(bk)
        return _ACCEPTED

    def cancel_list(self, list_id: str) -> bool:
        """Cancel an open list's legs; False if it is not open (Binance: -2011 Unknown order list sent.).
        Each leg's CANCELED waits in ``take_events``."""
        lst = self.lists.get(list_id)
        if lst is None:
            return False
        self._cancel_list(lst, "", True)
        return True

    def open_lists(self, idx: int | None = None) -> list[SimList]:
        """Open order lists (of one symbol, or all), in the order they were placed."""
        return [x for x in self.lists.values() if idx is None or x.pair == idx]

    def take_events(self) -> list[tuple[int, str, OrderStatus, int]]:
        """What lists' legs did that no call answered, in order, as (symbol index, client id, status, filled
        steps): EXPIRED (the other leg filled or triggered; a triggered stop leg's unfilled rest), CANCELED
        (with the other leg, cancelled); the queue is emptied. A stop leg's fills are its FILLED."""
        out = self.events
        self.events = []
        return out

    def _trigger(self, bk: _Book, idx: int, price: int, fills: list[SimFill]) -> list[SimFill]:
        """A trade at ``price`` reached waiting stops: for each list it triggers (in the order they were
        placed), the take-profit leg expires and the stop leg executes as a MARKET order of the list's
        quantity; ``fills`` (the trade's) with the stop legs' after them."""
        hit = [x for x in bk.stops if (price >= x.stop if x.buy else price <= x.stop)]
        out = list(fills)  # ``fills`` may be the shared empty answer
        for lst in hit:
            if not lst.waiting:  # a stop before it traded with this list's take-profit leg
                continue
            self._end_stop(bk, lst)
            tp = lst.tp
            if tp is not None:
                tp.lst = lst.tp = None
                self._remove(bk, tp)
                self.n_expired += 1
                self.events.append((idx, tp.client_id, _EXPIRED, tp.filled))
            self._done(lst)
            r = self._market_order(bk, idx, 0, lst.sl_id, lst.side, lst.qty, 0, STP_NONE)
            if not r.accepted:  # the book (or the balance) could not take it: the stop leg expires unfilled
                self.n_rejected -= 1
                self.n_expired += 1
                self.events.append((idx, lst.sl_id, _EXPIRED, 0))
                continue
            self.n_placed -= 1  # counted when the list was placed
            out += r.fills
            if r.maker_fills:
                out += r.maker_fills
            if r.status is _EXPIRED:  # what the book could not fill
                self.events.append((idx, lst.sl_id, _EXPIRED, sum([f.qty for f in r.fills])))
        return out

    def _leg_traded(self, bk: _Book, o: SimOrder, lst: SimList) -> None:
        """A take-profit leg traded: its first fill expires the waiting stop leg; filled, the list is done."""
        if lst.waiting:
            self._end_stop(bk, lst)
            self.n_expired += 1
            self.events.append((lst.pair, lst.sl_id, _EXPIRED, 0))
        if o.filled >= o.qty:
            o.lst = lst.tp = None
            self._done(lst)

    def _cancel_list(self, lst: SimList, named: str, report: bool) -> None:
        """Cancel a list's open legs, releasing what they held; when ``report``, each leg's CANCELED (but
        ``named``'s, which the caller reports) waits in ``take_events``."""
        bk = self.books[lst.pair]
        tp = lst.tp
        if tp is not None:
            tp.lst = lst.tp = None
            self._remove(bk, tp)
            self.n_cancelled += 1
            if report and tp.client_id != named:
                self.events.append((lst.pair, tp.client_id, _CANCELED, tp.filled))
        if lst.waiting:
            self._end_stop(bk, lst)
            self.n_cancelled += 1
            if report and lst.sl_id != named:
                self.events.append((lst.pair, lst.sl_id, _CANCELED, 0))
        self._done(lst)

    def _end_stop(self, bk: _Book, lst: SimList) -> None:
        """The stop leg no longer waits: off the book's stops, releasing what the list held beyond its
        take-profit leg."""
        lst.waiting = False
        bk.stops.remove(lst)
        self.legs.pop(lst.sl_id, None)
        if lst.extra:
            self.locked[bk.quote] -= lst.extra
            self.free[bk.quote] += lst.extra
            lst.extra = 0
        self._stop_bounds(bk)

    def _done(self, lst: SimList) -> None:
        """The list ends once neither leg is open."""
        if lst.tp is None:
            self.legs.pop(lst.tp_id, None)
        if lst.tp is None and not lst.waiting:
            self.lists.pop(lst.list_id, None)

    def _stop_bounds(self, bk: _Book) -> None:
        hi = -INF
        lo = INF
        for x in bk.stops:
            if x.buy:
                if x.stop < lo:
                    lo = x.stop
            elif x.stop > hi:
                hi = x.stop
        bk.sell_stop = hi
        bk.buy_stop = lo

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, locked) per asset."""
        return {
            a: ((self.free[a] * self.units[a]).normalize(), (self.locked[a] * self.units[a]).normalize())
            for a in sorted(self.free)
        }
