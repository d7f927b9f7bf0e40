"""The engine core: sans-I/O. Events in (typed methods), intents out (lists of ``Place``/``Cancel``).

It never reads a clock, sleeps, logs or touches a socket: every method takes the event's timestamp,
and what happened is appended to ``self.log`` (order changes, fills, state changes) for the runner to
journal and publish. The same object runs in a backtest (driven by ``liqkit.backtest``), against the
in-process simulated exchange and against Binance (driven by ``liqkit.engine.runner``).

The hot path is ``on_book``: after a full evaluation the core stores the box of book states in
which another evaluation would change nothing (``quoting.price_band_for_orders``); a book update
inside it costs a few integer comparisons. Anything else that can change the wanted quotes (a fill,
an order answer, balances, config, a timer) closes the box.

Order safety: a replacement is placed only after the cancel of the order it replaces is confirmed,
so a pair never has two live orders for one side and level; an order whose fate is unknown keeps
its level blocked until the venue tells its fate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.errors import ConfigError
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import Side
from liqkit.engine import state as S
from liqkit.engine.ids import ClientIdFactory, new_run_nonce
from liqkit.engine.intents import Cancel, CancelAll, Intent, Place
from liqkit.engine.state import Order, PairState
from liqkit.quoting import (
    INF,
    compile_params,
    level_prices,
    price_band_for_orders,
    sides_enabled,
    size_for,
    skew_shift,
    tolerance,
)

_NONE: list[Intent] = []  # shared empty answer: callers must not mutate it
_SIDE_CHAR = {Side.BUY: "B", Side.SELL: "S"}
FEE_SCALE = 100_000_000  # fees are carried in units of (tick*step) / 1e8
REJECT_BACKOFF_NS = 1_000_000_000  # after a refused order (other than post-only crossing), wait this long


class EngineCore:
    """Quote many pairs. Not thread-safe; one owner drives it."""

    def __init__(self, risk: RiskConfig | None = None, run_nonce: str | None = None) -> None:
        self.risk = risk or RiskConfig()
        self.stale_ns = int(self.risk.stale_feed_s * 1e9)
        self.run_nonce = run_nonce or new_run_nonce()
        self.pairs: list[PairState] = []
        self.by_symbol: dict[str, PairState] = {}
        self.orders: dict[str, Order] = {}  # every order we know that may still be open
        self.log: list[tuple[Any, ...]] = []
        self.balances: dict[str, tuple[Decimal, Decimal]] = {}

    # ---- pairs ----------------------------------------------------------------------------------
    def add_pair(self, cfg: PairConfig, rules: SymbolRules) -> PairState:
        """Register a pair (stopped). Raise ConfigError if the config does not fit the symbol."""
        if cfg.symbol != rules.symbol:
            raise ConfigError(f"pairs.{cfg.symbol}: rules are for {rules.symbol}")
        if cfg.symbol in self.by_symbol:
            raise ConfigError(f"pairs.{cfg.symbol}: pair already configured")
        st = PairState(len(self.pairs), cfg, rules, self._compile(cfg, rules), ClientIdFactory(rules.symbol, self.run_nonce))
        self.pairs.append(st)
        self.by_symbol[st.symbol] = st
        self._apply_balances(st)
        return st

    def _compile(self, cfg: PairConfig, rules: SymbolRules) -> Any:
        try:
            return compile_params(cfg, rules, self.risk.max_loss)
        except ValueError as e:
            raise ConfigError(f"pairs.{cfg.symbol}.{e}") from None

    def pair(self, symbol: str) -> PairState:
        """The state of ``symbol``'s pair (KeyError-free: ConfigError naming known pairs)."""
        try:
            return self.by_symbol[symbol.upper()]
        except KeyError:
            raise ConfigError(f"unknown pair {symbol!r}; configured: {', '.join(self.by_symbol) or 'none'}") from None

    def run(self, symbol: str, ts: int) -> list[Intent]:
        """Start quoting a pair: clean up its open orders per the cleanup scope, then quote."""
        st = self.pair(symbol)
        if st.state in (S.QUOTING, S.PAUSED):
            return []
        st.pos = st.cash = st.fee_nu = st.volume = st.n_fills = st.hold_until = 0
        if not st.has_book:
            st.last_book_ts = ts  # the stale-feed clock starts now
        self._set_state(st, S.QUOTING, "run", ts)
        out: list[Intent] = [CancelAll(st.symbol, st.cfg.cleanup == "own")]
        out += self._evaluate(st, ts)
        return out

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
        """Replace a pair's config (validated against its rules first; on error nothing changes)."""
        st = self.pair(cfg.symbol)
        params = self._compile(cfg, st.rules)
        out: list[Intent] = []
        if params.levels != st.params.levels:  # level layout changes: start from a clean slate
            out += self._cancel_all_own(st, ts)
        st.cfg, st.params = cfg, params
        if len(st.bids) != params.levels:
            st.bids = _resize(st.bids, params.levels)
            st.asks = _resize(st.asks, params.levels)
        self.log.append(("config", ts, st.symbol, cfg.model_dump(mode="json"), source))
        st.close_band()
        if st.state == S.QUOTING:
            out += self._evaluate(st, ts)
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
        if st.b_lo <= bid <= st.b_hi and st.a_lo <= ask <= st.a_hi and st.m_lo <= bid + ask <= st.m_hi:
            return _NONE
        return self._on_book_slow(st, ts)

    def _on_book_slow(self, st: PairState, ts: int) -> list[Intent]:
        if st.bid >= st.ask:  # a crossed or locked top is not a market to quote against
            st.close_band()
            return _NONE
        st.has_book = True
        if st.state == S.PAUSED:
            self._set_state(st, S.QUOTING, "feed fresh again", ts)
        if st.state != S.QUOTING:
            return _NONE
        return self._evaluate(st, ts)

    def on_timer(self, ts: int) -> list[Intent]:
        """Periodic check (about once a second): pause pairs whose feed went stale."""
        out: list[Intent] = []
        for st in self.pairs:
            if st.state == S.QUOTING and ts - st.last_book_ts > self.stale_ns:
                out += self._cancel_all_own(st, ts)
                self._set_state(st, S.PAUSED, f"stale feed: no book update for {self.risk.stale_feed_s:g}s", ts)
                st.has_book = False
        return out

    # ---- the full evaluation ----------------------------------------------------------------------
    def _evaluate(self, st: PairState, ts: int) -> list[Intent]:
        st.close_band()
        if not st.has_book or st.state != S.QUOTING:
            return _NONE
        p = st.params
        bid, ask = st.bid, st.ask
        if p.max_loss_units and st.pnl_half_units(bid, ask) < -2 * p.max_loss_units:
            return self._halt(st, ts)
        inv = st.inventory()
        buy_ok, sell_ok = sides_enabled(p, bid, ask, inv)
        shift = skew_shift(p, bid + ask, inv)
        bid_px, ask_px = level_prices(p, bid, ask, shift)
        out: list[Intent] = []
        steady = self._diff_side(st, st.bids, Side.BUY, buy_ok, bid_px, inv.quote_free_for_buys, ts, out)
        steady &= self._diff_side(st, st.asks, Side.SELL, sell_ok, ask_px, inv.base_free_for_sells, ts, out)
        if steady:
            self._open_band(st, shift)
        return out

    def _diff_side(
        self, st: PairState, slots: list[Order | None], side: Side, enabled: bool, prices: list[int],
        budget: int, ts: int, out: list[Intent],
    ) -> bool:
        """Diff one side's working orders against wanted prices; True if every level rests unchanged."""
        p = st.params
        rules = st.rules
        steady = True
        buy = side is Side.BUY
        room = p.max_inv_steps - (st.base_free + st.base_locked) if (buy and p.max_inv_steps) else INF
        for o in slots:  # what working orders already hold is theirs, not budget for new ones
            if o is not None:
                budget -= o.remaining * o.price if buy else o.remaining
                room -= o.remaining if buy else 0
        for i, px in enumerate(prices):
            o = slots[i]
            if o is not None:
                if o.status in S.RESTING:
                    if not enabled or abs(px - o.price) > tolerance(p, o.price):
                        out.append(self._cancel(o, ts))
                        steady = False
                else:
                    steady = False  # pending or unknown: wait for its answer
                continue
            if not enabled:
                continue  # nothing wanted, nothing there
            steady = False
            if ts < st.hold_until:
                continue
            q = min(size_for(p, px), budget // px if buy else budget, room)
            n = px * q
            if (
                q < max(rules.min_qty_steps, 1)
                or n < rules.min_notional_units
                or (rules.max_qty_steps and q > rules.max_qty_steps)
                or px < max(rules.min_price_ticks, 1)
                or (rules.max_price_ticks and px > rules.max_price_ticks)
            ):
                continue
            if rules.percent_price is not None:
                lo, hi = rules.percent_price.bounds(side, (st.bid + st.ask) // 2)
                if not lo <= px <= hi:
                    continue
            budget -= n if buy else q
            room -= q if buy else 0
            out.append(self._place(st, slots, side, i, px, q, ts))
        return steady

    def _open_band(self, st: PairState, shift: int) -> None:
        p = st.params
        bids = [o.price for o in st.bids if o is not None]
        asks = [o.price for o in st.asks if o is not None]
        if len(bids) not in (0, p.levels) or len(asks) not in (0, p.levels) or not (bids or asks):
            return
        inv = st.inventory()
        buy_ok, sell_ok = sides_enabled(p, st.bid, st.ask, inv)
        if (not bids and buy_ok) or (not asks and sell_ok):
            return  # an empty side that could quote (budget, filters): re-check on every update
        b_lo, b_hi, a_lo, a_hi, m_lo, m_hi = price_band_for_orders(
            p, st.bid, st.ask, shift, bids if bids else [], asks if asks else []
        )
        if p.max_loss_units and st.pos:
            # stay where the kill switch cannot trigger: 2*cash - 2*fees + pos*(b+a) >= -2*max_loss
            need = -2 * p.max_loss_units - 2 * st.cash + (-((-2 * st.fee_nu) // FEE_SCALE))
            if st.pos > 0:
                m_lo = max(m_lo, -((-need) // st.pos))
            else:
                m_hi = min(m_hi, need // st.pos)
        if p.skew:
            # the skew moves with the mid (through the inventory's value): any mid change re-evaluates
            r2 = st.bid + st.ask
            m_lo, m_hi = max(m_lo, r2), min(m_hi, r2)
        bid, ask = st.bid, st.ask
        if b_lo <= bid <= b_hi and a_lo <= ask <= a_hi and m_lo <= bid + ask <= m_hi:
            st.b_lo, st.b_hi, st.a_lo, st.a_hi, st.m_lo, st.m_hi = b_lo, b_hi, a_lo, a_hi, m_lo, m_hi

    # ---- intents --------------------------------------------------------------------------------
    def _place(self, st: PairState, slots: list[Order | None], side: Side, level: int, price: int, qty: int, ts: int) -> Place:
        cid = st.ids(_SIDE_CHAR[side], level)
        o = Order(cid, st.idx, side, level, price, qty)
        slots[level] = o
        self.orders[cid] = o
        if side is Side.BUY:
            st.own_buy_locked += price * qty
            st.quote_free -= price * qty
            st.quote_locked += price * qty
        else:
            st.own_sell_locked += qty
            st.base_free -= qty
            st.base_locked += qty
        self.log.append(("order", ts, st.symbol, cid, side, price, qty, 0, S.PENDING_NEW, level, ""))
        return Place(st.symbol, cid, side, price, qty, st.params.post_only, level)

    def _cancel(self, o: Order, ts: int) -> Cancel:
        o.status = S.PENDING_CANCEL
        st = self.pairs[o.pair]
        self.log.append(("order", ts, st.symbol, o.client_id, o.side, o.price, o.qty, o.filled, S.PENDING_CANCEL, o.level, ""))
        return Cancel(st.symbol, o.client_id)

    def _cancel_all_own(self, st: PairState, ts: int) -> list[Intent]:
        out: list[Intent] = []
        for o in list(self.orders.values()):
            if o.pair == st.idx and o.status in S.RESTING:
                out.append(self._cancel(o, ts))
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
        self.log.append(("state", ts, st.symbol, state, reason))

    # ---- answers from the venue -------------------------------------------------------------------
    def on_accepted(self, client_id: str, ts: int) -> list[Intent]:
        """The venue accepted a new order (it rests)."""
        o = self.orders.get(client_id)
        if o is None or o.status != S.PENDING_NEW:
            return _NONE
        o.status = S.NEW
        st = self.pairs[o.pair]
        self.log.append(("order", ts, st.symbol, client_id, o.side, o.price, o.qty, o.filled, S.NEW, o.level, ""))
        if st.state != S.QUOTING:  # accepted after the pair stopped or paused: take it down
            return [self._cancel(o, ts)]
        return self._evaluate(st, ts)

    def on_rejected(self, client_id: str, ts: int, reason: str = "", would_cross: bool = False) -> list[Intent]:
        """The venue refused a new order. A post-only order that would cross is re-priced on the
        next book update, not treated as a failure."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        return self._finish(o, S.REJECTED, ts, reason or ("post-only would cross" if would_cross else "rejected"))

    def on_canceled(self, client_id: str, ts: int) -> list[Intent]:
        """The venue confirmed a cancel (or reported the order expired)."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        return self._finish(o, S.CANCELED, ts, "")

    def on_cancel_unknown_order(self, client_id: str, ts: int) -> list[Intent]:
        """The venue says the order is not open (-2011). If fills have not accounted for it, its fate
        is unknown until the user stream or a query tells; until then its level stays blocked."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        o.status = S.UNKNOWN
        st = self.pairs[o.pair]
        self.log.append(("order", ts, st.symbol, client_id, o.side, o.price, o.qty, o.filled, S.UNKNOWN, o.level, "cancel: unknown order"))
        st.close_band()
        return _NONE

    def on_unknown_outcome(self, client_id: str, ts: int, reason: str) -> list[Intent]:
        """A place or cancel whose result is unknown (timeout, -1007, 5xx): never re-sent blindly."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        o.status = S.UNKNOWN
        st = self.pairs[o.pair]
        self.log.append(("order", ts, st.symbol, client_id, o.side, o.price, o.qty, o.filled, S.UNKNOWN, o.level, reason))
        st.close_band()
        return _NONE

    def on_order_status(self, client_id: str, status: str, filled: int, ts: int) -> list[Intent]:
        """Resolve an order from an authoritative report (user stream or query). ``filled`` is the
        cumulative quantity; fills themselves arrive through ``on_fill``."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        if status in S.RESTING:
            if o.status in (S.UNKNOWN, S.PENDING_NEW):
                o.status = status
                st = self.pairs[o.pair]
                self.log.append(("order", ts, st.symbol, client_id, o.side, o.price, o.qty, o.filled, status, o.level, "resolved"))
                if st.state != S.QUOTING:
                    return [self._cancel(o, ts)]
                return self._evaluate(st, ts)
            return _NONE
        if status == S.FILLED and o.filled < o.qty:
            o.status = S.UNKNOWN  # wait for the fill itself
            return _NONE
        return self._finish(o, status, ts, "resolved")

    def on_fill(
        self, client_id: str, ts: int, price: int, qty: int, fee_nu: int, is_maker: bool, trade_id: int = 0,
        ts_exchange: int = 0,
    ) -> list[Intent]:
        """An execution of one of our orders. ``fee_nu`` is in (tick*step)/1e8 quote units.
        A fill reported twice (same trade id) is counted once."""
        o = self.orders.get(client_id)
        if o is None:
            return _NONE
        if trade_id:
            if o.trades is None:
                o.trades = {trade_id}
            elif trade_id in o.trades:
                return _NONE
            else:
                o.trades.add(trade_id)
        st = self.pairs[o.pair]
        qty = min(qty, o.qty - o.filled)
        if qty <= 0:
            return _NONE
        o.filled += qty
        notional = price * qty
        fee_units = -((-fee_nu) // FEE_SCALE)
        if o.side is Side.BUY:
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
        self.log.append(("fill", ts, ts_exchange, st.symbol, client_id, o.side, price, qty, fee_nu, is_maker, trade_id, o.level))
        if o.filled >= o.qty:
            return self._finish(o, S.FILLED, ts, "")
        if o.status == S.NEW:
            o.status = S.PARTIALLY_FILLED
        self.log.append(("order", ts, st.symbol, client_id, o.side, o.price, o.qty, o.filled, o.status, o.level, ""))
        st.close_band()
        if st.state == S.QUOTING and st.params.max_loss_units and st.pnl_half_units(st.bid, st.ask) < -2 * st.params.max_loss_units:
            return self._halt(st, ts)
        return _NONE

    def _finish(self, o: Order, status: str, ts: int, reason: str) -> list[Intent]:
        """An order left the book: free its level and what it held, then re-evaluate."""
        st = self.pairs[o.pair]
        o.status = status
        del self.orders[o.client_id]
        slots = st.bids if o.side is Side.BUY else st.asks
        if o.level < len(slots) and slots[o.level] is o:
            slots[o.level] = None
        rem = o.qty - o.filled
        if rem > 0:
            if o.side is Side.BUY:
                st.own_buy_locked -= o.price * rem
                st.quote_locked -= o.price * rem
                st.quote_free += o.price * rem
            else:
                st.own_sell_locked -= rem
                st.base_locked -= rem
                st.base_free += rem
        self.log.append(("order", ts, st.symbol, o.client_id, o.side, o.price, o.qty, o.filled, status, o.level, reason))
        st.close_band()
        if st.state == S.QUOTING:
            if status == S.FILLED and st.params.max_loss_units and st.pnl_half_units(st.bid, st.ask) < -2 * st.params.max_loss_units:
                return self._halt(st, ts)
            if status == S.CANCELED:  # replace now; a fill or a reject re-quotes on the next book update
                return self._evaluate(st, ts)
            if status == S.REJECTED and not reason.startswith("post-only"):
                st.hold_until = ts + REJECT_BACKOFF_NS  # do not hammer a venue that refuses
        return _NONE

    # ---- balances ---------------------------------------------------------------------------------
    def on_balances(self, balances: Mapping[str, tuple[Decimal, Decimal]] | Iterable[tuple[str, Decimal, Decimal]], ts: int) -> list[Intent]:
        """Authoritative balances from the venue (free, locked) per asset; only the assets named change."""
        items = balances.items() if isinstance(balances, Mapping) else ((a, (f, lk)) for a, f, lk in balances)
        changed = set()
        for asset, (free, locked) in items:
            self.balances[asset] = (Decimal(free), Decimal(locked))
            changed.add(asset)
        out: list[Intent] = []
        for st in self.pairs:
            if st.rules.base_asset in changed or st.rules.quote_asset in changed:
                self._apply_balances(st)
                st.close_band()
                if st.state == S.QUOTING:
                    out += self._evaluate(st, ts)
        return out

    def _apply_balances(self, st: PairState) -> None:
        r = st.rules
        bf, bl = self.balances.get(r.base_asset, (Decimal(0), Decimal(0)))
        qf, ql = self.balances.get(r.quote_asset, (Decimal(0), Decimal(0)))
        unit = r.tick * r.step
        st.base_free = int((bf / r.step).to_integral_value(ROUND_FLOOR))
        st.base_locked = int((bl / r.step).to_integral_value(ROUND_FLOOR))
        st.quote_free = int((qf / unit).to_integral_value(ROUND_FLOOR))
        st.quote_locked = int((ql / unit).to_integral_value(ROUND_FLOOR))

    # ---- views ------------------------------------------------------------------------------------
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still be open (including pending and unknown ones)."""
        return [o for o in self.orders.values() if symbol is None or self.pairs[o.pair].symbol == symbol]

    def drain_log(self) -> list[tuple[Any, ...]]:
        """Take what happened since the last call."""
        log, self.log = self.log, []
        return log


def _resize(slots: list[Order | None], n: int) -> list[Order | None]:
    return (slots + [None] * n)[:n]
