"""Mutable per-pair and per-order state owned by the engine core (not shared with anyone else)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from liqkit.domain.filters import OrderFilters
from liqkit.domain.types import Side
from liqkit.quoting import INF, Inventory, MidVariance
from liqkit.risk import kill_switch_hit, pnl_half_units

if TYPE_CHECKING:
    from liqkit.domain.config import PairConfig
    from liqkit.domain.rules import SymbolRules
    from liqkit.engine.ids import ClientIdFactory
    from liqkit.quoting import QuoteParams

# order statuses as plain strings (OrderStatus values) for speed in the hot path
PENDING_NEW: Final = "PENDING_NEW"
NEW: Final = "NEW"
PARTIALLY_FILLED: Final = "PARTIALLY_FILLED"
PENDING_CANCEL: Final = "PENDING_CANCEL"
FILLED: Final = "FILLED"
CANCELED: Final = "CANCELED"
REJECTED: Final = "REJECTED"
EXPIRED: Final = "EXPIRED"
EXPIRED_IN_MATCH: Final = "EXPIRED_IN_MATCH"
UNKNOWN: Final = "UNKNOWN"
RESTING: Final = frozenset({NEW, PARTIALLY_FILLED})
OPEN: Final = frozenset({PENDING_NEW, NEW, PARTIALLY_FILLED, PENDING_CANCEL, UNKNOWN})

# pair states
STOPPED: Final = "stopped"
QUOTING: Final = "quoting"
PAUSED: Final = "paused"  # stale feed: resumes by itself when fresh
HALTED: Final = "halted"  # kill switch: until run again
ERROR: Final = "error"


class Order:
    """One of our orders as the core tracks it."""

    __slots__ = (
        "amend_qty",
        "client_id",
        "exit_list",
        "filled",
        "level",
        "pair",
        "price",
        "qty",
        "rebalance",
        "replaces",
        "side",
        "status",
        "successor",
        "symbol",
        "trades",
    )

    def __init__(self, client_id: str, pair: int, symbol: str, side: Side, level: int, price: int, qty: int) -> None:
        self.client_id = client_id
        self.pair = pair
        self.symbol = symbol
        self.side = side
        self.level = level
        self.price = price
        self.qty = qty
        self.filled = 0
        self.status = PENDING_NEW
        self.trades: set[int] | None = None
        self.amend_qty = 0  # the quantity an amend in flight asks for (0: none)
        self.successor: Order | None = None  # a replace in flight: the order placed once this one is cancelled
        self.replaces: Order | None = None  # for that successor: the order it replaces
        self.rebalance = False  # the pair's rebalancing order (its own slot, ``PairState.rebal``), not a quote
        self.exit_list = ""  # a leg of the pair's OCO exit (``PairState.exit``): the list's client id

    @property
    def remaining(self) -> int:
        """Unfilled quantity in steps."""
        return self.qty - self.filled

    def __repr__(self) -> str:
        return f"Order({self.client_id} {self.side.name} {self.qty}@{self.price} filled={self.filled} {self.status})"


QUOTE: Final = "quote"
REBALANCE: Final = "rebalance"
EXIT: Final = "exit"


def purpose(order: Order) -> str:
    """What an order is for, as the journal, the events and the tables name it: "quote", "rebalance" or
    "exit" (a leg of an OCO exit)."""
    if order.exit_list:
        return EXIT
    return REBALANCE if order.rebalance else QUOTE


class ExitList:
    """The pair's OCO exit (``PairState.exit``): its two legs (``Order``s outside the quotes' slots, each of
    ``qty`` steps) and what the list holds of the balances. A SELL list holds ``qty`` base steps; a BUY list
    ``qty`` at the stop's price (the dearer leg) in quote units. ``held`` is what it still holds: each fill
    releases its share, the list's end the rest."""

    __slots__ = ("held", "list_id", "placed", "side", "sl", "tp")

    def __init__(self, list_id: str, side: Side, tp: Order, sl: Order, held: int) -> None:
        self.list_id = list_id
        self.side = side
        self.tp = tp
        self.sl = sl
        self.held = held
        self.placed = False  # the venue accepted it (legs NEW)

    def open_legs(self) -> list[Order]:
        """The legs that have not ended."""
        return [o for o in (self.tp, self.sl) if o.status in OPEN]


