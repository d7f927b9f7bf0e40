"""``EngineClient``: the ``EngineHandle`` of an engine running in a ``liqkit serve`` service.

    client = EngineClient.from_state_dir("liqkit-state")     # or EngineClient(url, token)
    await client.run("BTCUSDT")
    await client.configure("BTCUSDT", {"spread": "5bps"})
    async for ev in client.events():                         # a snapshot, then deltas
        ...

Answers are parsed into the same views (``liqkit.engine.views``) and event records
(``liqkit.engine.events``) an in-process ``LocalEngine`` returns. Errors come back as liqkit's: a
refused config is ``ConfigError`` (the service's message names the field), anything else the service
refuses is ``ServiceError`` with its status and message, and so is an answer this liqkit cannot read
(a service of another version).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import TypeAdapter, ValidationError

from liqkit.domain.errors import ConfigError, LiqkitError
from liqkit.engine.events import BookEvent, Event, EventFormatError, event_from_json
from liqkit.engine.views import (
    BALANCES,
    FILLS,
    ORDERS,
    PAIRS,
    PNL,
    PNL_HISTORY,
    QUOTES,
    Balance,
    EngineStatus,
    Fill,
    OrderView,
    PairPnl,
    PairView,
    PnlPoint,
    Quote,
    Snapshot,
)
from liqkit.preflight import Preflight

T = TypeVar("T")
_PAIR: TypeAdapter[PairView] = TypeAdapter(PairView)
_STATUS: TypeAdapter[EngineStatus] = TypeAdapter(EngineStatus)
_PREFLIGHT: TypeAdapter[Preflight] = TypeAdapter(Preflight)


class ServiceError(LiqkitError):
    """The service answered with an error (``status``) or could not be reached (``status`` 0)."""

    def __init__(self, msg: str, status: int = 0) -> None:
        super().__init__(msg)
        self.status = status


class EngineClient:
    """Async client of the control API; one aiohttp session, opened on first use."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never show the token
        return f"EngineClient({self.url})"

    @classmethod
    def from_state_dir(cls, state_dir: str | Path = "liqkit-state") -> EngineClient:
        """The service running on ``state_dir`` (its ``service.json`` and ``token``)."""
        from liqkit.service.host import read_service_info, read_token

        return cls(read_service_info(Path(state_dir))["url"], read_token(Path(state_dir)))

    async def _s(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._token}"}, timeout=self._timeout
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One API call; the decoded JSON answer."""
        s = await self._s()
        query = {k: str(v) for k, v in params.items() if v is not None}
        try:
            async with s.request(method, self.url + path, json=body, params=query) as r:
                text = await r.text()
                data = json.loads(text) if text else None
                if r.status >= 400:
                    detail = data.get("detail") if isinstance(data, dict) else text
                    if r.status == 422:
                        raise ConfigError(_validation_text(detail))
                    raise ServiceError(f"{method} {path}: {r.status}: {detail}", r.status)
                return data
        except aiohttp.ClientError as e:
            raise ServiceError(f"cannot reach the liqkit service at {self.url}: {e}") from None
        except TimeoutError:
            raise ServiceError(f"the liqkit service at {self.url} did not answer in time") from None

    async def _get(self, adapter: TypeAdapter[T], method: str, path: str, body: Any = None, **params: Any) -> T:
        """One API call, its answer parsed into ``adapter``'s type."""
        data = await self.request(method, path, body, **params)
        try:
            return adapter.validate_python(data)
        except ValidationError as e:
            raise ServiceError(f"{method} {path}: an answer this liqkit cannot read (another version?): {e}") from None

    # ---- EngineHandle -----------------------------------------------------------------------------
    async def run(self, symbol: str) -> PairView:
        """Start quoting a pair."""
        return await self._get(_PAIR, "POST", f"/api/pairs/{symbol}/run")

    async def stop(self, symbol: str) -> PairView:
        """Stop quoting a pair and cancel its orders."""
        return await self._get(_PAIR, "POST", f"/api/pairs/{symbol}/stop")

    async def configure(self, symbol: str, changes: Mapping[str, Any]) -> PairView:
        """Apply config changes without stopping the pair."""
        return await self._get(_PAIR, "PUT", f"/api/pairs/{symbol}", dict(changes))

    async def preview(self, symbol: str, changes: Mapping[str, Any]) -> list[Quote]:
        """The quotes the pair would place now with these changes."""
        return await self._get(QUOTES, "POST", f"/api/pairs/{symbol}/preview", dict(changes))

    async def snapshot(self) -> Snapshot:
        """Status, pairs, orders, balances, recent fills and PnL."""
        status, pairs, orders, balances, fills, (pnl, history) = await asyncio.gather(
            self.status(),
            self.pairs(),
            self.orders(),
            self.balances(),
            self.fills(),
            asyncio.gather(self.pnl(), self.pnl_history()),
        )
        return Snapshot(
            status=status, pairs=pairs, orders=orders, balances=balances, fills=fills, pnl=pnl, pnl_history=history
        )

    async def events(self) -> AsyncIterator[Event]:
        """A snapshot, then deltas, from the service's event stream (ends when the service closes it)."""
        s = await self._s()
        ws_url = self.url.replace("http://", "ws://").replace("https://", "wss://") + "/api/events"
        try:
            async with s.ws_connect(ws_url, heartbeat=20, timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        ev = event_from_json(json.loads(msg.data))
                        if isinstance(ev, BookEvent):  # never sent; a record of the runner only
                            continue
                        yield ev
                    elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
        except aiohttp.WSServerHandshakeError as e:
            raise ServiceError(f"event stream refused: {e.status} {e.message}", e.status) from None
        except aiohttp.ClientError as e:
            raise ServiceError(f"cannot reach the liqkit service at {self.url}: {e}") from None
        except EventFormatError as e:
            raise ServiceError(f"event stream: {e}") from None

    # ---- views ------------------------------------------------------------------------------------
    async def status(self) -> EngineStatus:
        """Engine state, venue, feed health per pair, rate-limit usage, decision latency."""
        return await self._get(_STATUS, "GET", "/api/status")

    async def pairs(self) -> dict[str, PairView]:
        """Every configured pair."""
        return await self._get(PAIRS, "GET", "/api/pairs")

    async def pair(self, symbol: str) -> PairView:
        """One pair."""
        return await self._get(_PAIR, "GET", f"/api/pairs/{symbol}")

    async def orders(self, symbol: str | None = None) -> list[OrderView]:
        """liqkit's open orders."""
        return await self._get(ORDERS, "GET", "/api/orders", symbol=symbol)

    async def balances(self) -> dict[str, Balance]:
        """Balances per asset."""
        return await self._get(BALANCES, "GET", "/api/balances")

    async def fills(self, symbol: str | None = None, limit: int = 200, since_ns: int | None = None) -> list[Fill]:
        """The latest ``limit`` fills from the journal (of ``symbol``; at or after ``since_ns``), oldest first."""
        return await self._get(FILLS, "GET", "/api/fills", symbol=symbol, limit=limit, since=since_ns)

    async def pnl(self) -> dict[str, PairPnl]:
        """PnL per pair: spread capture, inventory, fees and the rebalance's cost."""
        return await self._get(PNL, "GET", "/api/pnl")

    async def pnl_history(self) -> dict[str, list[PnlPoint]]:
        """PnL and its parts per pair over the last minutes, oldest first (the equity chart's data)."""
        return await self._get(PNL_HISTORY, "GET", "/api/pnl/history")

    async def preflight(self) -> Preflight:
        """The pre-flight table of every pair as it would start now (nothing is sent)."""
        return await self._get(_PREFLIGHT, "GET", "/api/preflight")


def _validation_text(detail: Any) -> str:
    """The service's 422 detail as one message naming each field: liqkit's own text, or the API's
    request validation list (``[{"loc": ["body", "levels"], "input": 99, "msg": ...}]``)."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        lines = []
        for d in detail:
            loc = [str(x) for x in d.get("loc", []) if x not in ("body", "query", "path")]
            field = ".".join(loc) or "request"
            shown = f" = {d['input']!r}" if "input" in d and not isinstance(d["input"], dict) else ""
            lines.append(f"  {field}{shown}: {d.get('msg', 'invalid')}")
        return "invalid request:\n" + "\n".join(lines)
    return json.dumps(detail)
