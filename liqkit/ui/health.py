"""``HealthPanel``: engine and feed health: state, venue, connection, feed age per pair, reconnects,
rate-limit usage and the latest errors."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as W

from liqkit.ui.base import Panel
from liqkit.ui.rows import KeyedRows


class HealthPanel(Panel):
    """Engine status (polled) and per-pair feed age (polled, and from the last ticker received)."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
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
        self.widget = W.VBox([self.summary, self.pairs.box, self.errors])
        self._dirty = False

    def on_status(self, status: dict[str, Any]) -> None:
        self.status = status
        self._dirty = True

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("kind") == "ticker":
            self.last_ticker[ev["symbol"]] = time.monotonic()

    def flush(self) -> None:
        s = self.status
        if not s:
            return
        if self._dirty:
            self._dirty = False
            rates = s.get("rate_limits") or {}
            rate = (
                ", ".join(
                    f"{html.escape(h)} {u.get('used', 0)}/{u.get('limit', 0)} "
                    f"({100 * u.get('used', 0) / max(1, u.get('limit', 1)):.0f} %)"
                    for h, u in rates.items()
                )
                or "not reported by this venue"
            )
            lat = s.get("latency_us") or {}
            self.summary.value = (
                f'<div style="font-size:12px">engine <b>{html.escape(str(s.get("state")))}</b> on '
                f"<b>{html.escape(str(s.get('venue')))}</b> · {s.get('events', 0):,} events · "
                f"{s.get('reconnects', 0)} reconnects · rate limits: {rate}"
                + (f" · decision p50 {lat.get('p50_us', 0):.1f} µs" if lat.get("n") else "")
                + "</div>"
            )
            errs = s.get("errors") or []
            self.errors.value = (
                '<div style="font-size:12px;color:#cf222e">' + "<br>".join(html.escape(e) for e in errs[-5:]) + "</div>"
                if errs
                else '<div style="font-size:12px;color:#57606a">no errors</div>'
            )
        now = time.monotonic()
        for sym, p in (s.get("pairs") or {}).items():
            age = p.get("feed_age_s")
            seen = self.last_ticker.get(sym)
            self.pairs.upsert(
                sym,
                [sym, p.get("state", ""), f"{age:.1f} s" if age is not None else "no feed",
                 f"{now - seen:.0f} s ago" if seen is not None else "-", p.get("open_orders", 0), p.get("fills", 0)],
                "color:#cf222e" if age is None or age > 5 else "",
            )  # fmt: skip
        self.pairs.apply()