class PairState:
    """Everything the core knows about one pair."""

    __slots__ = (
        "a_hi",
        "a_lo",
        "ask",
        "ask_band",
        "ask_qty",
        "asks",
        "b_hi",
        "b_lo",
        "base_free",
        "base_locked",
        "bid",
        "bid_band",
        "bid_qty",
        "bids",
        "cash",
        "cfg",
        "exit",
        "exit_until",
        "fee_nu",
        "filters",
        "has_book",
        "hold_until",
        "ids",
        "idx",
        "last_book_ts",
        "m_hi",
        "m_lo",
        "model_r2",
        "n_fills",
        "n_refused",
        "off_kind",
        "own_buy_locked",
        "own_sell_locked",
        "params",
        "pos",
        "quote_free",
        "quote_locked",
        "rb_kind",
        "rb_until",
        "reason",
        "rebal",
        "rules",
        "shift",
        "sk_r2",
        "skip_kind",
        "state",
        "symbol",
        "vol",
        "volume",
    )

    def __init__(
        self, idx: int, cfg: PairConfig, rules: SymbolRules, params: QuoteParams, ids: ClientIdFactory
    ) -> None:
        self.idx = idx
        self.symbol = rules.symbol
        self.cfg = cfg
        self.rules = rules
        self.params = params
        self.ids = ids
        self.state = STOPPED
        self.reason = "not started"
        self.bid = self.ask = self.bid_qty = self.ask_qty = 0
        self.has_book = False
        self.last_book_ts = 0
        n = params.levels
        self.bids: list[Order | None] = [None] * n
        self.asks: list[Order | None] = [None] * n
        # per side, once every level rests: (r2 low, r2 high, bound on the other side's touch)
        self.bid_band: tuple[int, int, int] | None = None
        self.ask_band: tuple[int, int, int] | None = None
        # balances in the pair's units (base: steps; quote: tick*step units), venue view
        self.base_free = self.base_locked = 0
        self.quote_free = self.quote_locked = 0
        # what our own open orders hold
        self.own_buy_locked = 0  # quote units
        self.own_sell_locked = 0  # base steps
        # PnL since the pair was run: position (steps), cash (units), fees (units * 1e-8)
        self.pos = 0
        self.cash = 0
        self.fee_nu = 0
        self.volume = 0  # quote units traded
        self.n_fills = 0
        self.n_refused = 0  # new orders refused in a row (reset by an acceptance or a run)
        self.hold_until = 0  # no new orders before this time (after a refusal)
        self.shift = 0  # skew shift of the last evaluation (ticks)
        self.skip_kind = ""  # why the last wanted quote could not be placed ("" when it could)
        self.off_kind = ""  # which sides the price ceiling/floor or max inventory switch off ("" when none)
        self.filters = OrderFilters.from_rules(rules)  # the symbol's filters, as the quoting pipeline checks them
        self.b_lo = self.a_lo = self.m_lo = INF
        self.b_hi = self.a_hi = self.m_hi = -INF
        self.sk_r2 = -1
        # model-based quoting (params.model): the mid's realised variance, and the mid (doubled) at
        # which the model last set the spreads (0: not yet; the next evaluation does)
        self.vol: MidVariance | None = MidVariance(params.model.window_ns) if params.model is not None else None
        self.model_r2 = 0
        self.rebal: Order | None = None  # the rebalancing order (active rebalance), never in bids/asks
        self.rb_kind = ""  # what the rebalance last said (dedupes its state records)
        self.rb_until = 0  # no new rebalancing order before this (after a taker the book could not fill whole)
        self.exit: ExitList | None = None  # the OCO exit at work (one at a time), never in bids/asks
        self.exit_until = 0  # no new exit before this (after a refused one)

    def close_band(self) -> None:
        """Make the next book update take the full evaluation path (no bid is >= INF)."""
        self.b_lo = INF

    def in_box(self, bid: int, ask: int) -> bool:
        """Whether the top (bid, ask) is inside the box where no quote of this pair would change
        (for the skew shift the box was built with)."""
        return self.b_lo <= bid <= self.b_hi and self.a_lo <= ask <= self.a_hi and self.m_lo <= bid + ask <= self.m_hi

    def quiet(self, bid: int, ask: int) -> bool:
        """Whether a book update to (bid, ask) changes nothing but the stored top: inside the box, and
        without skew or at the mid the skew shift was last checked at. ``EngineCore.on_book`` does no
        more than store such a top; a backtest may store only the last of a run of them."""
        return self.in_box(bid, ask) and (self.sk_r2 < 0 or bid + ask == self.sk_r2)

    def inventory(self) -> Inventory:
        """Holdings as the quoting pipeline needs them."""
        return Inventory(
            base_steps=self.base_free + self.base_locked,
            quote_units=self.quote_free + self.quote_locked,
            base_free_for_sells=self.base_free + self.own_sell_locked,
            quote_free_for_buys=self.quote_free + self.own_buy_locked,
        )

    def pnl_half_units(self, bid: int, ask: int) -> int:
        """Twice the mark-to-market PnL at mid, in tick*step units, fees included (rounded down)."""
        return pnl_half_units(self.cash, self.pos, self.fee_nu, bid, ask)

    def kill_switch_hit(self) -> bool:
        """Whether the pair's loss at the current book passed its maximum."""
        return kill_switch_hit(self.cash, self.pos, self.fee_nu, self.bid, self.ask, self.params.max_loss_units)
