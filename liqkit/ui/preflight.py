"""``PreflightPanel``: the pre-flight table of every pair (``EngineHandle.preflight``): each level's price,
size and value after rounding, what the engine would send, what the balances fund, the order rate the
refresh tolerance implies, every reason a quote would be refused, and the rate-limit plan.

It asks the engine on connection, when Refresh is clicked, soon after a config changes (``config_delay_s``)
and, while the balances change, at most every ``balances_every_s`` (the engine computes it in a worker
thread without sending anything, but it is not free: its order rate walks the recent market).
"""

from __future__ import annotations

import html
import time
from collections.abc import Hashable
from typing import Any

import ipywidgets as W

from liqkit.engine.events import BalanceEvent, ConfigEvent, Event
from liqkit.engine.handle import EngineHandle
from liqkit.engine.views import Snapshot
from liqkit.preflight import Preflight, Refusal
from liqkit.ui.base import Panel
from liqkit.ui.health import plan_html
from liqkit.ui.rows import KeyedRows
from liqkit.ui.tasks import describe, spawn


class PreflightPanel(Panel):
    """The pre-flight table of ``handle``'s pairs, refreshed on demand and when configs or balances change."""

    def __init__(self, handle: EngineHandle, config_delay_s: float = 1.0, balances_every_s: float = 60.0) -> None:
        self.handle = handle
        self.config_delay_s = config_delay_s
        self.balances_every_s = balances_every_s
        self.report: Preflight | None = None
        self.fetches = 0  # answers received (tests wait on it)
        self.last_error = ""
        self._due_at: float | None = None  # when to ask next (monotonic seconds); None: nothing asks for it
        self._busy = False
        self._last = 0.0  # when it last asked
        self.summary = W.HTML()
        self.summary.add_class("lq-preflight-summary")
        self.refresh = W.Button(description="Refresh", layout=W.Layout(width="90px"))
        self.refresh.add_class("lq-preflight-refresh")
        self.refresh.on_click(self._clicked)
        self.table = KeyedRows(
            ["pair", "side", "level", "price", "qty", "value", "sent", "refused"],
            "70px 40px 40px 90px 80px 80px 80px 1fr",
            sort_key=lambda k, _: k,  # type: ignore[return-value]
            empty_text="asking the engine...",
            css_class="lq-preflight",
        )
        self.funding = W.HTML()
        self.funding.add_class("lq-preflight-funding")
        self.refusals = W.HTML()
        self.refusals.add_class("lq-preflight-refusals")
        self.plan = W.HTML()
        self.widget = W.VBox(
            [W.HBox([self.summary, self.refresh], layout=W.Layout(align_items="center", grid_gap="8px")),
             self.table.box, self.funding, self.refusals, self.plan]
        )  # fmt: skip
        self.widget.add_class("lq-preflight-panel")

    # ---- input ----------------------------------------------------------------------------------------
    def _ask_at(self, t: float) -> None:
        self._due_at = t if self._due_at is None else min(self._due_at, t)

    def on_snapshot(self, snap: Snapshot) -> None:
        self._ask_at(time.monotonic())  # a new connection: at once

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, ConfigEvent):
            self._ask_at(time.monotonic() + self.config_delay_s)
        elif isinstance(ev, BalanceEvent):
            self._ask_at(self._last + self.balances_every_s)

    def _clicked(self, _: Any) -> None:
        self._ask_at(time.monotonic())

    def flush(self) -> None:
        now = time.monotonic()
        if self._due_at is not None and now >= self._due_at and not self._busy:
            self._due_at, self._busy, self._last = None, True, now
            spawn(self.fetch(), self._failed, name="liqkit-ui-preflight")
        self.table.apply()

    async def fetch(self) -> Preflight:
        """Ask the engine for its pre-flight table and show it."""
        try:
            report = await self.handle.preflight()
        finally:
            self._busy = False
        self.show(report)
        return report

    def _failed(self, e: BaseException) -> None:
        self.last_error = describe(e)
        text = html.escape(self.last_error)
        self.summary.value = f'<span style="font-size:12px;color:#cf222e">pre-flight: {text}</span>'

    # ---- output ---------------------------------------------------------------------------------------
    def show(self, report: Preflight) -> None:
        """Put ``report`` on the widgets (its rows at the next ``flush``)."""
        self.report = report
        self.fetches += 1
        self.last_error = ""
        keys: set[Hashable] = set()
        funding: list[str] = []
        why: list[tuple[str, str, Refusal]] = []
        for sym, p in report.pairs.items():
            for c in p.quotes:
                key = (sym, 0 if c.side == "BUY" else 1, c.level)
                keys.add(key)
                sent = "yes" if c.funded and not c.refusals else (c.placed_qty if c.placed_qty != "0" else "no")
                codes = ", ".join(dict.fromkeys(w.code for w in c.refusals))
                style = "color:#cf222e" if c.refusals else ""
                qty = f"{c.qty} (shows {c.iceberg_qty}, {c.iceberg_parts} parts)" if c.iceberg_qty else c.qty
                self.table.upsert(key, [sym, c.side, c.level, c.price, qty, c.notional, sent, codes or "-"], style)
            for s in (p.bids, p.asks):
                if s is not None:
                    side = "bids" if s.side == "BUY" else "asks"
                    funding.append(
                        f"{html.escape(sym)} {side}: {s.funded} of {s.levels} levels funded "
                        f"({html.escape(s.available)} {html.escape(s.asset)} pays for {s.fundable:,})"
                    )
            if p.rate is not None:
                r = p.rate
                funding.append(
                    f"{html.escape(sym)} rate: {r.orders_per_min:,.1f} orders/min, busiest 10 s {r.busiest_10s}, "
                    f"{r.orders_per_day:,}/day ({r.sample_s:,.0f} s of {html.escape(r.source)})"
                )
            for w in p.refusals:
                why.append((sym, "", w))
            for c in p.quotes:
                why += [(sym, f"{c.side} {c.level} ", w) for w in c.refusals]
        for old in self.table.row_keys():
            if old not in keys:
                self.table.remove(old)
        self.table.empty.value = '<div style="font-size:12px;color:#888">no pairs</div>'
        self.funding.value = '<div style="font-size:12px">' + "<br>".join(funding) + "</div>"
        self.refusals.value = (
            '<div style="font-size:12px;color:#cf222e">'
            + "<br>".join(
                f"{html.escape(s)} {html.escape(where)}{html.escape(w.code)}: {html.escape(w.message)} "
                f"[{html.escape(w.field)}]"
                for s, where, w in why
            )
            + "</div>"
            if why
            else '<div style="font-size:12px;color:#1a7f37">no quote would be refused</div>'
        )
        self.plan.value = plan_html(report.rate_plan, "lq-preflight-plan")
        verdict = "ok: every quote goes out as configured" if report.ok else "not ok: see below"
        color = "#1a7f37" if report.ok else "#cf222e"
        self.summary.value = (
            f'<span style="font-size:12px">on <b>{html.escape(report.venue)}</b>, nothing sent · '
            f'<b class="lq-preflight-verdict" style="color:{color}">{verdict}</b></span>'
        )

    def close(self) -> None:
        self.table.close()
        super().close()
