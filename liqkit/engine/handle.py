"""``EngineHandle``: the one protocol the UI, the control API and the CLI drive an engine through.

``LocalEngine`` implements it on an ``EngineRunner`` in this process (a notebook's simulated engine,
or the engine ``liqkit serve`` hosts); ``liqkit.client.EngineClient`` implements it over the control
API. Both return the same types: the views of ``liqkit.engine.views`` (pydantic models with the
API's JSON shapes: decimals as strings, timestamps in integer nanoseconds) and the event records of
``liqkit.engine.events``.

Events: ``events()`` yields a ``SnapshotEvent`` first, then deltas: ``TickerEvent`` (coalesced to at
most ``TICKER_HZ`` a second per pair), ``HealthEvent`` (status and PnL, every ``HEALTH_S``), and
``OrderEvent``, ``FillEvent``, ``BalanceEvent``, ``StateEvent`` and ``ConfigEvent``, never dropped nor
reordered.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from liqkit.domain.budget import BudgetError, check_budget
from liqkit.domain.config import PairConfig, update_pair
from liqkit.domain.errors import ConfigError, UnknownPairError
from liqkit.domain.ratelimits import RateLimitRule
from liqkit.domain.rules import plain_decimal
from liqkit.engine.core import FEE_SCALE, SIZE_SKIPS, EngineCore
from liqkit.engine.events import BookEvent, Event, FillEvent, HealthEvent, OrderEvent, SnapshotEvent, TickerEvent
from liqkit.engine.intents import Place
from liqkit.engine.runner import EngineRunner
from liqkit.engine.state import purpose
from liqkit.engine.tape import MarketTape
from liqkit.engine.views import (
    Balance,
    EngineStatus,
    Fill,
    Filters,
    OrderView,
    PairPnl,
    PairView,
    PnlPoint,
    Quote,
    Snapshot,
    side_name,
)
from liqkit.preflight import Preflight, preflight
from liqkit.rateplan import RatePlan, plan

TICKER_HZ = 2.0
HEALTH_S = 1.0  # a "health" event (status and PnL) this often
PNL_HISTORY_S = 2.0  # the equity chart's history: a point per pair this often ...
PNL_HISTORY_POINTS = 900  # ... this many kept (30 minutes)
_OPEN_STATUSES = frozenset({"PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "UNKNOWN"})


@runtime_checkable
class EngineHandle(Protocol):
    """Run, stop, configure and watch an engine, wherever it lives."""

    async def run(self, symbol: str) -> PairView:
        """Start quoting a pair; its view."""
        ...

    async def stop(self, symbol: str) -> PairView:
        """Stop quoting a pair and cancel its orders; its view."""
        ...

    async def configure(self, symbol: str, changes: Mapping[str, Any]) -> PairView:
        """Apply config changes to a pair without stopping it (ConfigError names the field); its view."""
        ...

    async def preview(self, symbol: str, changes: Mapping[str, Any]) -> list[Quote]:
        """The quotes the pair would place now with these changes (nothing is applied)."""
        ...

    async def status(self) -> EngineStatus:
        """Engine state, venue, feed health per pair, rate-limit usage, decision latency."""
        ...

    async def pnl(self) -> dict[str, PairPnl]:
        """PnL per pair since it was last run."""
        ...

    async def snapshot(self) -> Snapshot:
        """Status, pairs, open orders, balances, recent fills and PnL."""
        ...

    async def preflight(self) -> Preflight:
        """The pre-flight table of every configured pair on the engine's venue, now (nothing is sent)."""
        ...

    def events(self) -> AsyncIterator[Event]:
        """A snapshot, then deltas."""
        ...


