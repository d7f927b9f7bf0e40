"""The engine core: sans-I/O. Events in (typed methods), intents out (lists of ``Place``/``Cancel``/
``Amend``/``CancelAll``).

It never reads a clock, sleeps, logs or touches a socket: every method takes the event's timestamp,
and what happened is appended as typed records (``liqkit.engine.records``) to three lists the
runner drains, journals and publishes: ``order_log`` (``OrderRecord``), ``fill_log``
(``FillRecord``) and ``event_log`` (``StateRecord``, ``ConfigRecord``). The same object runs in a
backtest (``liqkit.backtest``), on the simulated exchange and on Binance (``liqkit.engine.runner``),
always behind ``liqkit.engine.execution``, which turns venue answers into its events.

The hot path is ``on_book``. Once every level of a side rests, the core stores where that side
would stay unchanged (``quoting.bid_side_band``/``ask_side_band``) and combines both into a box of
book states; a book update inside the box costs a few integer comparisons. Whatever else can change
the wanted quotes (a fill, an order answer, balances, config, a timer, the skew) closes the box.

What each level wants, price and size (skew, budget, max inventory, rounding, the symbol's filters),
is ``liqkit.quoting``'s (``level_prices``, ``quote_qty``, ``resized_qty``); the core keeps the band
cache and the diff against its working orders. A working order is compared on price (within the
refresh tolerance) and on size (its level's size at the order's own price): a smaller size is an
``Amend`` where the venue keeps queue priority (``amend_keeps_priority``), otherwise a replace.

A pair with a quoting model (``model = "glft"``/``"as"``) keeps the mid's running variance in its
state (``PairState.vol``), sampled by ``on_timer``; the model sets the pair's level-0 distances
(``quoting.model_depths``) at its first evaluation, at each timer tick and at each fill, and a change
closes the band like any other. Between those events it quotes exactly like fixed spreads.

A pair with exits on (``exit_inventory``) gets, at a full evaluation past its threshold, one OCO exit for
its excess inventory (``liqkit.engine.exits``): a ``PlaceOco`` whose two legs the core keeps as orders of
its own outside the quotes' slots (purpose "exit"; ``PairState.exit``), their fills in the pair's PnL like
any other; ``stop`` (and a halt, a pause, an error) cancels the list with a ``CancelList``.

Order safety: a replacement is placed only after the cancel of the order it replaces is confirmed,
so a pair never has two live orders for one side and level; an order whose fate is unknown keeps
its level blocked until the venue tells its fate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.errors import ConfigError
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import Side
from liqkit.engine import state as S
from liqkit.engine.exits import HOLD_NS, exit_for
from liqkit.engine.ids import ClientIdFactory, new_run_nonce
from liqkit.engine.intents import Amend, Cancel, CancelAll, CancelList, Intent, Place, PlaceOco, Replace
from liqkit.engine.records import ConfigRecord, EventRecord, FillRecord, OrderRecord, StateRecord
from liqkit.engine.state import ExitList, Order, PairState
from liqkit.quoting import (
    FREE_ASK_SIDE,
    FREE_SIDE,
    INF,
    MidVariance,
    QuoteParams,
    ask_side_band,
    balance_units,
    bid_side_band,
    buy_room,
    combine_bands,
    compile_params,
    iceberg_qty,
    level_prices,
    level_qty,
    model_depths,
    quote_qty,
    rebalance_excess,
    rebalance_price,
    rebalance_qty,
    resized_qty,
    share_band_r2,
    sides_enabled,
    size_for,
    skew_shift,
    tolerance,
    with_depths,
)
from liqkit.risk import kill_switch_mid_range

BUY: Final = Side.BUY
SELL: Final = Side.SELL
FEE_SCALE: Final = 100_000_000  # fees are carried in units of (tick*step) / 1e8
REJECT_BACKOFF_NS: Final = 1_000_000_000  # after a refused order (not post-only crossing), wait this long
MAX_REFUSALS: Final = 5  # refusals in a row (not crossing, not rate limits) that put a pair in error
REBALANCE_RETRY_NS: Final = 1_000_000_000  # after a taker rebalancing order the book could not fill, wait this long
# ``_explain_skip``'s kinds that are the size's fault (not the money's or the market's): a config whose
# only answer is one of these places nothing at any balance, so a preview refuses it
SIZE_SKIPS: Final = frozenset(
    {"notional", "max-notional", "max-order-notional", "filters LOT_SIZE", "filters ICEBERG_PARTS"}
)
_NONE: Final[list[Intent]] = []  # the shared empty answer: callers must not mutate it
_BOTH: Final = 0
_BIDS: Final = 1
_ASKS: Final = 2


class EngineCore:
    """Quote many pairs. Not thread-safe; one owner drives it."""

    def __init__(
        self,
        risk: RiskConfig | None = None,
        run_nonce: str | None = None,
        amend_keeps_priority: bool = False,
        cancel_replace: bool = False,
    ) -> None:
        """``amend_keeps_priority``: the venue can reduce an order in place without losing its queue
        position (Binance's keepPriority amend), so a smaller size is an ``Amend``, not a replace.
        ``cancel_replace``: the venue cancels one order and places another in one request (Binance's
        ``order.cancelReplace``), so a price move is one ``Replace``, not a cancel and a later place."""
        self.risk = risk or RiskConfig()
        self.amend_keeps_priority = amend_keeps_priority
        self.cancel_replace = cancel_replace
        self.stale_ns = int(self.risk.stale_feed_s * 1e9)
        self.run_nonce = run_nonce or new_run_nonce()
        self.pairs: list[PairState] = []
        self.by_symbol: dict[str, PairState] = {}
        self.orders: dict[str, Order] = {}  # every order of ours that may still be open
        self.order_log: list[OrderRecord] = []
        self.fill_log: list[FillRecord] = []
        self.event_log: list[EventRecord] = []
        self.balances: dict[str, tuple[Decimal, Decimal]] = {}

    # ---- pairs ----------------------------------------------------------------------------------
    def add_pair(self, cfg: PairConfig, rules: SymbolRules) -> PairState:
        """Register a pair (stopped). Raise ConfigError if the config does not fit the symbol."""
        if cfg.symbol != rules.symbol:
            raise ConfigError(f"pairs.{cfg.symbol}: rules are for {rules.symbol}")
        if cfg.symbol in self.by_symbol:
            raise ConfigError(f"pairs.{cfg.symbol}: pair already configured")
        params = self._compile(cfg, rules)
        st = PairState(len(self.pairs), cfg, rules, params, ClientIdFactory(rules.symbol, self.run_nonce))
        self.pairs.append(st)
        self.by_symbol[st.symbol] = st
        self._apply_balances(st)
        return st

    def _compile(self, cfg: PairConfig, rules: SymbolRules, st: PairState | None = None) -> QuoteParams:
        """``compile_params`` (the budget rule at ``st``'s mid and the balances, when known)."""
        price = rules.price(st.bid + st.ask) / 2 if st is not None and st.has_book else None
        try:
            return compile_params(cfg, rules, self.risk.max_loss, price, self.balances if st is not None else None)
        except ValueError as e:
            raise ConfigError(f"pairs.{cfg.symbol}.{e}") from None

    def pair(self, symbol: str) -> PairState:
        """The state of ``symbol``'s pair (ConfigError naming the configured pairs if unknown)."""
        try:
            return self.by_symbol[symbol.upper()]
        except KeyError:
            raise ConfigError(f"unknown pair {symbol!r}; configured: {', '.join(self.by_symbol) or 'none'}") from None

    def run(self, symbol: str, ts: int) -> list[Intent]:
        """Start quoting a pair: clean up its open orders per the cleanup scope; quotes follow on the
        next book update."""
        st = self.pair(symbol)
        if st.state in (S.QUOTING, S.PAUSED):
            return []
        st.pos = st.cash = st.fee_nu = st.volume = st.n_fills = st.hold_until = st.n_refused = st.rb_until = 0
        st.exit_until = 0
        st.model_r2 = 0  # the inventory is back to 0: the model sets the spreads again
        st.rb_kind = ""
        if not st.has_book:
            st.last_book_ts = ts  # the stale-feed clock starts now
        self._set_state(st, S.QUOTING, "run", ts)
        # cleanup only: quoting starts with the next book update, so a venue that runs intents
        # concurrently can never let this cleanup cancel the pair's first new orders
        return [CancelAll(st.symbol, st.cfg.cleanup == "own")]

    def stop(self, symbol: str, ts: int, reason: str = "stop") -> list[Intent]:
        """Stop quoting a pair and cancel its orders (then a cleanup of the pair's open orders)."""
        st = self.pair(symbol)
        out = self._cancel_all_own(st, ts)
        out.append(CancelAll(st.symbol, st.cfg.cleanup == "own"))
        if st.state != S.STOPPED:
            self._set_state(st, S.STOPPED, reason, ts)
        return out

    def stop_all(self, ts: int, reason: str = "engine stop") -> list[Intent]:
        """Stop every pair."""
        out: list[Intent] = []
        for st in self.pairs:
            out += self.stop(st.symbol, ts, reason)
        return out

    def configure(self, cfg: PairConfig, ts: int, source: str = "api") -> list[Intent]:
        """Replace a pair's config (checked against its rules first; on error nothing changes)."""
        st = self.pair(cfg.symbol)
        params = self._compile(cfg, st.rules, st)
        out: list[Intent] = []
        if params.levels != st.params.levels:  # a new level layout starts from a clean slate (its exit stays)
            out += self._cancel_all_own(st, ts, exits=False)
            st.bids = (st.bids + [None] * params.levels)[: params.levels]
            st.asks = (st.asks + [None] * params.levels)[: params.levels]
        if cfg.exit_inventory is None and st.exit is not None:  # exits turned off: the one at work goes too
            out += self._cancel_exit(st, ts)
        for o in st.bids + st.asks:  # a lower order-value cap takes down what rests above it
            if o is not None and o.status in S.RESTING and o.qty * o.price > params.max_order_units:
                out.append(self._cancel(o, ts))
        rb = st.rebal
        if rb is not None and rb.status in S.RESTING:  # the rebalance starts over under the new config
            out.append(self._cancel(rb, ts))
        st.rb_kind = ""
        st.cfg, st.params = cfg, params
        m = params.model
        if m is None:
            st.vol = None
        elif st.vol is None:
            st.vol = MidVariance(m.window_ns)
        else:
            st.vol.window_ns = m.window_ns  # the samples so far stay; the next one trims to the window
        st.model_r2 = 0
        st.bid_band = st.ask_band = None
        st.close_band()
        self.event_log.append(ConfigRecord(ts, st.symbol, cfg.model_dump(mode="json"), source))
        if st.state == S.QUOTING:
            out += self._evaluate(st, ts, _BOTH)
        return out

    # ---- market data (hot path) -----------------------------------------------------------------
    def on_book(self, idx: int, ts: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> list[Intent]:
        """A new best bid/ask for pair ``idx``. Returns intents (often the shared empty list)."""
        st = self.pairs[idx]
        st.bid = bid
        st.ask = ask
        st.bid_qty = bid_qty
        st.ask_qty = ask_qty
        st.last_book_ts = ts
        if st.quiet(bid, ask):
            return _NONE
        # the inventory skew moves with the mid (through the value of the base held): the band holds
        # for the skew shift it was built with, so only a new shift needs the full evaluation
        if st.sk_r2 >= 0 and st.in_box(bid, ask) and skew_shift(st.params, bid + ask, st.inventory()) == st.shift:
            st.sk_r2 = bid + ask
            return _NONE
        if bid >= ask:  # a crossed or locked top is not a market to quote against
            st.close_band()
            return _NONE
        st.has_book = True
        if st.state == S.PAUSED:
            self._set_state(st, S.QUOTING, "feed fresh again", ts)
        if st.state != S.QUOTING:
            return _NONE
        return self._evaluate(st, ts, _BOTH)

    def on_timer(self, ts: int) -> list[Intent]:
        """Periodic check (about once a second): pause pairs whose feed went stale."""
        out: list[Intent] = []
        for st in self.pairs:
            if st.state == S.QUOTING and ts - st.last_book_ts > self.stale_ns:
                out += self._cancel_all_own(st, ts)
                self._set_state(st, S.PAUSED, f"stale feed: no book update for {self.risk.stale_feed_s:g}s", ts)
                st.has_book = False
            vol = st.vol
            if vol is not None and st.has_book and st.bid < st.ask:  # a model's volatility sample
                vol.add(ts, st.bid + st.ask)
                if self._model_spreads(st) and st.state == S.QUOTING:
                    out += self._evaluate(st, ts, _BOTH)
        return out

    def _model_spreads(self, st: PairState) -> bool:
        """Let the pair's model (``params.model``) set its level-0 distances at the current mid, volatility
        and inventory (``quoting.model_depths``). True when they changed (the bands are closed then)."""
        p = st.params
        r2 = st.bid + st.ask
        if p.model is None or r2 <= 0:
            return False
        st.model_r2 = r2
        lot = size_for(p, r2 // 2)
        q = st.pos / lot if lot > 0 else 0.0
        vol = st.vol
        db, da = model_depths(p, r2, vol.variance() if vol is not None else 0.0, q)
        if db == p.bid_t[0] and da == p.ask_t[0]:
            return False
        st.params = with_depths(p, db, da)
        st.bid_band = st.ask_band = None
        st.close_band()
        return True

    # ---- the full evaluation --------------------------------------------------------------------
    def _evaluate(self, st: PairState, ts: int, sides: int) -> list[Intent]:
        st.close_band()
        if not st.has_book or st.state != S.QUOTING:
            return _NONE
        if st.vol is not None and st.model_r2 == 0:  # a model (vol is its state) not yet set at a mid
            self._model_spreads(st)
        p = st.params
        bid = st.bid
        ask = st.ask
        if p.max_loss_units and st.kill_switch_hit():
            return self._halt(st, ts)
        buy_ok, sell_ok = sides_enabled(p, bid, ask, st.base_free + st.base_locked)
        if not (buy_ok and sell_ok):
            self._explain_off(st, ts, buy_ok, sell_ok)
        elif st.off_kind:
            st.off_kind = ""
        shift = skew_shift(p, bid + ask, st.inventory()) if p.skew_on else 0
        if shift != st.shift:
            st.shift = shift
            st.bid_band = st.ask_band = None
        bid_px, ask_px = level_prices(p, bid, ask, shift)
        out: list[Intent] = []
        if p.rebal_on:  # first: the quotes get what the rebalancing order leaves of the money
            self._rebalance(st, ts, buy_ok, sell_ok, out)
        if st.exit is None and st.cfg.exit_inventory is not None and ts >= st.exit_until:
            self._exit(st, ts, out)  # then the exit: it takes what is free of the excess before the quotes
        if sides != _ASKS:
            self._diff_side(st, True, buy_ok, bid_px, ts, out)
        if sides != _BIDS:
            self._diff_side(st, False, sell_ok, ask_px, ts, out)
        if st.bid_band is not None and st.ask_band is not None:
            self._open_band(st, False)
        return out

    def _diff_side(
        self, st: PairState, buy: bool, enabled: bool, prices: list[int], ts: int, out: list[Intent]
    ) -> None:
        """Diff one side's working orders against what its levels want (the price within tolerance,
        then the size at the order's own price: ``quoting.resized_qty``), place what is missing
        (``quoting.quote_qty``), and cache the side's band when it is steady."""
        p = st.params
        slots = st.bids if buy else st.asks
        tol_t = p.tol_t
        tol_p = p.tol_p
        by_room = buy and p.max_inv_steps > 0  # the max-inventory room can shrink a resting bid
        steady = True
        empty = True
        counted = False  # budget and room (after the side's working orders) are counted when first needed
        budget = room = 0
        for i in range(len(prices)):
            o = slots[i]
            if o is None:
                if enabled:
                    steady = False
                continue
            empty = False
            if (o.status == S.NEW or o.status == S.PARTIALLY_FILLED) and o.successor is None:
                px = prices[i]
                tol = tol_t + o.price * tol_p // 100_000_000 if tol_p else tol_t
                if not enabled or px - o.price > tol or o.price - px > tol:
                    steady = False
                    if enabled and self.cancel_replace and ts >= st.hold_until:
                        if not counted:
                            budget, room = self._side_budget(st, buy)
                            counted = True
                        # the new order may use what the old one holds (it is cancelled first)
                        rem = o.qty - o.filled
                        freed = rem * o.price if buy else rem
                        q = quote_qty(p, st.filters, buy, px, budget + freed, room + rem, (st.bid + st.ask) // 2)
                        if q > 0:
                            out.append(self._replace(st, o, buy, px, q, ts))
                            budget += freed - (px * q if buy else q)
                            room += rem - q
                            continue
                    out.append(self._cancel(o, ts))
                elif not o.amend_qty and (by_room or size_for(p, o.price) != o.qty):
                    if not counted:
                        budget, room = self._side_budget(st, buy)
                        counted = True
                    q = self._wanted_size(st, buy, o, budget, room)
                    if q != o.qty:
                        steady = False
                        if self.amend_keeps_priority and o.filled < q < o.qty:
                            out.append(self._amend(o, q))
                        else:  # a replace: the new size is placed once the cancel is confirmed
                            out.append(self._cancel(o, ts))
            else:
                steady = False  # pending, unknown, or a replace's new order unresolved: wait for the answer
        if steady:
            if buy:
                if st.bid_band is None:
                    st.bid_band = (
                        FREE_SIDE if empty else bid_side_band(p, st.shift, [o.price for o in slots if o is not None])
                    )
            elif st.ask_band is None:
                st.ask_band = (
                    FREE_ASK_SIDE if empty else ask_side_band(p, st.shift, [o.price for o in slots if o is not None])
                )
            return
        if buy:
            st.bid_band = None
        else:
            st.ask_band = None
        if not enabled or ts < st.hold_until:
            return
        # place what is missing, from what the side's money allows after its working orders
        if not counted:
            budget, room = self._side_budget(st, buy)
        filters = st.filters
        ref = (st.bid + st.ask) // 2  # the percent-price band is checked around the mid
        for i in range(len(prices)):
            if slots[i] is not None:
                continue
            px = prices[i]
            q = quote_qty(p, filters, buy, px, budget, room, ref)
            if q <= 0:
                self._explain_skip(st, ts, buy, px, budget, room, ref)
                continue
            budget -= px * q if buy else q
            room -= q
            st.skip_kind = ""
            out.append(self._place(st, buy, i, px, q, ts))

    def _side_budget(self, st: PairState, buy: bool) -> tuple[int, int]:
        """What a side may still commit after its working orders: the budget (bids: quote units;
        asks: base steps) and the room under max inventory (``INF`` for asks)."""
        rb = st.rebal  # what the rebalancing order holds is not the quotes' (own_*_locked counts it)
        if buy:
            budget = st.quote_free + st.own_buy_locked
            room = buy_room(st.params, st.base_free + st.base_locked)
            for o in st.bids:
                if o is not None:
                    rem = o.qty - o.filled
                    budget -= rem * o.price
                    room -= rem
            if rb is not None and rb.side is BUY:
                budget -= (rb.qty - rb.filled) * rb.price
                room -= rb.qty - rb.filled
            return budget, room
        budget = st.base_free + st.own_sell_locked
        for o in st.asks:
            if o is not None:
                budget -= o.qty - o.filled
        if rb is not None and rb.side is SELL:
            budget -= rb.qty - rb.filled
        return budget, INF

    def _explain_skip(self, st: PairState, ts: int, buy: bool, px: int, budget: int, room: int, ref: int) -> None:
        """Say why a wanted quote cannot be placed (once per distinct reason): the pair's reason and
        a state event carry it to the status, the journal and the dashboard."""
        p, r = st.params, st.rules
        wanted = size_for(p, px)
        q = level_qty(p, buy, px, budget, room)
        name = st.filters.failure(buy, px, q, ref) if q > 0 else "LOT_SIZE"
        vis = iceberg_qty(p, q) if p.ice_on and q > 0 and not name else 0
        if vis:
            name = st.filters.iceberg_failure(q, vis)
        if q > 0 and q * px > p.max_order_units:
            kind = "max-order-notional"
        elif vis and name:
            kind = "filters " + name
        elif q < wanted:
            kind = ("max-inventory" if room <= q else "budget-buy") if buy else "budget-sell"
        elif name == "NOTIONAL":
            kind = "notional" if px * q < r.min_notional_units else "max-notional"
        else:
            kind = "filters " + name
        if kind == st.skip_kind:
            return
        if kind == "max-order-notional":
            text = (
                f"size {r.qty(q).normalize():f} {r.base_asset} is worth about {r.price(px) * r.qty(q):.2f} "
                f"{r.quote_asset}, over max_order_notional {st.cfg.max_order_notional.normalize():f} "
                f"{r.quote_asset}: not placed (lower size or raise max_order_notional)"
            )
        elif kind == "max-inventory":
            text = (
                f"max_inventory {st.cfg.max_inventory} {r.base_asset} leaves room to buy only "
                f"{r.qty(max(q, 0)).normalize():f} {r.base_asset}: quoting less or not at all"
            )
        elif kind.startswith("budget"):
            asset = r.quote_asset if buy else r.base_asset
            verb = "buy" if buy else "sell"
            text = f"not enough {asset} to {verb} {r.qty(wanted)} {r.base_asset}: quoting less or not at all"
        elif kind == "notional":
            text = (
                f"size {r.qty(q).normalize():f} {r.base_asset} is worth about {r.price(px) * r.qty(q):.2f} "
                f"{r.quote_asset}, under {r.symbol}'s minimum order value {r.min_notional.normalize():f} "
                f"{r.quote_asset} (NOTIONAL): raise size"
            )
        elif kind == "max-notional":
            text = (
                f"size {r.qty(q).normalize():f} {r.base_asset} is worth about {r.price(px) * r.qty(q):.2f} "
                f"{r.quote_asset}, over {r.symbol}'s maximum order value {r.max_notional.normalize():f} "
                f"{r.quote_asset} (NOTIONAL): lower size"
            )
        elif vis and name:
            text = f"iceberg_visible {st.cfg.iceberg_visible}: {r.iceberg_why(name, q, vis)} ({name}): not placed"
        else:
            text = f"{r.qty(q)} {r.base_asset} at {r.price(px)} breaks {r.symbol}'s {name} filter"
        st.skip_kind = kind
        st.reason = text
        self.event_log.append(StateRecord(ts, st.symbol, st.state, text))

    def _explain_off(self, st: PairState, ts: int, buy_ok: bool, sell_ok: bool) -> None:
        """Say (once) why a side does not quote at all: the price ceiling or floor, or max inventory."""
        kind = "off-sell" if buy_ok else ("off-buy" if sell_ok else "off-both")  # constants: no allocation
        if kind == st.off_kind:
            return
        cfg, r = st.cfg, st.rules
        mid = r.price(st.bid + st.ask) / 2
        why = []
        if not buy_ok:
            if cfg.price_ceiling is not None and mid > cfg.price_ceiling:
                why.append(f"no buy orders: the mid {mid.normalize():f} is above price_ceiling {cfg.price_ceiling}")
            else:
                why.append(f"no buy orders: {r.base_asset} held has reached max_inventory {cfg.max_inventory}")
        if not sell_ok:
            why.append(f"no sell orders: the mid {mid.normalize():f} is below price_floor {cfg.price_floor}")
        st.off_kind = kind
        st.reason = "; ".join(why)
        self.event_log.append(StateRecord(ts, st.symbol, st.state, st.reason))

    def _rebalance(self, st: PairState, ts: int, buy_ok: bool, sell_ok: bool, out: list[Intent]) -> None:
        """The active rebalance: past the band of the base share (``quoting.rebalance_excess``), one
        rebalancing order in the pair's own slot (``st.rebal``) for the excess back to the target — post-only
        at the touch and re-placed as the touch moves past the refresh tolerance (maker), or an IOC within
        the slippage allowed (taker) — and its remainder cancelled once the share is back in the band.

        It obeys what every quote obeys: the sides the price ceiling/floor and max inventory allow, the
        money free, ``max_order_notional``, the symbol's filters, and the hold after a refusal. A new order
        goes out only once the previous one has left (never two at a time), and a second after a taker the
        book could not fill whole (a thin book gets an order a second, not one a book update)."""
        p = st.params
        bid, ask = st.bid, st.ask
        base = st.base_free + st.base_locked
        excess = rebalance_excess(p, bid + ask, base, st.quote_free + st.quote_locked)
        o = st.rebal
        if o is not None:
            if p.rebal_taker or (o.status != S.NEW and o.status != S.PARTIALLY_FILLED):
                return  # an IOC on its way, a place or cancel unanswered, a fate unknown: wait for it
            buy = o.side is BUY
            if excess == 0 or (excess > 0) != buy:
                out.append(self._cancel(o, ts))  # back in the band (or past the other edge): done
                if excess == 0:
                    self._rebalance_note(st, ts, "in", buy, 0, 0)
                return
            want = bid if buy else ask
            tol = tolerance(p, o.price)
            if want - o.price > tol or o.price - want > tol:
                out.append(self._cancel(o, ts))  # the touch moved: re-placed there once the cancel is confirmed
            return
        if excess == 0:
            if st.rb_kind and st.rb_kind != "in":
                self._rebalance_note(st, ts, "in", True, 0, 0)
            return
        buy = excess > 0
        if not (buy_ok if buy else sell_ok) or ts < st.hold_until or ts < st.rb_until:
            return
        own_other = 0  # our own best quote on the other side: a taker never trades with it
        if p.rebal_taker:
            for q in st.asks if buy else st.bids:
                while q is not None:
                    if own_other == 0 or (q.price < own_other if buy else q.price > own_other):
                        own_other = q.price
                    q = q.successor
        price = rebalance_price(p, buy, bid, ask, own_other)
        if price <= 0:
            self._rebalance_note(st, ts, "slippage", buy, excess, 0)
            return
        if buy:
            budget = st.quote_free
            room = buy_room(p, base)
            for q in st.bids:
                if q is not None:
                    room -= q.qty - q.filled
        else:
            budget, room = st.base_free, INF
        qty = rebalance_qty(p, st.filters, buy, price, excess, budget, room, (bid + ask) // 2)
        if qty <= 0:
            self._rebalance_note(st, ts, "size", buy, excess, price)
            return
        out.append(self._place_rebalance(st, buy, price, qty, ts))
        self._rebalance_note(st, ts, "buy" if buy else "sell", buy, qty, price)

    def _rebalance_note(self, st: PairState, ts: int, kind: str, buy: bool, qty: int, price: int) -> None:
        """Say (once per distinct kind) what the rebalance does and why: the pair's reason and a state
        record carry it to the status, the journal and the dashboard."""
        if kind == st.rb_kind:
            return
        st.rb_kind = kind
        cfg, r = st.cfg, st.rules
        base2 = Decimal((st.base_free + st.base_locked) * (st.bid + st.ask))
        value2 = base2 + 2 * Decimal(st.quote_free + st.quote_locked)
        share = base2 / value2 if value2 > 0 else Decimal(0)
        band = cfg.rebalance_band or Decimal(0)
        lo, hi = cfg.inventory_target - band, cfg.inventory_target + band
        where = (
            f"{r.base_asset} share {share:.1%} of the value (inventory_target {cfg.inventory_target} ± "
            f"rebalance_band {band}: {max(lo, Decimal(0)):.1%} to {min(hi, Decimal(1)):.1%})"
        )
        verb = "buy" if buy else "sell"
        amount = f"{r.qty(abs(qty)).normalize():f} {r.base_asset}"
        if kind == "in":
            text = f"rebalanced: {where}"
        elif kind == "slippage":
            touch = "ask" if buy else "bid"
            text = (
                f"rebalance: {where}: would {verb} {amount}, but the {touch} is more than rebalance_max_slippage "
                f"{cfg.rebalance_max_slippage} from the mid (or only our own quote is there): not taken"
            )
        elif kind == "size":
            why = st.filters.failure(buy, price, abs(qty), 0) or "the money free or max_inventory"
            text = (
                f"rebalance: {where}: would {verb} {amount}, but no order of it can go out ({why}; "
                f"max_order_notional {cfg.max_order_notional.normalize():f} {r.quote_asset})"
            )
        else:
            how = (
                f"IOC up to {r.price(price).normalize():f} {r.quote_asset} (rebalance_max_slippage "
                f"{cfg.rebalance_max_slippage})"
                if st.params.rebal_taker
                else f"post-only at the touch, {r.price(price).normalize():f} {r.quote_asset}"
            )
            text = f"rebalancing: {where}: {verb} {amount}, {how}"
        st.reason = text
        self.event_log.append(StateRecord(ts, st.symbol, st.state, text))

    def _sizes_current(self, st: PairState) -> bool:
        """Whether every resting order has the size its level wants (``_diff_side``'s size check,
        for a band opened outside an evaluation: after an order is accepted)."""
        p = st.params
        for buy in (True, False):
            by_room = buy and p.max_inv_steps > 0
            counted = False
            budget = room = 0
            for o in st.bids if buy else st.asks:
                if o is None or o.amend_qty or (o.status != S.NEW and o.status != S.PARTIALLY_FILLED):
                    continue
                if by_room or size_for(p, o.price) != o.qty:
                    if not counted:
                        budget, room = self._side_budget(st, buy)
                        counted = True
                    if self._wanted_size(st, buy, o, budget, room) != o.qty:
                        return False
        return True

    def _wanted_size(self, st: PairState, buy: bool, o: Order, budget: int, room: int) -> int:
        """``quoting.resized_qty`` for a working order, from its side's budget and room after the
        working orders (``_side_budget``), with what the order holds given back to them."""
        if buy:
            return resized_qty(st.params, st.filters, True, o.price, o.qty, budget + o.qty * o.price, room + o.qty)
        return resized_qty(st.params, st.filters, False, o.price, o.qty, budget + o.qty, INF)

    def _open_band(self, st: PairState, check_sizes: bool = True) -> None:
        """Combine the side bands into the box checked by ``on_book`` (if the book is inside it).
        ``check_sizes``: first make sure no resting order waits for a new size (the band would hide it)."""
        bb, ab = st.bid_band, st.ask_band
        if bb is None or ab is None:
            return
        if check_sizes and not self._sizes_current(st):
            return  # the next book update takes the full evaluation and resizes
        p = st.params
        if bb is FREE_SIDE or ab is FREE_ASK_SIDE:
            # a side without orders is steady only while nothing could be placed on it
            buy_ok, sell_ok = sides_enabled(p, st.bid, st.ask, st.base_free + st.base_locked)
            if (bb is FREE_SIDE and buy_ok) or (ab is FREE_ASK_SIDE and sell_ok):
                return
            if bb is FREE_SIDE and ab is FREE_ASK_SIDE:
                return
        bid, ask = st.bid, st.ask
        b_lo, b_hi, a_lo, a_hi, m_lo, m_hi = combine_bands(p, bid, ask, bb, ab)
        if p.max_loss_units and st.pos:  # stay where the kill switch cannot trigger
            k_lo, k_hi = kill_switch_mid_range(st.cash, st.pos, st.fee_nu, p.max_loss_units)
            m_lo, m_hi = max(m_lo, k_lo), min(m_hi, k_hi)
        if p.rebal_on:  # stay where the base share is in its band; a rebalancing order at work: no box
            if st.rebal is not None:
                return
            r_lo, r_hi = share_band_r2(p, st.base_free + st.base_locked, st.quote_free + st.quote_locked)
            m_lo, m_hi = max(m_lo, r_lo), min(m_hi, r_hi)
        if b_lo <= bid <= b_hi and a_lo <= ask <= a_hi and m_lo <= bid + ask <= m_hi:
            st.b_hi, st.a_lo, st.a_hi, st.m_lo, st.m_hi = b_hi, a_lo, a_hi, m_lo, m_hi
            st.b_lo = b_lo
            st.sk_r2 = bid + ask if p.skew_on else -1  # with skew: the mid at which the shift was checked

    # ---- intents --------------------------------------------------------------------------------
    def _place(self, st: PairState, buy: bool, level: int, price: int, qty: int, ts: int, slot: bool = True) -> Place:
        """A new order for ``level`` (in its slot unless it waits there as a replace's successor)."""
        side = BUY if buy else SELL
        cid = st.ids("B" if buy else "S", level)
        o = Order(cid, st.idx, st.symbol, side, level, price, qty)
        self.orders[cid] = o
        if buy:
            if slot:
                st.bids[level] = o
            st.bid_band = None
            st.own_buy_locked += price * qty
            st.quote_free -= price * qty
            st.quote_locked += price * qty
        else:
            if slot:
                st.asks[level] = o
            st.ask_band = None
            st.own_sell_locked += qty
            st.base_free -= qty
            st.base_locked += qty
        self.order_log.append(OrderRecord(ts, o, S.PENDING_NEW, 0, ""))
        p = st.params
        if p.ice_on:
            return Place(st.symbol, cid, side, price, qty, p.post_only, level, iceberg_qty(p, qty))
        return Place(st.symbol, cid, side, price, qty, p.post_only, level)

    def _place_rebalance(self, st: PairState, buy: bool, price: int, qty: int, ts: int) -> Place:
        """The rebalancing order, in its own slot: post-only (maker), or a LIMIT IOC (taker)."""
        side = BUY if buy else SELL
        cid = st.ids("RB" if buy else "RS", 0)
        o = Order(cid, st.idx, st.symbol, side, 0, price, qty)
        o.rebalance = True
        self.orders[cid] = o
        st.rebal = o
        if buy:
            st.own_buy_locked += price * qty
            st.quote_free -= price * qty
            st.quote_locked += price * qty
        else:
            st.own_sell_locked += qty
            st.base_free -= qty
            st.base_locked += qty
        self.order_log.append(OrderRecord(ts, o, S.PENDING_NEW, 0, "rebalance"))
        taker = st.params.rebal_taker
        return Place(st.symbol, cid, side, price, qty, not taker, 0, ioc=taker)

    def _amend(self, o: Order, qty: int) -> Amend:
        o.amend_qty = qty  # until the venue answers, the order keeps its size (and what it holds)
        return Amend(o.symbol, o.client_id, qty)

    def _replace(self, st: PairState, o: Order, buy: bool, price: int, qty: int, ts: int) -> Replace:
        """Cancel ``o`` and place its successor in one request. The successor waits outside the level's
        slot (``o`` keeps it) until ``o`` is gone; it is placed only once ``o``'s cancel succeeded."""
        self._cancel(o, ts)
        place = self._place(st, buy, o.level, price, qty, ts, slot=False)
        n = self.orders[place.client_id]
        o.successor = n
        n.replaces = o
        return Replace(o.symbol, o.client_id, place)

    def _cancel(self, o: Order, ts: int) -> Cancel:
        o.status = S.PENDING_CANCEL
        self.order_log.append(OrderRecord(ts, o, S.PENDING_CANCEL, o.filled, ""))
        return Cancel(o.symbol, o.client_id)

    def _cancel_all_own(self, st: PairState, ts: int, exits: bool = True) -> list[Intent]:
        """Cancel the pair's resting orders (and its exit, with ``exits``: one ``CancelList``)."""
        out: list[Intent] = []
        for o in list(self.orders.values()):
            if o.pair == st.idx and o.status in S.RESTING and not o.exit_list:
                out.append(self._cancel(o, ts))
        if exits and st.exit is not None:
            out += self._cancel_exit(st, ts)
        st.bid_band = st.ask_band = None
        st.close_band()
        return out

    def _halt(self, st: PairState, ts: int) -> list[Intent]:
        out = self._cancel_all_own(st, ts)
        pnl = Decimal(st.pnl_half_units(st.bid, st.ask)) / 2 * st.rules.tick * st.rules.step
        self._set_state(st, S.HALTED, f"kill switch: PnL {pnl:.2f} {st.rules.quote_asset} below -max_loss", ts)
        return out

    def _set_state(self, st: PairState, state: str, reason: str, ts: int) -> None:
        st.state, st.reason = state, reason
        st.close_band()
        self.event_log.append(StateRecord(ts, st.symbol, state, reason))

    # ---- answers from the venue -----------------------------------------------------------------
    def on_accepted(self, client_id: str, ts: int) -> list[Intent]:
        """The venue accepted a new order (it rests)."""
        o = self.orders.get(client_id)
        if o is None or o.status != S.PENDING_NEW:
            return _NONE
        o.status = S.NEW
        st = self.pairs[o.pair]
        st.n_refused = 0
        self.order_log.append(OrderRecord(ts, o, S.NEW, o.filled, ""))
        if st.state != S.QUOTING:  # accepted after the pair stopped or paused: take it down
            return [self._cancel(o, ts)]
        if o.rebalance:  # outside the quotes' levels: their bands do not depend on it
            return _NONE
        # acceptance changes no wanted price, only whether the side is steady: check just that
        slots = st.bids if o.side is BUY else st.asks
        for x in slots:
            if x is None or (x.status != S.NEW and x.status != S.PARTIALLY_FILLED):
                return _NONE
        prices = [x.price for x in slots if x is not None]
        if o.side is BUY:
            st.bid_band = bid_side_band(st.params, st.shift, prices)
        else:
            st.ask_band = ask_side_band(st.params, st.shift, prices)
        self._open_band(st)
        return _NONE

    def on_rejected(
        self, client_id: str, ts: int, reason: str = "", would_cross: bool = False, retryable: bool = False
    ) -> list[Intent]:
        """The venue refused a new order. A post-only order that would cross is re-priced on the
        next book update; any other refusal holds new orders of the pair for a second, and
        ``MAX_REFUSALS`` in a row (rate limits aside: ``retryable``) put the pair in error."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        st = self.pairs[o.pair]
        why = reason or ("post-only would cross" if would_cross else "rejected")
        if not would_cross:
            st.hold_until = ts + REJECT_BACKOFF_NS
        out = self._finish(o, S.REJECTED, ts, why)
        if not would_cross and not retryable:
            st.n_refused += 1
            if st.n_refused >= MAX_REFUSALS and st.state == S.QUOTING:
                out = out + self._cancel_all_own(st, ts)
                self._set_state(st, S.ERROR, f"{st.n_refused} orders refused in a row (last: {why}): fix, then run", ts)
        return out

    def on_not_placed(self, client_id: str, ts: int, reason: str) -> list[Intent]:
        """A replace's new order was never sent to the book (its cancel failed first, or the request was
        refused as a whole): it leaves without counting as a refusal or holding the pair."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        return self._finish(o, S.REJECTED, ts, reason)

    def on_canceled(self, client_id: str, ts: int) -> list[Intent]:
        """The venue confirmed a cancel (or reported the order expired)."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        return self._finish(o, S.CANCELED, ts, "")

    def on_amended(self, client_id: str, qty: int, ts: int) -> list[Intent]:
        """The venue reduced an order to ``qty`` steps in all (its queue position kept): release what
        the cut held, then re-evaluate its side (the money freed may place a missing level)."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        o.amend_qty = 0
        cut = o.qty - qty
        if cut <= 0 or qty <= o.filled:  # nothing was cut, or the venue says it is done: its status tells
            return _NONE
        st = self.pairs[o.pair]
        buy = o.side is BUY
        o.qty = qty
        if buy:
            st.own_buy_locked -= o.price * cut
            st.quote_locked -= o.price * cut
            st.quote_free += o.price * cut
            st.bid_band = None
        else:
            st.own_sell_locked -= cut
            st.base_locked -= cut
            st.base_free += cut
            st.ask_band = None
        st.close_band()
        self.order_log.append(OrderRecord(ts, o, o.status, o.filled, "amended"))
        if st.state == S.QUOTING and (o.status == S.NEW or o.status == S.PARTIALLY_FILLED):
            return self._evaluate(st, ts, _BIDS if buy else _ASKS)
        return _NONE

    def on_amend_rejected(self, client_id: str, ts: int, reason: str = "") -> list[Intent]:
        """The venue refused an amend: fall back to a replace (cancel now, place the wanted size once
        the cancel is confirmed)."""
        o = self.orders.get(client_id)
        if o is None or not o.amend_qty:
            return _NONE
        o.amend_qty = 0
        self.order_log.append(OrderRecord(ts, o, o.status, o.filled, f"amend refused: {reason or 'rejected'}"))
        if o.status == S.NEW or o.status == S.PARTIALLY_FILLED:
            return [self._cancel(o, ts)]
        return _NONE

    def on_cancel_unknown_order(self, client_id: str, ts: int) -> list[Intent]:
        """The venue says the order is not open (-2011). If fills have not accounted for it, its fate
        is unknown until the user stream or a query tells; until then its level stays blocked."""
        return self.on_unknown_outcome(client_id, ts, "cancel: unknown order")

    def on_unknown_outcome(self, client_id: str, ts: int, reason: str) -> list[Intent]:
        """A place or cancel whose result is unknown (timeout, -1007, 5xx): never re-sent blindly."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        o.status = S.UNKNOWN
        st = self.pairs[o.pair]
        self.order_log.append(OrderRecord(ts, o, S.UNKNOWN, o.filled, reason))
        st.bid_band = st.ask_band = None
        st.close_band()
        return _NONE

    def on_order_status(self, client_id: str, status: str, filled: int, ts: int) -> list[Intent]:
        """Resolve an order from an authoritative report (user stream or query). ``filled`` is the
        cumulative quantity; fills themselves arrive through ``on_fill``."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        if o.exit_list:
            return self._exit_status(o, status, filled, ts)
        st = self.pairs[o.pair]
        if status in S.RESTING:
            if o.status in (S.UNKNOWN, S.PENDING_NEW):
                o.status = S.NEW if status == S.NEW else S.PARTIALLY_FILLED
                self.order_log.append(OrderRecord(ts, o, o.status, o.filled, "resolved"))
                if st.state != S.QUOTING:
                    return [self._cancel(o, ts)]
                return self._evaluate(st, ts, _BOTH)
            return _NONE
        if status == S.FILLED and o.filled < o.qty:
            o.status = S.UNKNOWN  # filled, but not all fills seen yet: wait for them
            return _NONE
        return self._finish(o, status, ts, "resolved")

    def on_fill(
        self,
        client_id: str,
        ts: int,
        price: int,
        qty: int,
        fee_nu: int,
        is_maker: bool,
        trade_id: int = 0,
        ts_exchange: int = 0,
    ) -> list[Intent]:
        """An execution of one of our orders. ``fee_nu`` is in (tick*step)/1e8 quote units.
        A fill reported twice (same trade id) is counted once."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        if trade_id:
            seen = o.trades
            if seen is None:
                o.trades = {trade_id}
            elif trade_id in seen:
                return _NONE
            else:
                seen.add(trade_id)
        if o.exit_list:
            return self._exit_fill(o, ts, price, qty, fee_nu, is_maker, trade_id, ts_exchange)
        st = self.pairs[o.pair]
        qty = min(qty, o.qty - o.filled)
        if qty <= 0:
            return _NONE
        o.filled += qty
        notional = price * qty
        fee_units = -((-fee_nu) // FEE_SCALE)
        if o.side is BUY:
            st.pos += qty
            st.cash -= notional
            st.own_buy_locked -= o.price * qty
            st.quote_locked -= o.price * qty
            st.quote_free += (o.price - price) * qty - fee_units
            st.base_free += qty
        else:
            st.pos -= qty
            st.cash += notional
            st.own_sell_locked -= qty
            st.base_locked -= qty
            st.quote_free += notional - fee_units
        st.fee_nu += fee_nu
        st.volume += notional
        st.n_fills += 1
        if st.vol is not None:  # a model's pair (vol is its state): the inventory moved, its skew with it
            self._model_spreads(st)
        self.fill_log.append(FillRecord(ts, ts_exchange, o, price, qty, fee_nu, is_maker, trade_id))
        if o.filled >= o.qty:
            return self._finish(o, S.FILLED, ts, "")
        if o.status == S.NEW:
            o.status = S.PARTIALLY_FILLED
        self.order_log.append(OrderRecord(ts, o, o.status, o.filled, ""))
        st.close_band()
        if st.state == S.QUOTING and st.params.max_loss_units and st.kill_switch_hit():
            return self._halt(st, ts)
        return _NONE

    def _finish(self, o: Order, status: str, ts: int, reason: str) -> list[Intent]:
        """An order left the book: free its level and what it held, then re-evaluate its side."""
        if o.exit_list:
            return self._exit_leg_end(o, status, ts, reason)
        st = self.pairs[o.pair]
        o.status = status
        del self.orders[o.client_id]
        buy = o.side is BUY
        slots = st.bids if buy else st.asks
        n = o.successor
        if o.rebalance:
            if st.rebal is o:
                st.rebal = None
            if status == S.EXPIRED or status == S.EXPIRED_IN_MATCH:  # the book within its slippage fell short:
                st.rb_until = ts + REBALANCE_RETRY_NS  # the next one waits (a thin book, not a stream of orders)
        elif o.level < len(slots) and slots[o.level] is o:
            # a replace's successor takes the level (if it is still ours to know about)
            slots[o.level] = n if n is not None and n.client_id in self.orders else None
        if n is not None:
            n.replaces = None
            o.successor = None
        if o.replaces is not None:  # a successor that left before the order it replaces
            if o.replaces.successor is o:
                o.replaces.successor = None
            o.replaces = None
        if o.rebalance:
            pass
        elif buy:
            st.bid_band = None
        else:
            st.ask_band = None
        rem = o.qty - o.filled
        if rem > 0:
            if buy:
                st.own_buy_locked -= o.price * rem
                st.quote_locked -= o.price * rem
                st.quote_free += o.price * rem
            else:
                st.own_sell_locked -= rem
                st.base_locked -= rem
                st.base_free += rem
        self.order_log.append(OrderRecord(ts, o, status, o.filled, reason))
        st.close_band()
        if st.state == S.QUOTING:
            if status == S.CANCELED:  # replace now; a fill or a refusal re-quotes on the next book update
                return self._evaluate(st, ts, _BIDS if buy else _ASKS)
            if status == S.FILLED and st.params.max_loss_units and st.kill_switch_hit():
                return self._halt(st, ts)
        return _NONE

    # ---- OCO exits ------------------------------------------------------------------------------
    def _exit(self, st: PairState, ts: int, out: list[Intent]) -> None:
        """Past ``exit_inventory``, the pair's OCO exit for its excess (``exits.exit_for``): its legs become
        orders of the core's (outside the slots) and the list holds the balance it needs until it ends."""
        x = exit_for(
            st.cfg,
            st.rules,
            st.base_free,
            st.base_free + st.base_locked,
            st.quote_free,
            st.quote_free + st.quote_locked,
            st.bid,
            st.ask,
            ("", "", ""),
        )
        if x is None:
            return
        list_id, tp_id, sl_id = st.ids("XL", 0), st.ids("XT", 0), st.ids("XS", 0)
        x = PlaceOco(st.symbol, list_id, x.side, x.qty, x.take_profit, x.stop, tp_id, sl_id)
        tp = Order(tp_id, st.idx, st.symbol, x.side, 0, x.take_profit, x.qty)
        sl = Order(sl_id, st.idx, st.symbol, x.side, 0, x.stop, x.qty)
        tp.exit_list = sl.exit_list = list_id
        self.orders[tp_id] = tp
        self.orders[sl_id] = sl
        if x.side is SELL:
            held = x.qty
            st.base_free -= held
            st.base_locked += held
        else:
            held = x.qty * x.stop
            st.quote_free -= held
            st.quote_locked += held
        st.exit = ExitList(list_id, x.side, tp, sl, held)
        self.order_log.append(OrderRecord(ts, tp, S.PENDING_NEW, 0, f"exit take-profit of {list_id}"))
        self.order_log.append(OrderRecord(ts, sl, S.PENDING_NEW, 0, f"exit stop-loss of {list_id}"))
        r = st.rules
        text = (
            f"exit {list_id}: OCO {x.side.name} {r.qty(x.qty).normalize():f} {r.base_asset}, take-profit "
            f"{r.price(x.take_profit).normalize():f}, stop {r.price(x.stop).normalize():f} {r.quote_asset} "
            f"(more than exit_inventory {st.cfg.exit_inventory} {r.base_asset} past inventory_target)"
        )
        st.reason = text
        self.event_log.append(StateRecord(ts, st.symbol, st.state, text))
        st.close_band()
        out.append(x)

    def _cancel_exit(self, st: PairState, ts: int) -> list[Intent]:
        """Cancel the pair's exit once it rests: one ``CancelList`` for both legs, or a plain ``Cancel`` of the
        one left (a take-profit partly filled: its stop expired, and Binance's list is done). A list still
        on its way is cancelled when accepted (``on_exit_placed``); one being cancelled or of unknown fate
        waits."""
        x = st.exit
        if x is None:
            return _NONE
        legs = [o for o in (x.tp, x.sl) if o.status in S.RESTING]
        if not legs or len(legs) != len(x.open_legs()):
            return _NONE
        if len(legs) == 1:  # the other leg ended (a venue may call the list done then): the leg as an order
            return [self._cancel(legs[0], ts)]
        for o in legs:
            o.status = S.PENDING_CANCEL
            self.order_log.append(OrderRecord(ts, o, S.PENDING_CANCEL, o.filled, ""))
        return [CancelList(st.symbol, x.list_id)]

    def exit_legs(self, symbol: str, list_id: str) -> list[str]:
        """The client ids of a list's legs the core still tracks."""
        st = self.by_symbol.get(symbol)
        x = st.exit if st is not None else None
        if x is None or x.list_id != list_id:
            return []
        return [o.client_id for o in x.open_legs() if o.client_id in self.orders]

    def on_exit_placed(self, symbol: str, list_id: str, ts: int) -> list[Intent]:
        """The venue accepted the pair's OCO: both legs work (cancelled at once if the pair stopped meanwhile)."""
        st = self.by_symbol.get(symbol)
        x = st.exit if st is not None else None
        if st is None or x is None or x.list_id != list_id:
            return _NONE
        x.placed = True
        for o in (x.tp, x.sl):
            if o.status == S.PENDING_NEW:
                o.status = S.NEW
                self.order_log.append(OrderRecord(ts, o, S.NEW, o.filled, ""))
        if st.state != S.QUOTING:
            return self._cancel_exit(st, ts)
        return _NONE

    def on_exit_refused(self, symbol: str, list_id: str, ts: int, reason: str) -> list[Intent]:
        """The venue refused the OCO: its legs end, what it held is free again, and the pair's next exit
        waits ``HOLD_NS`` (then goes at the prices of then)."""
        st = self.by_symbol.get(symbol)
        x = st.exit if st is not None else None
        if st is None or x is None or x.list_id != list_id:
            return _NONE
        st.exit_until = ts + HOLD_NS
        text = f"exit {list_id} refused: {reason} (the next after {HOLD_NS // 1_000_000_000} s)"
        if st.state == S.QUOTING:
            st.reason = text
        self.event_log.append(StateRecord(ts, st.symbol, st.state, text))
        for o in x.open_legs():
            self._exit_leg_end(o, S.REJECTED, ts, reason)
        return _NONE

    def on_list_canceled(self, symbol: str, list_id: str, ts: int) -> list[Intent]:
        """The venue cancelled the list: both legs end."""
        st = self.by_symbol.get(symbol)
        x = st.exit if st is not None else None
        if st is None or x is None or x.list_id != list_id:
            return _NONE
        for o in x.open_legs():
            self._exit_leg_end(o, S.CANCELED, ts, "")
        return _NONE

    def _exit_status(self, o: Order, status: str, filled: int, ts: int) -> list[Intent]:
        """A leg's status from the stream or a query."""
        st = self.pairs[o.pair]
        if status in S.RESTING:
            if o.status in (S.UNKNOWN, S.PENDING_NEW):
                o.status = S.NEW if status == S.NEW else S.PARTIALLY_FILLED
                self.order_log.append(OrderRecord(ts, o, o.status, o.filled, "resolved"))
                x = st.exit
                if x is not None and x.list_id == o.exit_list:
                    x.placed = True
                    if st.state != S.QUOTING:
                        return self._cancel_exit(st, ts)
            return _NONE
        if status == S.FILLED and o.filled < o.qty:
            o.status = S.UNKNOWN  # filled, but not all fills seen yet: wait for them
            return _NONE
        return self._exit_leg_end(o, status, ts, "")

    def _exit_fill(
        self, o: Order, ts: int, price: int, qty: int, fee_nu: int, is_maker: bool, trade_id: int, ts_exchange: int
    ) -> list[Intent]:
        """An execution of an exit's leg: the pair's position, cash and fees as any fill's, and the share of
        what the list holds that it used released."""
        st = self.pairs[o.pair]
        qty = min(qty, o.qty - o.filled)
        if qty <= 0:
            return _NONE
        o.filled += qty
        notional = price * qty
        fee_units = -((-fee_nu) // FEE_SCALE)
        x = st.exit if st.exit is not None and st.exit.list_id == o.exit_list else None
        if o.side is BUY:
            used = min(x.held, x.sl.price * qty) if x is not None else 0
            st.pos += qty
            st.cash -= notional
            st.quote_locked -= used
            st.quote_free += used - notional - fee_units
            st.base_free += qty
        else:
            used = min(x.held, qty) if x is not None else 0
            st.pos -= qty
            st.cash += notional
            st.base_locked -= used
            st.base_free -= qty - used
            st.quote_free += notional - fee_units
        if x is not None:
            x.held -= used
        st.fee_nu += fee_nu
        st.volume += notional
        st.n_fills += 1
        if st.vol is not None:
            self._model_spreads(st)
        self.fill_log.append(FillRecord(ts, ts_exchange, o, price, qty, fee_nu, is_maker, trade_id))
        st.close_band()
        if o.filled >= o.qty:
            return self._exit_leg_end(o, S.FILLED, ts, "")
        if o.status == S.NEW:
            o.status = S.PARTIALLY_FILLED
        self.order_log.append(OrderRecord(ts, o, o.status, o.filled, ""))
        if st.state == S.QUOTING and st.params.max_loss_units and st.kill_switch_hit():
            return self._halt(st, ts)
        return _NONE

    def _exit_leg_end(self, o: Order, status: str, ts: int, reason: str) -> list[Intent]:
        """A leg ended; with both ended the list is done: what it still holds is released and a later
        excess may get a new exit."""
        st = self.pairs[o.pair]
        o.status = status
        self.orders.pop(o.client_id, None)
        self.order_log.append(OrderRecord(ts, o, status, o.filled, reason))
        x = st.exit
        if x is None or x.list_id != o.exit_list or x.open_legs():
            return _NONE
        if x.side is SELL:
            st.base_locked -= x.held
            st.base_free += x.held
        else:
            st.quote_locked -= x.held
            st.quote_free += x.held
        x.held = 0
        st.exit = None
        st.close_band()
        filled = [name for name, leg in (("take-profit", x.tp), ("stop-loss", x.sl)) if leg.filled]
        how = " and ".join(f"{n} filled" for n in filled) if filled else "no leg filled"
        if st.state == S.QUOTING:
            st.reason = f"exit {x.list_id} done: {how}"
        self.event_log.append(StateRecord(ts, st.symbol, st.state, f"exit {x.list_id} done: {how}"))
        if st.state == S.QUOTING and status == S.FILLED and st.params.max_loss_units and st.kill_switch_hit():
            return self._halt(st, ts)
        return _NONE

    # ---- balances -------------------------------------------------------------------------------
    def on_balances(
        self, balances: Mapping[str, tuple[Decimal, Decimal]] | Iterable[tuple[str, Decimal, Decimal]], ts: int
    ) -> list[Intent]:
        """Authoritative balances from the venue, (free, locked) per asset; only the assets named change.

        They re-quote on the pair's next book update, not at once: a venue reports balances after every
        order change, and quotes follow the market, not the account's bookkeeping."""
        items = balances.items() if isinstance(balances, Mapping) else ((a, (f, lk)) for a, f, lk in balances)
        changed = set()
        for asset, (free, locked) in items:
            self.balances[asset] = (Decimal(free), Decimal(locked))
            changed.add(asset)
        for st in self.pairs:
            if st.rules.base_asset in changed or st.rules.quote_asset in changed:
                self._apply_balances(st)
                st.close_band()  # the next book update re-quotes with them (as after a fill)
        return _NONE

    def _apply_balances(self, st: PairState) -> None:
        st.base_free, st.base_locked, st.quote_free, st.quote_locked = balance_units(st.rules, self.balances)

    # ---- views ----------------------------------------------------------------------------------
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still be open (including pending and unknown ones)."""
        return [o for o in self.orders.values() if symbol is None or o.symbol == symbol]
