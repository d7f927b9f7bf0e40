"""``EventStream``: the panels' event loop, an asyncio task on the kernel's running loop.

It consumes ``handle.events()`` (a snapshot, then deltas), hands each event to every panel, calls the
panels' ``flush`` at most twice a second, polls the health and PnL views every ``poll_s`` seconds, and
reconnects with backoff when the stream ends or fails (a new snapshot resets the panels). A failing
panel never stops the stream: its error is counted and shown on the connection line.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import ipywidgets as W

from liqkit.engine.events import Event, FillEvent, HealthEvent, SnapshotEvent
from liqkit.engine.handle import EngineHandle
from liqkit.ui.base import FLUSH_HZ, Panel
from liqkit.ui.tasks import describe, spawn

_COLORS = {"live": "#1a7f37", "connecting": "#9a6700", "paused": "#57606a", "disconnected": "#cf222e"}


class EventStream:
    """Feed ``panels`` from ``handle`` until ``stop``; reconnect by itself."""

    def __init__(
        self,
        handle: EngineHandle,
        panels: Iterable[Panel] = (),
        poll_s: float = 2.0,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.handle = handle
        self.panels: list[Panel] = list(panels)
        self.poll_s = poll_s
        self.backoff_max_s = backoff_max_s
        self.state = "connecting"
        self.detail = ""
        self.connections = 0  # snapshots received: 1 + reconnections
        self.events = 0
        self.errors: deque[str] = deque(maxlen=20)
        self.widget = W.HTML()
        self.widget.add_class("lq-conn")
        self._consumer: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_poll = 0.0
        self._polling = False
        self._poll_soon = False  # a fill came in: PnL changed
        self._show()

    # ---- lifecycle --------------------------------------------------------------------------------
    def start(self) -> EventStream:
        """Start consuming (on the running loop: a kernel's, or the caller's)."""
        if self._consumer is None or self._consumer.done():
            self._consumer = spawn(self._consume(), self._crashed, name="liqkit-ui-events")
        if self._ticker is None or self._ticker.done():
            self._ticker = spawn(self._tick(), self._crashed, name="liqkit-ui-flush")
        return self

    def pause(self, why: str = "no browser attached") -> None:
        """Stop consuming (the service keeps trading); ``start`` resumes from a new snapshot."""
        for t in (self._consumer, self._ticker):
            if t is not None:
                t.cancel()
        self._consumer = self._ticker = None
        self._set("paused", why)

    def stop(self) -> None:
        """Stop for good."""
        self.pause("stopped")

    @property
    def running(self) -> bool:
        """Whether the consumer task is alive."""
        return self._consumer is not None and not self._consumer.done()

    # ---- the loops --------------------------------------------------------------------------------
    async def _consume(self) -> None:
        backoff = 0.5
        while True:
            self._set("connecting", getattr(self.handle, "url", "") or "")
            try:
                async for ev in self.handle.events():
                    self._dispatch(ev)
                    if isinstance(ev, SnapshotEvent):
                        backoff = 0.5
                raise ConnectionError("the service closed the event stream")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._set("disconnected", f"{describe(e)}; retrying in {backoff:g}s")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)

    async def _tick(self) -> None:
        period = 1.0 / FLUSH_HZ
        while True:
            await asyncio.sleep(period)
            self.flush()
            now = time.monotonic()
            due = now - self._last_poll >= (0.5 if self._poll_soon else self.poll_s)
            if self.state == "live" and not self._polling and due:
                self._poll_soon = False
                self._last_poll = now
                spawn(self.poll(), self._poll_failed, name="liqkit-ui-poll")

    async def poll(self) -> None:
        """Read the health and PnL views once and hand them to the panels."""
        self._polling = True
        try:
            status, pnl = await asyncio.gather(self.handle.status(), self.handle.pnl())
        finally:
            self._polling = False
        self._each("on_status", status)
        self._each("on_pnl", pnl)

    def flush(self) -> None:
        """Have every panel send what changed."""
        for p in self.panels:
            try:
                p.flush()
            except Exception as e:
                self._panel_failed(p, e)

    # ---- dispatch ---------------------------------------------------------------------------------
    def _dispatch(self, ev: Event) -> None:
        if isinstance(ev, SnapshotEvent):
            self.connections += 1
            self._each("on_snapshot", ev.snapshot)
            self._set("live", getattr(self.handle, "url", "") or "")
            self._each("on_status", ev.snapshot.status)
            self._each("on_pnl", ev.snapshot.pnl)
            self.flush()
            return
        self.events += 1
        if isinstance(ev, HealthEvent):  # the engine sends its status and PnL: no need to poll them
            self._last_poll = time.monotonic()
            self._poll_soon = False
            self._each("on_status", ev.status)
            self._each("on_pnl", ev.pnl)
            return
        if isinstance(ev, FillEvent):
            self._poll_soon = True
        self._each("on_event", ev)

    def _each(self, method: str, arg: Any) -> None:
        for p in self.panels:
            try:
                getattr(p, method)(arg)
            except Exception as e:
                self._panel_failed(p, e)

    def _panel_failed(self, p: Panel, e: BaseException) -> None:
        self.errors.append(f"{type(p).__name__}: {type(e).__name__}: {e}")
        self._show()

    def _poll_failed(self, e: BaseException) -> None:
        self.errors.append(f"poll: {describe(e)}")
        self._show()

    def _crashed(self, e: BaseException) -> None:
        self.errors.append(f"event loop stopped: {type(e).__name__}: {e}")
        self._set("disconnected", f"event loop stopped: {describe(e)}")

    def _set(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self._show()

    def _show(self) -> None:
        color = _COLORS.get(self.state, "#57606a")
        err = f' · <span style="color:#cf222e">{html.escape(self.errors[-1])}</span>' if self.errors else ""
        self.widget.value = (
            f'<span style="font-size:12px"><b style="color:{color}" class="lq-conn-state">{self.state}</b> '
            f"{html.escape(self.detail)}{err}</span>"
        )
