"""The control API: JSON over HTTP and a WebSocket event stream, every request with a bearer token.

Bad input never reaches the engine half-applied: a body that is not a JSON object, a wrong type, an
unknown field, a number that is not finite or too large (NaN, Infinity, ``1e400``, thousands of digits),
a value the budget rule or the symbol's filters refuse, or a size that could place no order (below the
minimum order value: ``LocalEngine.trial``, the one rule ``PUT`` and ``preview`` share) is answered 422
with the field named (an answer quotes at most a short excerpt of the input); a body over 64 KB is 413
(``liqkit.service.limits``), refused before it is parsed; an unknown symbol is 404; a missing or wrong
token is 401. ``GET /api/preflight`` is the pre-flight table (``liqkit.preflight``) of every pair as it
would start now. Every answer is a model of ``liqkit.engine.views``, so the OpenAPI schema at
``/openapi.json`` documents each response's fields; its docs are at ``/docs`` (both need the token; a
browser can pass it as ``?token=``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, cast

from fastapi import Body, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from liqkit.domain.config import PairChanges
from liqkit.domain.errors import ConfigError, LiqkitError, RulesError, UnknownPairError
from liqkit.engine.events import Event, SnapshotEvent
from liqkit.engine.handle import LocalEngine
from liqkit.engine.views import Balance, EngineStatus, Fill, OrderView, PairPnl, PairView, PnlPoint, Quote, SideName
from liqkit.journal import PURPOSES, FillRow, Journal
from liqkit.preflight import Preflight
from liqkit.service.limits import BodyLimit, JsonRoute, short_text, validation_detail

Changes = Annotated[PairChanges, Body(examples=[{"spread": "5bps", "levels": 2}])]  # type: ignore[valid-type]
SymbolQuery = Annotated[str | None, Query(pattern="^[A-Za-z0-9]{2,20}$")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "a body that cannot be read (not UTF-8 JSON)"},
    401: {"description": "missing or wrong token"},
    404: {"description": "unknown symbol"},
    413: {"description": "a request body over 64 KB"},
    422: {"description": "invalid input; `detail` names the field and the fix"},
}


def _clean(v: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def encode(ev: Event) -> str:
    """An event as the stream's JSON text (NaN and infinities as null)."""
    data = ev.to_json()
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:  # a non-finite float somewhere: rare, so only then walk the whole event
        return json.dumps(_clean(data))


def _fill(row: FillRow) -> Fill:
    """A journal fill as the fills view (the exchange's time and trade id known, the mid not)."""
    return Fill(
        ts=row.ts_local,
        ts_exchange=row.ts_exchange,
        symbol=row.symbol,
        client_id=row.client_id,
        side=cast(SideName, row.side),  # checked by the model
        price=row.price,
        qty=row.qty,
        fee=row.fee,
        fee_asset=row.fee_asset,
        maker=row.is_maker,
        trade_id=row.trade_id,
        purpose=row.purpose if row.purpose in PURPOSES else "quote",  # type: ignore[arg-type]
    )


def _set(changes: Any) -> dict[str, Any]:
    """The fields a request set (JSON types), for ``update_pair``."""
    return changes.model_dump(exclude_unset=True, mode="json")  # type: ignore[no-any-return]


def _token_of(headers: Any, query: Any) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return str(auth[7:].strip())
    return str(query.get("token", ""))


