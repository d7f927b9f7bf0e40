"""Execution: the order lifecycle between the engine core and a venue, sans-I/O.

The core decides (intents: ``Place``, ``Cancel``, ``Amend``, ``CancelAll``); the execution turns the
venue's answers and its user stream into core events, and decides what else to ask the venue:

- answers: accepted; refused with a typed reason (would cross, filter, rate limit, balance, other);
  cancelled; not open; outcome unknown (timeout, -1007, 5xx) — never re-sent blindly;
- an order of unknown fate is *resolved*: queried with backoff until the venue knows it (a few
  "no such order" answers in a row conclude it was never placed), and fills a stream gap hid are
  fetched;
- a cancel refused for now (rate limits) is sent again once allowed;
- a gap in the user stream reconciles balances and every open order from the venue;
- fills, order updates and balances from the stream become core events (fees converted to the
  core's units). A LIMIT IOC (the active rebalance's taker, ``Place.ioc``) needs nothing of its own: it
  ends as any order does, with its fills and then FILLED, or an EXPIRED report for what did not fill.

It performs no I/O and reads no clock: every method takes the time, and returns the requests to
perform — the core's intents, ``Query``/``FetchFills``/``FetchBalances``, or ``Later(delay, request)``.
Two drivers perform them: the async ``EngineRunner`` on any ``Venue`` (wall-clock or virtual time),
and the backtest driver on the simulated exchange's timeline. Answers come back as ``Outcome``s; the
runner turns a venue's exceptions into one with ``outcome_of``, the simulated exchange makes them
directly. That is the whole of what the two share, and all of it lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Final, final

from liqkit.domain.errors import (
    OrderRejected,
    ReplaceFailed,
    RetryableError,
    UnknownOrderError,
    UnknownOutcomeError,
    VenueError,
)
from liqkit.domain.types import OrderStatus, RejectReason
from liqkit.engine.core import FEE_SCALE, EngineCore
from liqkit.engine.intents import (
    Amend,
    Cancel,
    CancelAll,
    CancelList,
    Intent,
    OrderRef,
    Place,
    PlaceOco,
    Replace,
    _Value,
)
from liqkit.engine.ports import OpenOrder, UserFill

TIMER_NS: Final = 1_000_000_000  # the engine's periodic check (stale feeds), live and in backtests alike
RESOLVE_FIRST_NS: Final = 50_000_000  # first query of an order of unknown fate, then doubling ...
RESOLVE_MAX_NS: Final = 2_000_000_000  # ... up to this
RESOLVE_MISSES: Final = 5  # "no such order" answers in a row that conclude it was never placed
RESOLVE_GIVE_UP_NS: Final = 120_000_000_000  # stop querying after this long (the sweep at stop asks again)
RECONCILE_DELAY_NS: Final = 200_000_000  # after a gap, let the venue reconnect first (gaps come in bursts)
RETRY_DEFAULT_NS: Final = 1_000_000_000  # a refusal for now without Retry-After
_RESTING: Final = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED})
_FINAL: Final = frozenset(
    {OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.EXPIRED_IN_MATCH}
)


# ---- requests besides the core's intents ---------------------------------------------------------
@final
class Query(OrderRef):
    """Ask the venue for one order's state (``query_order``)."""

    __slots__ = ()


@final
class FetchFills(OrderRef):
    """Ask the venue for every fill of one order (``order_fills``)."""

    __slots__ = ()


@final
class FetchBalances(_Value):
    """Ask the venue for every balance (``balances``)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()


@final
class Later(_Value):
    """Perform ``request`` ``delay_ns`` from now (backoff, retry after a rate limit)."""

    __slots__ = ("delay_ns", "request")
    _fields: ClassVar[tuple[str, ...]] = ("delay_ns", "request")

    def __init__(self, delay_ns: int, request: Request) -> None:
        self.delay_ns: Final = delay_ns
        self.request: Final = request


Request = Intent | Query | FetchFills | FetchBalances | Later


# ---- answers --------------------------------------------------------------------------------------
OK: Final = 0  # done (a place accepted, a cancel confirmed, a query answered: ``value``)
REFUSED: Final = 1  # the venue said no, for ``reason``
NOT_OPEN: Final = 2  # cancel/amend/query of an order the venue does not have open (-2011, -2013)
UNKNOWN: Final = 3  # the fate is unknown (timeout, -1007, 5xx, lost connection)
RETRY: Final = 4  # refused for now (rate limits): not executed; ``retry_after_ns``
FAILED: Final = 5  # another error (for an order request, its fate counts as unknown)
OUTCOME_NAMES: Final = ("ok", "refused", "not_open", "unknown", "retry", "failed")  # by kind, as journaled


@final
class Outcome:
    """A venue's answer to one request."""

    __slots__ = ("kind", "reason", "retry_after_ns", "text", "value")

    def __init__(
        self,
        kind: int,
        value: Any = None,
        reason: RejectReason = RejectReason.OTHER,
        text: str = "",
        retry_after_ns: int = 0,
    ) -> None:
        self.kind: Final = kind
        self.value: Final = value
        self.reason: Final = reason
        self.text: Final = text
        self.retry_after_ns: Final = retry_after_ns

    def __repr__(self) -> str:
        names = ("OK", "REFUSED", "NOT_OPEN", "UNKNOWN", "RETRY", "FAILED")
        return f"Outcome({names[self.kind]}, {self.value!r}, {self.reason}, {self.text!r})"


