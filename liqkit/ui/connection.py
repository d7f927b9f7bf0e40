"""Where the panels' engine comes from, and the views the ``EngineHandle`` protocol lacks.

``ServiceConnection`` is an ``EngineHandle`` on the ``liqkit serve`` service of a state directory that
re-reads ``service.json`` and the token whenever the service cannot be reached, so a dashboard follows
a service that was restarted (on another port, with another token) by itself.

``engine_status`` and ``engine_pnl`` read the health and PnL views: ``EngineClient`` and ``LocalEngine``
both offer them (async and sync), other handles fall back to ``snapshot()``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from liqkit.client import EngineClient, ServiceError
from liqkit.domain.errors import LiqkitError
from liqkit.engine.handle import EngineHandle


async def _view(handle: Any, name: str) -> dict[str, Any]:
    fn = getattr(handle, name, None)
    if callable(fn):
        out = fn()
        if inspect.isawaitable(out):
            out = await out
        return dict(out)
    snap = await handle.snapshot()
    return dict(snap.get(name, {}))


async def engine_status(handle: EngineHandle) -> dict[str, Any]:
    """Engine state, venue, events, reconnects, errors, rate-limit usage and per-pair feed age."""
    return await _view(handle, "status")


async def engine_pnl(handle: EngineHandle) -> dict[str, Any]:
    """PnL per pair: pnl, spread_capture, inventory_pnl, fees, volume, fills."""
    return await _view(handle, "pnl")


class ServiceConnection:
    """``EngineHandle`` on whatever service runs on a state directory (or behind ``factory``)."""

    def __init__(self, factory: Callable[[], EngineClient], where: str = "") -> None:
        self._factory = factory
        self.where = where
        self._client: EngineClient | None = None

    @classmethod
    def from_state_dir(cls, state_dir: str | Path) -> ServiceConnection:
        """Follow the service on ``state_dir`` (found through its ``service.json`` and ``token``)."""
        return cls(lambda: EngineClient.from_state_dir(state_dir), str(state_dir))

    def __repr__(self) -> str:
        return f"ServiceConnection({self.where or self._client!r})"

    @property
    def url(self) -> str:
        """The service's URL, or "" before the first connection."""
        return self._client.url if self._client is not None else ""

    def client(self) -> EngineClient:
        """The current client (found anew after a failure)."""
        if self._client is None:
            try:
                self._client = self._factory()
            except LiqkitError as e:
                raise ServiceError(str(e)) from None
        return self._client

    async def _lost(self) -> None:
        if self._client is not None:
            old, self._client = self._client, None
            await old.close()

    async def _call(self, name: str, *args: Any) -> Any:
        try:
            return await getattr(self.client(), name)(*args)
        except ServiceError as e:
            if e.status in (0, 401):  # unreachable, or another service (new token): find it again next time
                await self._lost()
            raise

    async def run(self, symbol: str) -> dict[str, Any]:
        """Start quoting a pair."""
        return await self._call("run", symbol)  # type: ignore[no-any-return]

    async def stop(self, symbol: str) -> dict[str, Any]:
        """Stop quoting a pair and cancel its orders."""
        return await self._call("stop", symbol)  # type: ignore[no-any-return]

    async def configure(self, symbol: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply config changes without stopping the pair."""
        return await self._call("configure", symbol, changes)  # type: ignore[no-any-return]

    async def preview(self, symbol: str, changes: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The quotes the pair would place now with these changes."""
        return await self._call("preview", symbol, changes)  # type: ignore[no-any-return]

    async def snapshot(self) -> dict[str, Any]:
        """Status, pairs, orders, balances, recent fills and PnL."""
        return await self._call("snapshot")  # type: ignore[no-any-return]

    async def status(self) -> dict[str, Any]:
        """Engine state and health."""
        return await self._call("status")  # type: ignore[no-any-return]

    async def pnl(self) -> dict[str, Any]:
        """PnL per pair."""
        return await self._call("pnl")  # type: ignore[no-any-return]

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """A snapshot, then deltas; a lost service is looked up again on the next call."""
        try:
            async for ev in self.client().events():
                yield ev
        except ServiceError:
            await self._lost()
            raise

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._lost()