def create_app(
    engine: LocalEngine,
    token: str,
    on_start: Callable[[], Any] | None = None,
    on_stop: Callable[[], Any] | None = None,
) -> FastAPI:
    """The API over ``engine``; ``on_start``/``on_stop`` (coroutine functions) run with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            await on_start()
        try:
            yield
        finally:
            if on_stop is not None:
                await on_stop()

    app = FastAPI(
        title="liqkit control API",
        version="1",
        description="Run, stop, configure and watch a liqkit engine. Send `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses=ERRORS,
    )

    app.router.route_class = JsonRoute
    app.add_middleware(BodyLimit)  # inside the token check below: an unauthorised body is never read

    def authorized(headers: Any, query: Any) -> bool:
        return secrets.compare_digest(_token_of(headers, query).encode(), token.encode())

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Any:
        if not authorized(request.headers, request.query_params):
            return JSONResponse(
                {"detail": "missing or wrong token: send Authorization: Bearer <token> (see <state-dir>/token)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(e)}, status_code=422)

    @app.exception_handler(ConfigError)
    async def config_error(_: Request, e: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": short_text(str(e))}, status_code=422)

    @app.exception_handler(UnknownPairError)
    async def unknown_pair(_: Request, e: UnknownPairError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=404)

    @app.exception_handler(RulesError)
    async def rules_error(_: Request, e: RulesError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=422)

    def known(symbol: str) -> str:
        return engine.config_of(symbol).symbol  # UnknownPairError: 404

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"/openapi.json?token={_token_of(request.headers, request.query_params)}",
            title="liqkit control API",
        )

    @app.get("/api/status", summary="engine state, venue, feed health per pair, rate-limit usage")
    async def status() -> EngineStatus:
        return await engine.status()

    @app.get("/api/pairs", summary="every configured pair: state, config, market, position")
    async def pairs() -> dict[str, PairView]:
        return engine.pairs()

    @app.get("/api/pairs/{symbol}", summary="one pair")
    async def pair(symbol: str) -> PairView:
        return engine.pair_view(known(symbol))

    @app.put("/api/pairs/{symbol}", summary="change a pair's config without stopping it (audited in the journal)")
    async def configure(symbol: str, changes: Changes) -> PairView:
        return await engine.configure(known(symbol), _set(changes))

    @app.post("/api/pairs/{symbol}/preview", summary="the quotes a config change would place now (nothing applied)")
    async def preview(symbol: str, changes: Changes) -> list[Quote]:
        return await engine.preview(known(symbol), _set(changes))

    @app.post("/api/pairs/{symbol}/run", summary="start quoting a pair (its leftover orders are cancelled first)")
    async def run(symbol: str) -> PairView:
        return await engine.run(known(symbol))

    @app.post("/api/pairs/{symbol}/stop", summary="stop quoting a pair and cancel its orders")
    async def stop(symbol: str) -> PairView:
        return await engine.stop(known(symbol))

    @app.get("/api/orders", summary="liqkit's open orders")
    async def orders(symbol: SymbolQuery = None) -> list[OrderView]:
        return engine.orders(known(symbol) if symbol else None)

    @app.get("/api/balances", summary="balances per asset, live from the user stream")
    async def balances() -> dict[str, Balance]:
        return engine.balances()

    @app.get("/api/fills", summary="the latest fills from the journal, oldest first")
    async def fills(
        symbol: SymbolQuery = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="at most this many (the latest)")] = 200,
        since: Annotated[
            int | None, Query(ge=0, le=2**63 - 1, description="only fills at or after this time, ns")
        ] = None,
    ) -> list[Fill]:
        sym = known(symbol) if symbol else None
        j = engine.runner.journal
        if isinstance(j, Journal):
            return [_fill(r) for r in j.recent_fills(sym, limit, since)]
        kept = [f for f in engine.fills if (sym is None or f.symbol == sym) and (since is None or f.ts >= since)]
        return kept[-limit:]  # no journal: the fills the engine keeps in memory

    @app.get("/api/pnl", summary="PnL per pair since it was run: spread capture, inventory, fees, rebalance cost")
    async def pnl() -> dict[str, PairPnl]:
        return await engine.pnl()

    @app.get("/api/pnl/history", summary="PnL and its parts per pair over the last minutes (the equity chart)")
    async def pnl_history() -> dict[str, list[PnlPoint]]:
        return engine.pnl_history()

    @app.get(
        "/api/preflight",
        summary="the pre-flight table: each pair's filters, rounded quote sizes, funded levels, implied order rate, "
        "every reason a quote would be refused, and the rate-limit plan (nothing is sent)",
    )
    async def preflight() -> Preflight:
        return await engine.preflight()

    hub = EventHub(engine)

    @app.websocket("/api/events")
    async def events(ws: WebSocket) -> None:
        if not authorized(ws.headers, ws.query_params):
            await ws.close(code=4401, reason="missing or wrong token")
            return
        await ws.accept()
        q = hub.join()
        receiver = asyncio.create_task(_drain_client(ws))
        try:
            await ws.send_text(encode(SnapshotEvent(await engine.snapshot())))
            while not receiver.done():
                text = await q.get()
                if text is None:  # fell too far behind: close; the client reconnects and gets a fresh snapshot
                    await ws.close(code=4408, reason="too slow: reconnect for a fresh snapshot")
                    break
                await ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
        finally:
            receiver.cancel()
            hub.leave(q)

    @app.exception_handler(LiqkitError)
    async def liqkit_error(_: Request, e: LiqkitError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=409)

    return app


async def _drain_client(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a closed connection is noticed."""
    with contextlib.suppress(Exception):
        while True:
            await ws.receive_text()


class EventHub:
    """One subscription to the engine's events, encoded once and fanned out to every WebSocket client.

    A client's queue holds at most ``max_backlog`` messages: past that it is sent ``None`` (closed and
    told to reconnect) rather than silently losing an order or fill event.
    """

    def __init__(self, engine: LocalEngine, max_backlog: int = 20_000) -> None:
        self.engine = engine
        self.max_backlog = max_backlog
        self.clients: set[asyncio.Queue[str | None]] = set()
        self._task: asyncio.Task[None] | None = None

    def join(self) -> asyncio.Queue[str | None]:
        q: asyncio.Queue[str | None] = asyncio.Queue()
        self.clients.add(q)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._pump(), name="liqkit-event-hub")
        return q

    def leave(self, q: asyncio.Queue[str | None]) -> None:
        self.clients.discard(q)
        if not self.clients and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _pump(self) -> None:
        stream = self.engine.events()
        try:
            async for ev in stream:
                if isinstance(ev, SnapshotEvent):  # each client gets its own when it joins
                    continue
                text = encode(ev)  # once, for every client
                for q in list(self.clients):
                    if q.qsize() >= self.max_backlog:
                        self.clients.discard(q)
                        q.put_nowait(None)
                    else:
                        q.put_nowait(text)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
