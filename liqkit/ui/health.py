"""``HealthPanel``: engine and feed health: state, venue, connection, feed age per pair, reconnects,
rate-limit usage, the rate-limit plan of the engine's recent orders (``liqkit.rateplan``: the orders
predicted per window against the venue's declared limits, warnings from 80 %) and the latest errors."""

from __future__ import annotations

import html
import time

import ipywidgets as W

from liqkit.engine.events import Event, TickerEvent
from liqkit.engine.views import EngineStatus
from liqkit.rateplan import RatePlan
from liqkit.ui.base import Panel
from liqkit.ui.rows import KeyedRows

_LEVEL_COLOR = {"ok": "#1a7f37", "warning": "#9a6700", "over": "#cf222e"}


def plan_html(plan: RatePlan, css_class: str) -> str:
    """A rate plan as a small HTML block: one line per declared limit, then its warnings (in red)."""
    if not plan.limits:
        return f'<div class="{css_class}" style="font-size:12px;color:#57606a">the venue declares no rate limits</div>'
    lines = [
        f'<span style="color:{_LEVEL_COLOR[lp.level]}">{html.escape(lp.limit)}: {lp.predicted:,} of {lp.allowed:,} '
        f"({lp.share:.0%}) {lp.level}</span>"
        for lp in plan.limits
    ]
    warns = [f'<span class="lq-rate-warning" style="color:#cf222e">⚠ {html.escape(w)}</span>' for w in plan.warnings]
    head = f'<span style="color:#57606a">rate plan, from {html.escape(plan.source)}:</span>'
    return f'<div class="{css_class}" style="font-size:12px">' + "<br>".join([head, *lines, *warns]) + "</div>"


class HealthPanel(Panel):
    """Engine status (polled) and per-pair feed age (polled, and from the last ticker received)."""

    def __init__(self) -> None:
        self.status: EngineStatus | None = None
        self.last_ticker: dict[str, float] = {}  # symbol -> monotonic time the kernel got its last ticker
        self.summary = W.HTML()
        self.summary.add_class("lq-health")
        self.pairs = KeyedRows(
            ["pair", "state", "feed age", "last ticker", "orders", "fills"],
            "80px 80px 80px 90px 60px 1fr",
            sort_key=lambda k, _: str(k),
            empty_text="no pairs",
            css_class="lq-health-pairs",
        )
        self.errors = W.HTML()
        self.errors.add_class("lq-errors")
        self.plan = W.HTML()
        self.widget = W.VBox([self.summary, self.plan, self.pairs.box, self.errors])
        self._dirty = False

    def on_status(self, status: EngineStatus) -> None:
        self.status = status
        self._dirty = True

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, TickerEvent):
            self.last_ticker[ev.symbol] = time.monotonic()

    def flush(self) -> None:
        s = self.status
        if s is None:
            return
        if self._dirty:
            self._dirty = False
            rate = (
                ", ".join(
                    f"{html.escape(h)} {u.used}/{u.limit} ({100 * u.used / max(1, u.limit):.0f} %)"
                    for h, u in s.rate_limits.items()
                )
                or "not reported by this venue"
            )
            lat = s.latency_us
            self.summary.value = (
                f'<div style="font-size:12px">engine <b>{html.escape(s.state)}</b> on '
                f"<b>{html.escape(s.venue)}</b> · {s.events:,} events · "
                f"{s.reconnects} reconnects · rate limits: {rate}"
                + (f" · decision p50 {lat.p50_us:.1f} µs, p99 {lat.p99_us:.1f} µs" if lat.n else "")
                + "</div>"
            )
            self.plan.value = plan_html(s.rate_plan, "lq-rate-plan") if s.rate_plan is not None else ""
            errs = s.errors
            self.errors.value = (
                '<div style="font-size:12px;color:#cf222e">' + "<br>".join(html.escape(e) for e in errs[-5:]) + "</div>"
                if errs
                else '<div style="font-size:12px;color:#57606a">no errors</div>'
            )
        now = time.monotonic()
        for sym, p in s.pairs.items():
            age = p.feed_age_s
            seen = self.last_ticker.get(sym)
            self.pairs.upsert(
                sym,
                [sym, p.state, f"{age:.1f} s" if age is not None else "no feed",
                 f"{now - seen:.0f} s ago" if seen is not None else "-", p.open_orders, p.fills],
                "color:#cf222e" if age is None or age > 5 else "",
            )  # fmt: skip
        self.pairs.apply()