class LocalEngine:
    """``EngineHandle`` on an in-process ``EngineRunner``."""

    def __init__(
        self,
        runner: EngineRunner,
        recent_fills: int = 500,
        rate_limits: Callable[[], Sequence[RateLimitRule]] | None = None,
    ) -> None:
        """``rate_limits`` gives the venue's declared limits (exchangeInfo ``rateLimits``) once it is
        started (``liqkit.venues.ratelimit.declared_limits``); without it the rate plans have none."""
        self.runner = runner
        self.fills: deque[Fill] = deque(maxlen=recent_fills)
        self._capture: dict[str, Decimal] = {}  # the quotes' spread capture per pair, quote asset
        self._rb_cost: dict[str, Decimal] = {}  # the rebalance's spread paid and fees per pair, quote asset
        self._rb_fees: dict[str, Decimal] = {}  # of which fees
        self._rb_fills: dict[str, int] = {}
        self._order_times: dict[str, tuple[int, int]] = {}  # open orders: (placed, last update), ns
        self.history: dict[str, deque[PnlPoint]] = {}  # PnL per pair over time (the equity chart)
        self._history_next: dict[str, int] = {}
        self.rate_limits = rate_limits or (lambda: [])
        self.tape = MarketTape()  # recent tops per pair: the movement a pre-flight measures
        runner.listen(FillEvent, self._on_fill)
        runner.listen(BookEvent, self._on_book)
        runner.listen(OrderEvent, self._on_order)

    # ---- commands ---------------------------------------------------------------------------------
    def config_of(self, symbol: str) -> PairConfig:
        """The config of a configured pair (any case); UnknownPairError names the configured ones."""
        sym = symbol.upper()
        if sym not in self.runner.configs:
            known = ", ".join(sorted(self.runner.configs)) or "none"
            raise UnknownPairError(f"symbol: {symbol!r} is not a configured pair (configured: {known})")
        return self.runner.configs[sym]

    async def run(self, symbol: str) -> PairView:
        cfg = self.config_of(symbol)
        if self.runner.core.pair(cfg.symbol).state in ("stopped", "halted", "error"):  # PnL starts over
            for d in (self._capture, self._rb_cost, self._rb_fees):
                d.pop(cfg.symbol, None)
            self._rb_fills.pop(cfg.symbol, None)
            self.history.pop(cfg.symbol, None)
        await self.runner.run_pair(cfg.symbol)
        return self.pair_view(cfg.symbol)

    async def stop(self, symbol: str) -> PairView:
        cfg = self.config_of(symbol)
        await self.runner.stop_pair(cfg.symbol)
        return self.pair_view(cfg.symbol)

    async def configure(self, symbol: str, changes: Mapping[str, Any], source: str = "api") -> PairView:
        """Apply ``changes`` if ``trial`` accepts them (as ``preview`` does): a size the budget rule refuses,
        or one that could place no order at all (below the minimum order value), changes nothing."""
        new = update_pair(self.config_of(symbol), changes)
        self.trial(new)
        self.runner.configure(new, source)  # checked against the symbol's filters; on error nothing changes
        return self.pair_view(new.symbol)

    async def preview(self, symbol: str, changes: Mapping[str, Any]) -> list[Quote]:
        """The quotes ``trial`` finds the pair would place now with ``changes`` (nothing is applied)."""
        cfg = update_pair(self.config_of(symbol), changes)
        r = self.runner.core.pair(cfg.symbol).rules
        return [
            Quote(
                side=side_name(it.side),
                level=it.level,
                price=plain_decimal(r.price(it.price)),
                qty=plain_decimal(r.qty(it.qty)),
            )
            for it in self.trial(cfg)
        ]

    def trial(self, cfg: PairConfig) -> list[Place]:
        """The budget/explain rule ``configure`` and ``preview`` both apply to a new config: the budget rule
        (``liqkit.domain.budget``) at the current book and balances, then the same engine code on a scratch
        core, which must place an order unless only the money or the market stops it (a size below the
        symbol's minimum order value places nothing at any balance: ``ConfigError`` with the engine's reason).
        The orders it would place now (none before the pair has a book)."""
        live = self.runner.core.pair(cfg.symbol)
        mid = live.rules.price(live.bid + live.ask) / 2 if live.has_book else None
        try:
            check_budget(cfg, live.rules, mid, self.runner.core.balances)
        except BudgetError as e:
            raise BudgetError(f"pairs.{cfg.symbol}.{e}") from None
        scratch = EngineCore(self.runner.core.risk)
        scratch.add_pair(cfg, live.rules)
        scratch.on_balances(dict(self.runner.core.balances), 0)
        now = time.time_ns()
        scratch.run(cfg.symbol, now)
        if not live.has_book:
            return []
        places = [  # the quotes (a rebalancing order the config would send is not one)
            it
            for it in scratch.on_book(0, now, live.bid, live.bid_qty, live.ask, live.ask_qty)
            if isinstance(it, Place) and not scratch.orders[it.client_id].rebalance
        ]
        why = scratch.pair(cfg.symbol)
        if why.skip_kind in SIZE_SKIPS and not places:
            raise ConfigError(f"pairs.{cfg.symbol}.size = {cfg.size}: no order could be placed: {why.reason}")
        return places

    # ---- views ------------------------------------------------------------------------------------
    def pair_view(self, symbol: str) -> PairView:
        """One pair's state, config, market and position."""
        st = self.runner.core.pair(symbol)
        r = st.rules
        now = self.runner.clock()
        return PairView(
            symbol=st.symbol,
            base_asset=r.base_asset,
            quote_asset=r.quote_asset,
            state=st.state,
            reason=st.reason,
            config=st.cfg,
            bid=plain_decimal(r.price(st.bid)) if st.has_book else None,
            ask=plain_decimal(r.price(st.ask)) if st.has_book else None,
            feed_age_s=(now - st.last_book_ts) / 1e9 if st.has_book else None,
            open_orders=sum(1 for o in self.runner.core.orders.values() if o.pair == st.idx),
            position=plain_decimal(r.qty(st.pos)),
            fills=st.n_fills,
            filters=Filters(
                tick=plain_decimal(r.tick),
                step=plain_decimal(r.step),
                min_notional=plain_decimal(r.min_notional) if r.min_notional else None,
            ),
        )

    def pairs(self) -> dict[str, PairView]:
        """Every configured pair."""
        return {st.symbol: self.pair_view(st.symbol) for st in self.runner.core.pairs}

    def orders(self, symbol: str | None = None) -> list[OrderView]:
        """liqkit's working orders (of one pair, or all), by pair, side and level."""
        core = self.runner.core
        out = []
        for o in core.orders.values():
            if symbol and o.symbol != symbol.upper():
                continue
            r = core.pairs[o.pair].rules
            placed, updated = self._order_times.get(o.client_id, (None, None))
            out.append(
                OrderView(
                    client_id=o.client_id,
                    symbol=o.symbol,
                    side=side_name(o.side),
                    level=o.level,
                    price=plain_decimal(r.price(o.price)),
                    qty=plain_decimal(r.qty(o.qty)),
                    filled=plain_decimal(r.qty(o.filled)),
                    status=o.status,
                    purpose=purpose(o),  # type: ignore[arg-type]
                    placed_ts=placed,
                    updated_ts=updated,
                )
            )
        return sorted(out, key=lambda o: (o.symbol, o.side, o.level))

    def balances(self) -> dict[str, Balance]:
        """Balances per asset, as the engine last heard them."""
        return {
            a: Balance(free=plain_decimal(f), locked=plain_decimal(lk))
            for a, (f, lk) in sorted(self.runner.core.balances.items())
        }

    async def pnl(self) -> dict[str, PairPnl]:
        """Per pair since it was last run, marked at the mid: pnl = spread capture + inventory - fees
        - rebalance cost (``pnl_parts``)."""
        out = {}
        for st in self.runner.core.pairs:
            r = st.rules
            pnl, capture, inventory, fees, cost = self.pnl_parts(st.symbol)
            out[st.symbol] = PairPnl(
                pnl=float(pnl),
                spread_capture=float(capture),
                inventory_pnl=float(inventory),
                fees=float(fees),
                rebalance_cost=float(cost),
                rebalance_fills=self._rb_fills.get(st.symbol, 0),
                position=plain_decimal(r.qty(st.pos)),
                volume=float(st.volume * r.tick * r.step),
                fills=st.n_fills,
                quote_asset=r.quote_asset,
            )
        return out

    def pnl_parts(self, symbol: str) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """A pair's (pnl, spread capture, inventory, fees, rebalance cost) now, exact: the parts add up,
        pnl = capture + inventory - fees - cost. The quotes' fills give the spread capture and the fees; the
        rebalance's fills their spread paid against the mid at the fill plus their fees (the cost)."""
        st = self.runner.core.pair(symbol)
        unit = st.rules.tick * st.rules.step
        all_fees = Decimal(st.fee_nu) * unit / FEE_SCALE
        mid = Decimal(st.bid + st.ask) / 2 if st.has_book else Decimal(0)
        pnl = (Decimal(st.cash) + Decimal(st.pos) * mid) * unit - all_fees if st.has_book else Decimal(0)
        capture = self._capture.get(st.symbol, Decimal(0))
        cost = self._rb_cost.get(st.symbol, Decimal(0))
        fees = all_fees - self._rb_fees.get(st.symbol, Decimal(0))
        return pnl, capture, pnl + fees + cost - capture, fees, cost

    def pnl_history(self) -> dict[str, list[PnlPoint]]:
        """Each pair's PnL and its parts over the last minutes (a point every ``PNL_HISTORY_S``), oldest first."""
        return {sym: list(points) for sym, points in self.history.items()}

    def _record_pnl(self, symbol: str, ts: int) -> None:
        pnl, capture, inventory, fees, cost = self.pnl_parts(symbol)
        points = self.history.get(symbol)
        if points is None:
            points = self.history[symbol] = deque(maxlen=PNL_HISTORY_POINTS)
        points.append(
            PnlPoint(
                ts=ts,
                pnl=float(pnl),
                spread_capture=float(capture),
                inventory_pnl=float(inventory),
                fees=float(fees),
                rebalance_cost=float(cost),
            )
        )

    def _rate_usage(self) -> dict[str, dict[str, int]]:
        rate = getattr(self.runner.venue, "rate_usage", None)
        return rate() if callable(rate) else {}

    async def status(self) -> EngineStatus:
        """The runner's status with the venue's rate-limit usage, the rate plan and the decision latency."""
        usage = self._rate_usage()
        return EngineStatus.model_validate(
            {
                **self.runner.status(),
                "rate_limits": usage,
                "latency_us": self.runner.latency_stats(),
                "rate_plan": self.rate_plan(usage),
            }
        )

    def rate_plan(self, usage: Mapping[str, Mapping[str, int]] | None = None) -> RatePlan:
        """The rate-limit plan of the engine's orders over the last minutes (``liqkit.rateplan``), with the
        usage the venue reports (``usage``: per header, as ``rate_usage`` gives it)."""
        usage = self._rate_usage() if usage is None else usage
        rules = list(self.rate_limits())
        used = {r.label: int(usage[r.header]["used"]) for r in rules if r.header in usage}
        count = self.runner.order_count
        flow = count.flow(self.runner.clock())
        source = (
            f"the engine's orders over the last {flow.span_s:,.0f} s ({len(flow.orders):,} new orders, "
            f"{len(flow.requests) - len(flow.orders):,} cancels; {count.placed:,} orders since it started)"
        )
        return plan(rules, [flow], source, used, time.time_ns())

    async def preflight(self) -> Preflight:
        """The pre-flight table (``liqkit.preflight``) of every configured pair as it would start now: the
        venue's rules, the balances (what liqkit's own open orders hold counts as free), the current book
        and the movement of the last minutes; the rate plan of the engine's own orders as ``observed``.
        The inputs are read here, the table computed in a worker thread (the engine's loop keeps going)."""
        core = self.runner.core
        rules = {st.symbol: st.rules for st in core.pairs}
        seen = f"{self.runner.venue.name}'s book as the engine saw it"
        markets = {st.symbol: self.tape.sample(st.symbol, st.bid, st.ask, seen) for st in core.pairs if st.has_book}
        configs = [self.runner.configs[st.symbol] for st in core.pairs]
        limits = list(self.rate_limits())
        balances = self._balances_without_own_orders()
        report = await asyncio.to_thread(
            preflight, configs, rules, balances, markets, limits, self.runner.venue.name, core.risk.max_loss
        )
        return report.model_copy(update={"observed": self.rate_plan()})

    def _balances_without_own_orders(self) -> dict[str, tuple[Decimal, Decimal]]:
        """The engine's balances with what liqkit's open orders lock counted as free (a fresh start's view)."""
        core = self.runner.core
        out = dict(core.balances)
        held: list[tuple[str, Decimal]] = []
        for o in core.orders.values():
            if o.exit_list:  # an exit's legs share what their list holds: counted once, below
                continue
            r = core.pairs[o.pair].rules
            left = r.qty(max(0, o.qty - o.filled))
            held.append((r.quote_asset, left * r.price(o.price)) if o.side > 0 else (r.base_asset, left))
        for st in core.pairs:
            x, r = st.exit, st.rules
            if x is not None:
                held.append((r.quote_asset, x.held * r.tick * r.step) if x.side > 0 else (r.base_asset, r.qty(x.held)))
        for asset, amount in held:
            free, locked = out.get(asset, (Decimal(0), Decimal(0)))
            moved = min(amount, locked)
            out[asset] = (free + moved, locked - moved)
        return out

    async def snapshot(self) -> Snapshot:
        return Snapshot(
            status=await self.status(),
            pairs=self.pairs(),
            orders=self.orders(),
            balances=self.balances(),
            fills=list(self.fills),
            pnl=await self.pnl(),
            pnl_history=self.pnl_history(),
        )

    # ---- events -----------------------------------------------------------------------------------
    def _on_book(self, ev: BookEvent) -> None:
        self.tape.add(ev.symbol, ev.ts, ev.bid, ev.ask)
        if ev.ts >= self._history_next.get(ev.symbol, 0):  # the equity chart's point, every PNL_HISTORY_S
            self._history_next[ev.symbol] = ev.ts + int(PNL_HISTORY_S * 1e9)
            if self.runner.core.pair(ev.symbol).state != "stopped" or ev.symbol in self.history:
                self._record_pnl(ev.symbol, ev.ts)

    def _on_order(self, ev: OrderEvent) -> None:
        """Keep each open order's times: when it was placed, and its last change."""
        if ev.status not in _OPEN_STATUSES:
            self._order_times.pop(ev.client_id, None)
            return
        placed = self._order_times.get(ev.client_id)
        self._order_times[ev.client_id] = (placed[0] if placed is not None else ev.ts, ev.ts)

    def _on_fill(self, ev: FillEvent) -> None:
        """Keep the recent fills, and the spread each captured against the mid at the time."""
        self.fills.append(
            Fill(
                ts=ev.ts,
                symbol=ev.symbol,
                client_id=ev.client_id,
                side=ev.side,
                price=ev.price,
                qty=ev.qty,
                fee=ev.fee,
                fee_asset=ev.fee_asset,
                maker=ev.maker,
                mid=ev.mid,
                purpose=ev.purpose,  # type: ignore[arg-type]
            )
        )
        sym = ev.symbol
        edge = Decimal(0)
        if ev.mid is not None:
            mid, px, q = Decimal(ev.mid), Decimal(ev.price), Decimal(ev.qty)
            edge = ((mid - px) if ev.side == "BUY" else (px - mid)) * q
        if ev.purpose == "rebalance":
            fee = Decimal(ev.fee) if ev.fee_asset == self.runner.core.pair(sym).rules.quote_asset else Decimal(0)
            self._rb_fills[sym] = self._rb_fills.get(sym, 0) + 1
            self._rb_fees[sym] = self._rb_fees.get(sym, Decimal(0)) + fee
            self._rb_cost[sym] = self._rb_cost.get(sym, Decimal(0)) + fee - edge
        else:
            self._capture[sym] = self._capture.get(sym, Decimal(0)) + edge

    def _ticker(self, ev: BookEvent) -> TickerEvent:
        st = self.runner.core.pair(ev.symbol)
        r = st.rules
        bid, ask = r.price(ev.bid), r.price(ev.ask)
        mid = (bid + ask) / 2
        bb = [o for o in st.bids if o is not None]
        aa = [o for o in st.asks if o is not None]
        our_bid = r.price(max(o.price for o in bb)) if bb else None
        our_ask = r.price(min(o.price for o in aa)) if aa else None
        return TickerEvent(
            symbol=st.symbol,
            ts=ev.ts,
            bid=plain_decimal(bid),
            ask=plain_decimal(ask),
            spread_bps=float((ask - bid) / mid * 10_000) if mid else None,
            our_bid=plain_decimal(our_bid) if our_bid is not None else None,
            our_ask=plain_decimal(our_ask) if our_ask is not None else None,
            our_spread_bps=float((our_ask - our_bid) / mid * 10_000) if our_bid and our_ask and mid else None,
            position=plain_decimal(r.qty(st.pos)),
            state=st.state,
        )

    async def events(self) -> AsyncIterator[Event]:  # type: ignore[override]
        q = self.runner.subscribe(book_backlog=1_000)
        try:
            yield SnapshotEvent(await self.snapshot())
            period = 1.0 / TICKER_HZ
            pending: dict[str, BookEvent] = {}
            last: dict[str, float] = {}
            loop = asyncio.get_running_loop()
            next_health = loop.time() + HEALTH_S
            while True:
                due = min([next_health, *(last.get(s, 0.0) + period for s in pending)])
                try:
                    async with asyncio.timeout(max(0.0, due - loop.time())):  # no task per event
                        ev = await q.get()
                except TimeoutError:
                    ev = None
                now = loop.time()
                if isinstance(ev, BookEvent):
                    pending[ev.symbol] = ev
                elif ev is not None:
                    yield ev
                for sym in [s for s in pending if now - last.get(s, 0.0) >= period]:
                    last[sym] = now
                    yield self._ticker(pending.pop(sym))
                if now >= next_health:
                    next_health = now + HEALTH_S
                    yield HealthEvent(ts=time.time_ns(), status=await self.status(), pnl=await self.pnl())
        finally:
            self.runner.unsubscribe(q)
