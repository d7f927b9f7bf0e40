"""``Presence``: does a browser still show this dashboard?

Voila starts a kernel per page load and does not shut it down when the tab closes; a kernel that keeps
drawing for nobody never goes idle, so the culler never removes it. ``Presence`` is an invisible
anywidget whose browser side pings the kernel every ``PING_S`` seconds while the page is open; the
dashboard pauses its event stream (the kernel goes quiet and the idle culler can remove it) after
``grace_s`` seconds without a ping, and resumes from a fresh snapshot when pings come back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

PING_S = 5.0

_ESM = """
export default {
  render({ model, el }) {
    el.style.display = "none";
    const ping = () => model.send({ ping: Date.now() });
    ping();
    const timer = setInterval(ping, PERIOD_MS);
    return () => clearInterval(timer);
  },
};
""".replace("PERIOD_MS", str(int(PING_S * 1000)))


class Presence(anywidget.AnyWidget):  # type: ignore[misc]
    """Invisible widget: ``last_ping`` is the kernel's monotonic time of the browser's latest ping."""

    _esm = traitlets.Unicode(_ESM).tag(sync=True)

    def __init__(self, on_ping: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_ping: float | None = None
        self.pings = 0
        self._on_ping = on_ping
        self.on_msg(self._got)

    def _got(self, _: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and "ping" in content:
            self.last_ping = time.monotonic()
            self.pings += 1
            if self._on_ping is not None:
                self._on_ping()

    def absent_for(self) -> float | None:
        """Seconds since the last ping; None before the first (no browser has shown it yet)."""
        return None if self.last_ping is None else time.monotonic() - self.last_ping
