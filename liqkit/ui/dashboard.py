"""``Dashboard``: every panel, for every configured pair, on one event stream that reconnects by itself.

    dash = Dashboard.from_state_dir("liqkit-state")   # or Dashboard(handle) for any EngineHandle
    dash                                              # display it (Voila: the operations notebook)

Pair panels are created from the snapshot, so pairs appear as soon as the service answers (and a
service restarted with other pairs shows them). One chart follows the selected pair tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from pathlib import Path
from typing import Any

import ipywidgets as W

from liqkit.engine.events import ConfigEvent, Event, StateEvent, TickerEvent
from liqkit.engine.handle import EngineHandle
from liqkit.engine.views import Snapshot
from liqkit.ui.balances import BalancesPanel
from liqkit.ui.base import Panel
from liqkit.ui.chart import MarketChart
from liqkit.ui.connection import ServiceConnection
from liqkit.ui.fills import FillsPanel
from liqkit.ui.health import HealthPanel
from liqkit.ui.orders import OrdersTable
from liqkit.ui.pair import PairPanel
from liqkit.ui.preflight import PreflightPanel
from liqkit.ui.presence import Presence
from liqkit.ui.stream import EventStream
from liqkit.ui.tasks import spawn

ABSENT_GRACE_S = 60.0


def _box(title: str, body: W.Widget, width: str) -> W.VBox:
    return W.VBox(
        [W.HTML(f"<b>{html.escape(title)}</b>"), body],
        layout=W.Layout(width=width, border="1px solid #d0d7de", padding="6px", margin="4px"),
    )


class _Pairs(Panel):
    """Creates a ``PairPanel`` per configured pair (from snapshots) in the dashboard's tabs."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.panels: dict[str, PairPanel] = {}
        self.widget = W.Tab()
        self.widget.add_class("lq-pairs")
        self.widget.observe(self._selected, "selected_index")

    def on_snapshot(self, snap: Snapshot) -> None:
        views = snap.pairs
        new = [s for s in views if s not in self.panels]
        for sym in new:
            self.panels[sym] = PairPanel(self.dash.handle, sym, views[sym])
        for p in self.panels.values():
            p.on_snapshot(snap)
        if new:
            self.widget.children = [p.widget for p in self.panels.values()]
            self.widget.titles = list(self.panels)
            if self.widget.selected_index is None:
                self.widget.selected_index = 0
            self.dash.chart.show(self.selected)

    @property
    def selected(self) -> str:
        """The symbol of the selected tab."""
        i = self.widget.selected_index
        names = list(self.panels)
        return names[i] if i is not None and i < len(names) else ""

    def _selected(self, _: Any) -> None:
        if self.selected:
            self.dash.chart.show(self.selected)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, (TickerEvent, StateEvent, ConfigEvent)) and ev.symbol in self.panels:
            self.panels[ev.symbol].on_event(ev)

    def flush(self) -> None:
        for p in self.panels.values():
            p.flush()


class Dashboard:
    """The operations dashboard of one engine (a ``liqkit serve`` service or an in-process engine)."""

    def __init__(self, handle: EngineHandle, start: bool = True, absent_grace_s: float = ABSENT_GRACE_S) -> None:
        self.handle = handle
        self.absent_grace_s = absent_grace_s
        self.presence_check_s = 5.0
        self.presence_checks = 0  # how many times the watcher has looked (tests wait on it)
        self.chart = MarketChart()
        self.pairs = _Pairs(self)
        self.orders = OrdersTable()
        self.balances = BalancesPanel()
        self.fills = FillsPanel()
        self.health = HealthPanel()
        self.preflight = PreflightPanel(handle)
        self.stream = EventStream(  # the chart first: it builds its figure knowing each pair's assets
            handle, [self.chart, self.pairs, self.orders, self.balances, self.fills, self.health, self.preflight]
        )
        self.presence = Presence(on_ping=self._ping)
        self._paused_for_absence = False
        self._watch: asyncio.Task[None] | None = None
        where = html.escape(getattr(handle, "where", "") or type(handle).__name__)
        title = W.HTML(f'<span style="font-size:16px;font-weight:600">liqkit</span> <span>· {where}</span>')
        self.widget = W.VBox(
            [
                W.HBox(
                    [title, self.stream.widget, self.presence], layout=W.Layout(align_items="center", grid_gap="12px")
                ),
                W.HBox(
                    [_box("Pairs", self.pairs.widget, "560px"), _box("Market", self.chart.widget, "760px")],
                    layout=W.Layout(flex_flow="row wrap"),
                ),
                _box("Open orders (times UTC)", self.orders.widget, "1332px"),
                W.HBox(
                    [
                        _box("Fills and PnL", self.fills.widget, "760px"),
                        W.VBox(
                            [
                                _box("Balances", self.balances.widget, "560px"),
                                _box("Engine health", self.health.widget, "560px"),
                            ]
                        ),
                    ],
                    layout=W.Layout(flex_flow="row wrap"),
                ),
                _box(
                    "Pre-flight: what each pair would quote now, and why anything would be refused",
                    self.preflight.widget,
                    "1332px",
                ),
            ]
        )
        self.widget.add_class("lq-dashboard")
        if start:
            self.start()

    @classmethod
    def from_state_dir(cls, state_dir: str | Path = "liqkit-state", **kwargs: Any) -> Dashboard:
        """The dashboard of the service running on ``state_dir``, followed across restarts."""
        return cls(ServiceConnection.from_state_dir(state_dir), **kwargs)

    def start(self) -> Dashboard:
        """Start the event stream (needs a running loop: a kernel's, or the caller's)."""
        self.stream.start()
        if self._watch is None or self._watch.done():
            self._watch = spawn(self._watch_presence(), name="liqkit-ui-presence")
        return self

    @property
    def live(self) -> bool:
        """Whether the event stream is connected."""
        return self.stream.state == "live"

    async def wait_live(self, timeout: float = 20.0) -> None:
        """Wait until the stream is connected; TimeoutError (naming the service) after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not self.live:
            if loop.time() >= end:
                raise TimeoutError(
                    f"no liqkit service answered within {timeout:g} s ({self.stream.detail}); start one with "
                    "`liqkit serve` or `liqkit dashboard`: this dashboard connects by itself when it answers"
                )
            await asyncio.sleep(0.05)

    async def _watch_presence(self) -> None:
        while True:
            await asyncio.sleep(self.presence_check_s)
            absent = self.presence.absent_for()
            if absent is not None and absent > self.absent_grace_s and self.stream.running:
                self._paused_for_absence = True
                self.stream.pause(f"no browser for {absent:.0f} s: paused (the engine keeps trading)")
            self.presence_checks += 1

    def _ping(self) -> None:
        if self._paused_for_absence and not self.stream.running:
            self._paused_for_absence = False
            with contextlib.suppress(RuntimeError):
                self.stream.start()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def close(self) -> None:
        """Stop the stream and close every widget."""
        self.stream.stop()
        if self._watch is not None:
            self._watch.cancel()
        panels = (self.chart, self.orders, self.balances, self.fills, self.health, self.preflight)
        for p in (*panels, *self.pairs.panels.values()):
            p.close()
        self.presence.close()
        self.widget.close()