DONE: Final = Outcome(OK)


def outcome_of(e: BaseException) -> Outcome:
    """Classify an exception a venue call raised (the liqkit error tree, or a transport error).

    A cancel-replace's ``ReplaceFailed`` is the outcome of its cancel, with the outcome of its new
    order as ``value`` (None: not attempted): see ``Execution.on_answer``."""
    if isinstance(e, ReplaceFailed):
        if e.cancel is not None:
            half = outcome_of(e.cancel)
            return Outcome(half.kind, None, half.reason, half.text, half.retry_after_ns)
        return Outcome(OK, outcome_of(e.place) if e.place is not None else Outcome(FAILED, text=str(e)))
    if isinstance(e, OrderRejected):
        return Outcome(REFUSED, reason=e.reason, text=str(e))
    if isinstance(e, RetryableError):
        after = int((e.retry_after if e.retry_after is not None else RETRY_DEFAULT_NS / 1e9) * 1e9)
        return Outcome(RETRY, reason=RejectReason.RATE_LIMIT, text=str(e), retry_after_ns=after)
    if isinstance(e, UnknownOrderError):
        return Outcome(NOT_OPEN, text=str(e))
    if isinstance(e, (TimeoutError, UnknownOutcomeError, OSError)):
        return Outcome(UNKNOWN, text=f"{type(e).__name__}: {e}")
    if isinstance(e, VenueError):
        return Outcome(FAILED, text=str(e))
    raise e


class _Resolution:
    __slots__ = ("delay", "give_up", "misses", "symbol")

    def __init__(self, symbol: str, ts: int) -> None:
        self.symbol = symbol
        self.misses = 0
        self.delay = RESOLVE_FIRST_NS
        self.give_up = ts + RESOLVE_GIVE_UP_NS


_NONE: Final[list[Request]] = []  # the shared empty answer: callers must not mutate it


