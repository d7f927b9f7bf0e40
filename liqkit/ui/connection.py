"""Where the panels' engine comes from when it runs in a ``liqkit serve`` service.

``ServiceConnection`` is an ``EngineHandle`` on the service of a state directory that re-reads
``service.json`` and the token whenever the service cannot be reached, so a dashboard follows a
service that was restarted (on another port, with another token) by itself. It returns what
``EngineClient`` returns: the typed views and events of ``liqkit.engine``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from liqkit.client import EngineClient, ServiceError
from liqkit.domain.errors import LiqkitError
from liqkit.engine.events import Event
from liqkit.engine.views import EngineStatus, PairPnl, PairView, Quote, Snapshot
from liqkit.preflight import Preflight


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

    async def run(self, symbol: str) -> PairView:
        """Start quoting a pair."""
        return await self._call("run", symbol)  # type: ignore[no-any-return]

    async def stop(self, symbol: str) -> PairView:
        """Stop quoting a pair and cancel its orders."""
        return await self._call("stop", symbol)  # type: ignore[no-any-return]

    async def configure(self, symbol: str, changes: Mapping[str, Any]) -> PairView:
        """Apply config changes without stopping the pair."""
        return await self._call("configure", symbol, changes)  # type: ignore[no-any-return]

    async def preview(self, symbol: str, changes: Mapping[str, Any]) -> list[Quote]:
        """The quotes the pair would place now with these changes."""
        return await self._call("preview", symbol, changes)  # type: ignore[no-any-return]

    async def snapshot(self) -> Snapshot:
        """Status, pairs, orders, balances, recent fills and PnL."""
        return await self._call("snapshot")  # type: ignore[no-any-return]

    async def status(self) -> EngineStatus:
        """Engine state and health."""
        return await self._call("status")  # type: ignore[no-any-return]

    async def pnl(self) -> dict[str, PairPnl]:
        """PnL per pair."""
        return await self._call("pnl")  # type: ignore[no-any-return]

    async def preflight(self) -> Preflight:
        """The pre-flight table of every pair as it would start now."""
        return await self._call("preflight")  # type: ignore[no-any-return]

    async def events(self) -> AsyncIterator[Event]:
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
