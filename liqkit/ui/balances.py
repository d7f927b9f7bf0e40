"""``BalancesPanel``: free and locked balance per asset, live from the user stream's balance events, each
amount with its asset."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from liqkit.engine.events import BalanceEvent, Event
from liqkit.engine.views import Snapshot
from liqkit.ui.base import Panel
from liqkit.ui.fmt import dec, with_unit
from liqkit.ui.rows import KeyedRows


def _d(v: str) -> Decimal:
    try:
        return Decimal(v)
    except InvalidOperation:
        return Decimal(0)


class BalancesPanel(Panel):
    """One row per asset: free, locked, total and the change since the dashboard connected."""

    def __init__(self) -> None:
        self.balances: dict[str, tuple[Decimal, Decimal]] = {}
        self.first: dict[str, Decimal] = {}
        self.table = KeyedRows(
            ["asset", "free", "locked", "total", "change"],
            "48px 140px 118px 140px 1fr",
            sort_key=lambda k, _: str(k),
            empty_text="no balances yet",
            css_class="lq-balances",
        )
        self.widget = self.table.box

    def _set(self, asset: str, free: str, locked: str) -> None:
        f, lk = _d(free), _d(locked)
        self.balances[asset] = (f, lk)
        total = f + lk
        first = self.first.setdefault(asset, total)
        change = total - first
        shown = f"{'+' if change > 0 else ''}{dec(format(change, 'f'))} {asset}" if change else f"0 {asset}"
        cells = [asset, with_unit(free, asset), with_unit(locked, asset), with_unit(format(total, "f"), asset), shown]
        self.table.upsert(asset, cells)

    def on_snapshot(self, snap: Snapshot) -> None:
        for asset, b in snap.balances.items():
            self._set(asset, b.free, b.locked)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, BalanceEvent):
            for asset, b in ev.balances.items():
                self._set(asset, b.free, b.locked)

    def flush(self) -> None:
        self.table.apply()