class Execution:
    """Between one ``EngineCore`` and one venue. Not thread-safe; its driver owns it."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        self.errors: list[str] = []  # for the driver to log and show; it empties the list
        self._resolving: dict[str, _Resolution] = {}
        self._reconciling = False

    # ---- market data -----------------------------------------------------------------------------
    def on_book(self, idx: int, ts: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> list[Request]:
        """A book update for pair ``idx``: the core's hot path (the backtest's loop calls the core itself)."""
        return self.core.on_book(idx, ts, bid, bid_qty, ask, ask_qty)  # type: ignore[return-value]

    # ---- periodic --------------------------------------------------------------------------------
    def on_timer(self, ts: int) -> list[Request]:
        """The periodic check, every ``TIMER_NS``."""
        return self.core.on_timer(ts)  # type: ignore[return-value]

    # ---- answers ---------------------------------------------------------------------------------
    def on_answer(self, req: Request, out: Outcome, ts: int) -> list[Request]:
        """What the venue answered to ``req``; returns what to do next."""
        core = self.core
        kind = out.kind
        t = type(req)
        if t is Place:
            p: Place = req  # type: ignore[assignment]
            if kind == OK:
                return core.on_accepted(p.client_id, ts)  # type: ignore[return-value]
            if kind == REFUSED:
                return core.on_rejected(  # type: ignore[return-value]
                    p.client_id, ts, out.text, out.reason is RejectReason.WOULD_CROSS
                )
            if kind == RETRY:  # refused for now: not placed
                return core.on_rejected(  # type: ignore[return-value]
                    p.client_id, ts, f"retry later: {out.text}", retryable=True
                )
            core.on_unknown_outcome(p.client_id, ts, out.text)  # unknown, or an error no one can place
            return self._resolve(p.symbol, p.client_id, ts)
        if t is Cancel:
            c: Cancel = req  # type: ignore[assignment]
            if kind == OK:
                return core.on_canceled(c.client_id, ts)  # type: ignore[return-value]
            if kind == RETRY:  # not sent: again once the venue allows
                return [Later(out.retry_after_ns, c)] if c.client_id in core.orders else _NONE
            if kind == NOT_OPEN:
                out_ = core.on_cancel_unknown_order(c.client_id, ts)
            else:
                out_ = core.on_unknown_outcome(c.client_id, ts, f"cancel: {out.text}")
            return [*out_, *self._resolve(c.symbol, c.client_id, ts)]
        if t is Amend:
            a: Amend = req  # type: ignore[assignment]
            if kind == OK:
                return core.on_amended(a.client_id, a.qty, ts)  # type: ignore[return-value]
            if kind == UNKNOWN:
                out_ = core.on_unknown_outcome(a.client_id, ts, f"amend: {out.text}")
                return [*out_, *self._resolve(a.symbol, a.client_id, ts)]
            return core.on_amend_rejected(a.client_id, ts, out.text)  # type: ignore[return-value]
        if t is Replace:
            return self._on_replace(req, out, ts)  # type: ignore[arg-type]
        if t is PlaceOco:
            x: PlaceOco = req  # type: ignore[assignment]
            if kind == OK:
                return core.on_exit_placed(x.symbol, x.list_id, ts)  # type: ignore[return-value]
            if kind in (REFUSED, RETRY):  # not placed: the next exit after the hold, at the prices of then
                return core.on_exit_refused(x.symbol, x.list_id, ts, out.text)  # type: ignore[return-value]
            res: list[Request] = []  # unknown: each leg's fate is found out as any order's
            for cid in core.exit_legs(x.symbol, x.list_id):
                core.on_unknown_outcome(cid, ts, f"OCO: {out.text}")
                res += self._resolve(x.symbol, cid, ts)
            return res
        if t is CancelList:
            cl: CancelList = req  # type: ignore[assignment]
            if kind == OK:
                return core.on_list_canceled(cl.symbol, cl.list_id, ts)  # type: ignore[return-value]
            legs = core.exit_legs(cl.symbol, cl.list_id)
            if kind == RETRY:  # not sent: again once the venue allows
                return [Later(out.retry_after_ns, cl)] if legs else _NONE
            res = []  # not open (a leg filled or triggered meanwhile), or unknown: the legs tell
            for cid in legs:
                core.on_unknown_outcome(cid, ts, f"cancel OCO: {out.text}")
                res += self._resolve(cl.symbol, cid, ts)
            return res
        if t is CancelAll:
            ca: CancelAll = req  # type: ignore[assignment]
            if kind != OK:  # the sweep at stop (and the next run) tries again
                self.errors.append(f"cleanup of {ca.symbol}: {out.text}")
                return _NONE
            res = []
            for cid in out.value:
                res += core.on_canceled(cid, ts)
            return res
        if t is Query:
            return self._on_query(req, out, ts)  # type: ignore[arg-type]
        if t is FetchFills:
            f: FetchFills = req  # type: ignore[assignment]
            if kind != OK:
                self.errors.append(f"fills of {f.client_id}: {out.text}")
                return [Later(RESOLVE_FIRST_NS, Query(f.symbol, f.client_id))]
            res = []
            for uf in out.value:
                res += self.on_fill(uf, ts)
            return [*res, Query(f.symbol, f.client_id)]  # then its state, now that its fills are in
        if t is FetchBalances:
            self._reconciling = False
            res = []
            if kind == OK:
                res += self.on_balances(out.value, ts)
            else:
                self.errors.append(f"reconcile balances: {out.text}")
            for o in list(core.orders.values()):
                res += self._resolve(o.symbol, o.client_id, ts)
            return res
        raise TypeError(f"no answer expected for {req!r}")

    def _on_replace(self, r: Replace, out: Outcome, ts: int) -> list[Request]:
        """A cancel-replace's answer. ``out`` is its cancel's outcome; when the cancel was done, ``value``
        is the new order's outcome (None: placed too). The new order goes out only after a done cancel
        (``STOP_ON_FAILURE``), so each half is handed to the core as the plain request's answer would be:
        the new order's first (the old order's end then hands the level to it, or frees it)."""
        core = self.core
        new = r.place.client_id
        kind = out.kind
        res: list[Request] = []
        if kind == OK:
            half: Outcome | None = out.value
            if half is not None and half.kind != OK:
                res += self.on_answer(r.place, half, ts)  # refused, rate-limited or unknown: as a plain place
                res += core.on_canceled(r.client_id, ts)
                return res
            res += core.on_canceled(r.client_id, ts)
            res += core.on_accepted(new, ts)
            return res
        if kind in (UNKNOWN, FAILED):  # either half may have happened: find out both
            core.on_unknown_outcome(r.client_id, ts, f"cancel-replace: {out.text}")
            core.on_unknown_outcome(new, ts, f"cancel-replace: {out.text}")
            return [*self._resolve(r.symbol, r.client_id, ts), *self._resolve(r.symbol, new, ts)]
        res += core.on_not_placed(new, ts, f"cancel-replace: {out.text}")
        if kind == RETRY:  # nothing was done: the cancel goes again once allowed, the level after it
            return [*res, Later(out.retry_after_ns, Cancel(r.symbol, r.client_id))]
        if kind == NOT_OPEN:  # the cancel failed (-2011): as a plain cancel's
            res += self.on_answer(Cancel(r.symbol, r.client_id), out, ts)
            return res
        return [*res, Cancel(r.symbol, r.client_id)]  # refused as a whole: the old order is cancelled alone

    def _resolve(self, symbol: str, client_id: str, ts: int) -> list[Request]:
        """Start finding out an order's fate (once at a time per order)."""
        if client_id in self._resolving or client_id not in self.core.orders:
            return _NONE
        r = self._resolving[client_id] = _Resolution(symbol, ts)
        return [Later(r.delay, Query(symbol, client_id))]

    def _on_query(self, q: Query, out: Outcome, ts: int) -> list[Request]:
        core = self.core
        cid = q.client_id
        r = self._resolving.get(cid)
        mine = core.orders.get(cid)
        if mine is None:  # resolved meanwhile (stream, another answer)
            self._resolving.pop(cid, None)
            return _NONE
        if r is None:  # asked by the sweep or after fetching fills: a one-off
            r = self._resolving[cid] = _Resolution(q.symbol, ts)
        if out.kind == OK and out.value is not None:
            o: OpenOrder = out.value
            if o.filled > mine.filled:
                return [FetchFills(q.symbol, cid)]
            del self._resolving[cid]
            return core.on_order_status(cid, o.status, o.filled, ts)  # type: ignore[return-value]
        if out.kind == OK or out.kind == NOT_OPEN:  # the venue never had it (so far)
            r.misses += 1
            if r.misses >= RESOLVE_MISSES:
                del self._resolving[cid]
                return core.on_order_status(cid, OrderStatus.EXPIRED, 0, ts)  # type: ignore[return-value]
        elif out.kind == RETRY:
            return [Later(max(out.retry_after_ns, r.delay), q)]
        else:
            self.errors.append(f"query {cid}: {out.text}")
        if ts >= r.give_up:
            del self._resolving[cid]
            self.errors.append(f"query {cid}: fate still unknown after {RESOLVE_GIVE_UP_NS // 1_000_000_000} s")
            return _NONE
        r.delay = min(r.delay * 2, RESOLVE_MAX_NS)
        return [Later(r.delay, q)]

    # ---- the user stream -------------------------------------------------------------------------
    def on_fill(self, f: UserFill, ts: int) -> list[Request]:
        """An execution of one of our orders (counted once per trade id)."""
        st = self.core.by_symbol.get(f.symbol)
        if st is None:
            return _NONE
        r = st.rules
        fee_nu = int(f.fee / (r.tick * r.step) * FEE_SCALE) if f.fee_asset == r.quote_asset else 0
        return self.on_fill_units(f.client_id, ts, f.price, f.qty, fee_nu, f.is_maker, f.trade_id, f.ts_exchange)

    def on_fill_units(
        self,
        client_id: str,
        ts: int,
        price: int,
        qty: int,
        fee_nu: int,
        is_maker: bool,
        trade_id: int,
        ts_exchange: int,
    ) -> list[Request]:
        """A fill already in the core's units (the simulated exchange's): the fee in (tick*step)/1e8."""
        return self.core.on_fill(  # type: ignore[return-value]
            client_id, ts, price, qty, fee_nu, is_maker, trade_id, ts_exchange
        )

    def on_order_update(self, client_id: str, status: OrderStatus, filled: int, ts: int) -> list[Request]:
        """An order's status from the user stream."""
        if status in _FINAL or status in _RESTING:
            return self.core.on_order_status(client_id, status, filled, ts)  # type: ignore[return-value]
        return _NONE

    def on_balances(
        self, balances: Mapping[str, tuple[Decimal, Decimal]] | Iterable[tuple[str, Decimal, Decimal]], ts: int
    ) -> list[Request]:
        """Authoritative balances (only the assets named)."""
        return self.core.on_balances(balances, ts)  # type: ignore[return-value]

    def on_gap(self, ts: int) -> list[Request]:
        """The venue lost part of a stream: reconcile balances, then every open order."""
        if self._reconciling:
            return _NONE
        self._reconciling = True
        return [Later(RECONCILE_DELAY_NS, FetchBalances())]

    # ---- views -----------------------------------------------------------------------------------
    def resolving(self) -> list[str]:
        """Client ids whose fate is being found out."""
        return list(self._resolving)
