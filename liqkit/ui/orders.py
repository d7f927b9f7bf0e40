"""``OrdersTable``: liqkit's open orders, one row widget per order, updated incrementally: price and
quantities with their assets, what the order is for (a quote, or the active rebalance), when it was
placed and when it last changed (UTC).

Order events (placed, accepted, cancelled, filled) only record the order's latest state; ``flush``
applies the net change: an order placed and cancelled between two flushes never reaches the browser,
a changed order re-sends its own row, a finished order's row goes back to the pool.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from liqkit.engine.events import Event, FillEvent, OrderEvent
from liqkit.engine.views import OrderView, Snapshot
from liqkit.ui.base import Panel
from liqkit.ui.fmt import clock, with_unit
from liqkit.ui.rows import KeyedRows

OPEN = {"PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "UNKNOWN"}
SIDE_STYLE = {"BUY": "color:#1a7f37", "SELL": "color:#cf222e"}


def _sort(key: Hashable, cells: Sequence[Any]) -> tuple[str, int, float]:
    symbol, side, price = cells[0], cells[1], cells[2]
    try:
        p = float(str(price).split(" ")[0])  # "60000.01 USDT"
    except ValueError:
        p = 0.0
    return (symbol, 0 if side == "SELL" else 1, -p)  # like a book: asks above bids, prices falling


class OrdersTable(Panel):
    """Open orders of every pair (or of ``symbol`` only)."""

    def __init__(self, symbol: str | None = None) -> None:
        self.symbol = symbol.upper() if symbol else None
        self.orders: dict[str, OrderView] = {}
        self.assets: dict[str, tuple[str, str]] = {}  # symbol -> (base, quote), from the snapshot's pairs
        self.table = KeyedRows(
            ["pair", "side", "price", "qty", "filled", "status", "for", "placed", "updated", "client id"],
            "76px 40px 120px 100px 100px 120px 70px 62px 62px 1fr",
            sort_key=_sort,
            empty_text="no open orders",
            css_class="lq-orders",
        )
        self.widget = self.table.box

    def _mine(self, symbol: str | None) -> bool:
        return self.symbol is None or symbol == self.symbol

    def _show(self, o: OrderView) -> None:
        self.orders[o.client_id] = o
        base, quote = self.assets.get(o.symbol, ("", ""))
        cells = [
            o.symbol,
            o.side,
            with_unit(o.price, quote),
            with_unit(o.qty, base),
            with_unit(o.filled, base),
            o.status,
            o.purpose,
            clock(o.placed_ts),
            clock(o.updated_ts),
            o.client_id,
        ]
        self.table.upsert(o.client_id, cells, SIDE_STYLE.get(o.side, ""))

    def on_snapshot(self, snap: Snapshot) -> None:
        self.assets = {s: (p.base_asset, p.quote_asset) for s, p in snap.pairs.items()}
        self.table.clear()
        self.orders = {}
        for o in snap.orders:
            if self._mine(o.symbol) and o.status in OPEN:
                self._show(o)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, FillEvent) and self._mine(ev.symbol):
            o = self.orders.get(ev.client_id)
            if o is not None:  # the fills seen add up: an order event before its fill event keeps ``filled``
                try:
                    filled = str(Decimal(o.filled or "0") + Decimal(ev.qty))
                except InvalidOperation:
                    return
                self._show(o.model_copy(update={"filled": filled, "updated_ts": ev.ts}))
        elif isinstance(ev, OrderEvent) and self._mine(ev.symbol):
            if ev.status not in OPEN:
                if self.orders.pop(ev.client_id, None) is not None:
                    self.table.remove(ev.client_id)
                return
            known = self.orders.get(ev.client_id)
            placed = known.placed_ts if known is not None and known.placed_ts else ev.ts
            self._show(
                OrderView(
                    client_id=ev.client_id,
                    symbol=ev.symbol,
                    side=ev.side,
                    level=ev.level,
                    price=ev.price,
                    qty=ev.qty,
                    filled=known.filled if known is not None else "0",
                    status=ev.status,
                    purpose=ev.purpose,  # type: ignore[arg-type]
                    placed_ts=placed,
                    updated_ts=ev.ts,
                )
            )

    def flush(self) -> None:
        self.table.apply()
