"""``Panel``: what every dashboard panel offers the event stream that feeds it.

A panel takes the engine's data in (``on_snapshot`` after every (re)connection, ``on_event`` for each
delta, ``on_status``/``on_pnl`` from health events and polls) by updating plain Python state only, and
sends what changed to the browser in ``flush``, which the stream calls at most ``FLUSH_HZ`` times a
second. The data are the typed views and events every ``EngineHandle`` returns
(``liqkit.engine.views``, ``liqkit.engine.events``), the same from an in-process engine or a service.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as W

from liqkit.engine.events import Event
from liqkit.engine.views import EngineStatus, PairPnl, Snapshot

FLUSH_HZ = 2.0


class Panel:
    """Base of the panels: no-op handlers; ``widget`` is what to display."""

    widget: W.Widget

    def on_snapshot(self, snap: Snapshot) -> None:
        """Start over from a snapshot (a new connection)."""

    def on_event(self, ev: Event) -> None:
        """Take one delta event."""

    def on_status(self, status: EngineStatus) -> None:
        """Take the engine status."""

    def on_pnl(self, pnl: Mapping[str, PairPnl]) -> None:
        """Take the PnL per pair."""

    def flush(self) -> None:
        """Send what changed since the last flush to the browser."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def close(self) -> None:
        """Close the panel's widgets."""
        self.widget.close()
