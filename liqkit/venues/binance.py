"""``BinanceVenue``: the Venue protocol through python-binance (WebSocket API order entry and user data,
REST, combined streams).

Orders go over the WebSocket API (``order.place``, ``order.cancel``, ``order.amend.keepPriority``) on the
connection that carries the user data subscription; REST is the fallback while that connection is
down. A request goes one way only: it falls back to REST only when it was never written to the
WebSocket, and one written but unanswered (a drop, a timeout) is an unknown outcome like a REST
timeout — the order is queried, never sent twice. ``order_entry="rest"`` sends everything over REST.

``base_url`` points every REST, stream and WebSocket API URL at another server (a ``liqkit
sim-server`` on 127.0.0.1); without it the venue is Binance's testnet, or mainnet with both opt-ins.
python-binance's exceptions are mapped here, at the boundary, to liqkit's error tree: a post-only
order that would take is ``OrderRejected(reason=RejectReason.WOULD_CROSS)``; -1007/-1006, HTTP 5xx and timeouts are
``UnknownOutcomeError`` (the order's fate is unknown); 429/418/-1003/-1015 are ``RetryableError``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from typing import Any

from binance import AsyncClient, BinanceSocketManager
from binance.exceptions import BinanceAPIException, BinanceRequestException
from binance.ws.constants import WSListenerState

from liqkit.domain.errors import (
    LiveTradingRefused,
    OrderRejected,
    ReplaceFailed,
    RetryableError,
    UnknownOrderError,
    UnknownOutcomeError,
    VenueError,
)
from liqkit.domain.rules import SymbolRules, parse_exchange_info
from liqkit.domain.types import Balance, BalanceUpdate, BookTop, OrderStatus, RejectReason, Side, Trade
from liqkit.engine.ids import is_liqkit_id
from liqkit.engine.intents import Amend, Place, PlaceOco, Replace
from liqkit.engine.ports import OpenOrder, StreamGap, UserFill, UserOrder, VenueEvent
from liqkit.venues.ratelimit import RateLimits

log = logging.getLogger(__name__)
_UNKNOWN_CODES = {-1006, -1007}
ORDER_ENTRY = ("ws-api", "rest")
CLOSE_TIMEOUT_S = 15.0  # a python-binance close that takes longer is forced
WS_API_TIMEOUT_S = 10.0  # an order request written to the WebSocket API and unanswered this long: fate unknown


class NotSent(VenueError):
    """A WebSocket API request that was never written (no open connection): safe to send over REST."""


_RETRY_CODES = {-1003, -1015}


class Client(AsyncClient):  # type: ignore[misc]
    """python-binance's ``AsyncClient``, signing Ed25519 with ``cryptography`` (OpenSSL): the same
    signature, about six times faster than python-binance's own pure-Python-backed signer."""

    _ed25519_key: Any = None

    def _ed25519_signature(self, query_string: str) -> str:
        if self._ed25519_key is None:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            self._ed25519_key = load_pem_private_key(self.PRIVATE_KEY.export_key(format="PEM").encode(), None)
        return base64.b64encode(self._ed25519_key.sign(query_string.encode())).decode()


def client_class(base_url: str | None) -> type[AsyncClient]:
    """A ``Client`` whose REST and WS API URLs point at ``base_url`` (e.g. http://127.0.0.1:PORT)."""
    if not base_url:
        return Client
    http = base_url.rstrip("/")
    ws = http.replace("https://", "wss://").replace("http://", "ws://")

    class LocalClient(Client):
        API_URL = API_TESTNET_URL = API_DEMO_URL = f"{http}/api"
        WS_API_URL = WS_API_TESTNET_URL = WS_API_DEMO_URL = f"{ws}/ws-api/v3"

    return LocalClient


def socket_manager_class(base_url: str | None) -> type[BinanceSocketManager]:
    """A ``BinanceSocketManager`` whose stream URLs point at ``base_url``."""
    if not base_url:
        return BinanceSocketManager
    ws = base_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://") + "/"

    class LocalSockets(BinanceSocketManager):
        STREAM_URL = STREAM_TESTNET_URL = STREAM_DEMO_URL = ws

    return LocalSockets


def reject_reason(code: int, message: str) -> RejectReason:
    """Why Binance refused a new order. Only its text tells a post-only order that would take (-2010
    "Order would immediately match and take.") from other -2010s: this is the one place that reads it."""
    if code == -2010 and "immediately match" in message:
        return RejectReason.WOULD_CROSS
    if code == -2010 and "insufficient balance" in message:
        return RejectReason.BALANCE
    if code == -1013:
        return RejectReason.FILTER
    return RejectReason.OTHER


# codes that no retry can cure: the keys (which variable to set), then a refused permission
_KEY_CODES = {
    -2014: "BINANCE_API_KEY is not a valid key (its format is wrong)",
    -2015: "Binance refused the API key (invalid key, IP not allowed, or no permission for spot trading)",
    -1022: "the signature is not valid: BINANCE_API_SECRET (or the key in BINANCE_PRIVATE_KEY_PATH) does not belong "
    "to BINANCE_API_KEY",
}


def request_name(e: BinanceAPIException) -> str:
    """``METHOD /path`` of a failed request: never its query (the signature, the timestamp) or its keys."""
    resp = getattr(e, "response", None)
    url = getattr(resp, "url", None)
    method = getattr(getattr(resp, "request_info", None), "method", None) or getattr(resp, "method", None) or ""
    path = getattr(url, "path", None) or ""
    return f"{method} {path}".strip() or "a request"


def api_error_text(e: BinanceAPIException, placing: bool) -> str:
    """One line for a Binance error answer: what failed, the HTTP status or Binance code, what liqkit does.

    python-binance's own message for a body that is not JSON (a 502 page) is several lines with the
    whole signed URL: it is never used."""
    what, status = request_name(e), int(e.status_code or 0)
    if isinstance(e.message, str) and e.message.startswith("Invalid JSON error message"):
        reason = getattr(getattr(e, "response", None), "reason", None) or ""
        detail = f"HTTP {status} {reason}".strip() + " (no JSON body)"
    else:
        detail = f"HTTP {status}: {' '.join(str(e.message or '').split())[:200]}"
    if status in (429, 418) or e.code in _RETRY_CODES:
        todo = "liqkit waits as asked, then tries again"
    elif e.code in _UNKNOWN_CODES or status >= 500 or not e.code:
        todo = "outcome unknown: liqkit checks the order, never re-sends it" if placing else "liqkit tries again"
    else:
        todo = ""
    return f"{what}: {detail}" + (f"; {todo}" if todo else "")


CHECK_VENUE = "the venue's URL (--venue, or engine.base_url in the config)"


def _connect_text(e: BaseException) -> str | None:
    """A host that cannot be resolved or reached, named with what to check (aiohttp's connector errors),
    else None. One line: the cause, what to check, what liqkit does."""
    import errno
    import socket

    import aiohttp

    if not isinstance(e, aiohttp.ClientConnectorError):
        return None
    host, port = e.host, e.port
    os_err = e.os_error
    why = (os_err.strerror or str(os_err)) if isinstance(os_err, OSError) else str(os_err)
    dns = getattr(aiohttp, "ClientConnectorDNSError", ())
    if (dns and isinstance(e, dns)) or isinstance(os_err, socket.gaierror):
        return f"cannot resolve host {host} ({why}): check the network and DNS, and {CHECK_VENUE}; liqkit tries again"
    if isinstance(os_err, ConnectionRefusedError) or getattr(os_err, "errno", None) == errno.ECONNREFUSED:
        return (
            f"cannot connect to {host}:{port}: connection refused (nothing listens there): check that the "
            f"server runs, the network, and {CHECK_VENUE}; liqkit tries again"
        )
    return f"cannot reach {host}:{port} ({why}): check the network and {CHECK_VENUE}; liqkit tries again"


def map_error(e: BaseException, placing: bool) -> VenueError:
    """Translate a python-binance (or transport) failure into liqkit's error tree, with a one-line message."""
    if isinstance(e, BinanceAPIException):
        code, status = e.code, e.status_code
        text = api_error_text(e, placing)
        if status in (429, 418) or code in _RETRY_CODES:
            retry = None
            with contextlib.suppress(Exception):
                retry = float(e.response.headers.get("Retry-After"))
            return RetryableError(text, code, retry)
        if code == -1021:  # the clock drifted past recvWindow (again after a re-sync): not executed
            return RetryableError(f"{text}; liqkit re-syncs its clock with Binance's", code, 1.0)
        if code in _KEY_CODES:
            return VenueError(
                f"{_KEY_CODES[code]} ({text}): set BINANCE_API_KEY and BINANCE_PRIVATE_KEY_PATH or BINANCE_API_SECRET",
                code,
            )
        if code in _UNKNOWN_CODES or status >= 500 or code == 0:
            return UnknownOutcomeError(text, code)
        if code in (-2011, -2013):
            return UnknownOrderError(e.message, code)
        if placing:
            return OrderRejected(e.message, code, reject_reason(code, e.message))
        return VenueError(text, code)
    connect = _connect_text(e)
    if connect is not None:
        return UnknownOutcomeError(connect)
    if isinstance(e, (asyncio.TimeoutError, BinanceRequestException, OSError)):
        text = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        return UnknownOutcomeError(text)
    return VenueError(" ".join(f"{type(e).__name__}: {e}".split())[:300])


async def close_client(client: AsyncClient) -> None:
    """Close a python-binance client promptly.

    Its WebSocket API read loop notices a close only after its next message (or a 10 s receive
    timeout): one WS API ``ping`` sent as the close begins wakes it, so closing takes milliseconds.
    """
    ws = getattr(client.ws_api, "ws", None) if client.ws_api else None
    closing = asyncio.create_task(client.close_connection())
    await asyncio.sleep(0.01)
    if ws is not None:
        with contextlib.suppress(Exception):
            responses = getattr(client.ws_api, "_responses", None)  # expected, so not logged as unknown
            if isinstance(responses, dict):
                responses["liqkit-close"] = asyncio.get_running_loop().create_future()
            await ws.send(json.dumps({"id": "liqkit-close", "method": "ping", "params": {}}))
    try:  # python-binance has been seen to wait on a request left open at the server: never hang a stop on it
        await asyncio.wait_for(asyncio.shield(closing), CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("python-binance did not close within %gs: closing its connections under it", CLOSE_TIMEOUT_S)
        closing.cancel()
        for conn in (getattr(client.ws_api, "ws", None), getattr(client, "session", None)):
            with contextlib.suppress(Exception):
                if conn is not None:
                    await asyncio.wait_for(conn.close(), 5)


class BinanceVenue:
    """Binance spot through python-binance. Testnet unless told otherwise."""

    amend_keeps_priority = True  # order.amend.keepPriority (WebSocket API and REST) keeps the queue position

    def __init__(
        self,
        symbols: Iterable[str],
        api_key: str,
        api_secret: str = "",
        *,
        private_key: str = "",
        order_entry: str = "ws-api",
        cancel_replace: bool = True,
        stp_modes: dict[str, str] | None = None,
        base_url: str | None = None,
        live: bool = False,
        demo: bool = False,
        allow_live: bool = False,
        stream_queue_size: int = 10_000,
        market_silence_s: float = 60.0,
    ) -> None:
        if live and not (allow_live and os.environ.get("LIQKIT_ALLOW_LIVE") == "1"):
            raise LiveTradingRefused("live trading needs allow_live = true in the config and LIQKIT_ALLOW_LIVE=1")
        if live and demo:
            raise ValueError("BinanceVenue: live and demo exclude each other")
        if order_entry not in ORDER_ENTRY:
            raise ValueError(f"order_entry = {order_entry!r}: use 'ws-api' or 'rest'")
        if not api_secret and not private_key:
            raise ValueError("BinanceVenue: give api_secret (HMAC) or private_key (Ed25519 or RSA PEM)")
        if base_url:
            self.name = "binance-local"
        else:
            self.name = "binance-live" if live else ("binance-demo" if demo else "binance-testnet")
        self.symbols = [s.upper() for s in symbols]
        self._key, self._secret, self._base_url, self._live = api_key, api_secret, base_url, live
        self._private_key = private_key  # PEM text; python-binance signs with it (Ed25519 or RSA)
        self.order_entry = order_entry
        self.cancel_replace = cancel_replace  # a price move is one order.cancelReplace (STOP_ON_FAILURE)
        self.stp_modes: dict[str, str] = dict(stp_modes or {})  # per symbol, sent with every new order
        self.ws_orders = self.rest_orders = self.ws_fallbacks = 0  # order requests per path; WS API down: REST
        self.last_market_ns = 0  # receive time of the newest market event handed to the engine
        self._logged_on: Any = None  # the WebSocket API connection an Ed25519 session.logon authenticated
        self.logons = 0
        # benchmarks: ("ws-api", method, ns from the newest market event to the write) per WebSocket API request
        self.wire_log: list[tuple[str, str, int]] | None = None
        self._demo = demo and not base_url
        self._queue_size = stream_queue_size
        self._silence_s = market_silence_s  # a market socket silent this long is recreated
        self.client: AsyncClient | None = None
        self._rules: dict[str, SymbolRules] = {}
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._socks: set[Any] = set()  # python-binance sockets open now
        self._closing = False
        self._order_ids: dict[str, int] = {}
        self._blocked_until = 0.0  # circuit breaker: no request before this (monotonic seconds)
        self.resyncs = 0
        self.stream_restarts = 0
        self.rate = RateLimits()  # declared limits (from exchangeInfo) and the usage Binance reports
        self.paced = 0  # new orders held back to stay under the limits

    def __repr__(self) -> str:  # never show the keys
        return f"BinanceVenue({self.name}, {self.symbols})"

    def client_mode(self) -> dict[str, bool]:
        """python-binance's flags for this venue's URLs: the testnet, Demo Mode or mainnet (a ``base_url``
        replaces every URL, see ``client_class``)."""
        return {"testnet": not self._live and not self._demo and not self._base_url, "demo": self._demo}

    async def connect(self) -> None:
        """Connect the REST client (syncing the clock), without any stream: enough for ``rules``,
        ``balances`` and ``recent_market``. Idempotent; a failure is raised mapped to liqkit's tree."""
        if self.client is None:
            cls = client_class(self._base_url)
            try:
                self.client = await cls.create(
                    self._key, self._secret or None, private_key=self._private_key or None, **self.client_mode()
                )
            except Exception as e:  # create() closes its session itself
                raise map_error(e, False) from e

    async def start(self) -> None:
        """Connect (syncing the clock) and start the market and user streams; the rules come with
        ``rules()``. Idempotent, so a start-up retry after a fault does only what is left; a failure
        is raised mapped to liqkit's tree (a host that cannot be reached is named)."""
        await self.connect()
        if self._tasks:
            return
        # python-binance drops the whole read loop when its message queue overflows: the stream loops
        # below then recreate the socket and mark a gap (the runner reconciles)
        self._closing = False
        bsm = socket_manager_class(self._base_url)(self.client, max_queue_size=self._queue_size)
        self._tasks = [
            asyncio.create_task(self._market(bsm), name="binance-market"),
            asyncio.create_task(self._user(bsm), name="binance-user"),
        ]

    async def close(self) -> None:
        """Stop the streams and close the client.

        python-binance's read loop notices an exit only after its 10 s receive timeout, and a cancel
        arriving while its socket closes can be swallowed: so the sockets are told to exit and closed
        under it first, the stream loops see ``_closing``, and only then are the tasks cancelled.
        """
        self._closing = True
        quiet = logging.getLogger("binance.ws")  # our own close is not a connection error: do not log it as one
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            await self._close_streams()
            if self.client is not None:
                await close_client(self.client)
                self.client = None
        finally:
            quiet.setLevel(level)

    async def _close_streams(self) -> None:
        for sock in list(self._socks):
            await _abandon(sock)
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        self._tasks = []

    async def _call(self, placing: bool, fn: Any, /, paced: bool | None = None, **params: Any) -> Any:
        """One REST call with the circuit breaker (429/418 Retry-After), a clock re-sync on -1021, and
        errors mapped to liqkit's tree. New orders are paced (``paced``: default ``placing``)."""
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            raise RetryableError(f"circuit open: Binance asked to wait {wait:.1f}s more", -1003, wait)
        if placing if paced is None else paced:
            await self._pace()
        for attempt in (0, 1):
            try:
                out = await fn(**params)
                self.rate.observe(getattr(getattr(self.client, "response", None), "headers", None))
                return out
            except BinanceAPIException as e:
                self.rate.observe(getattr(e.response, "headers", None))
                if e.code == -1021 and attempt == 0:  # our clock drifted: re-sync, then retry once
                    await self._resync()
                    continue
                err = map_error(e, placing)
                if isinstance(err, RetryableError) and e.code != -1021:  # a clock drift trips no breaker
                    default = 60.0 if e.status_code == 418 else 1.0
                    self._blocked_until = time.monotonic() + (err.retry_after or default)
                raise err from e
            except Exception as e:  # mapped at the boundary
                raise map_error(e, placing) from e
        raise VenueError("unreachable")

    async def _entry(self, placing: bool, method: str, rest: Any, params: dict[str, Any], paced: bool = False) -> Any:
        """One order request: over the WebSocket API while its connection is up, else over REST. Only
        new orders are ``paced`` (an amend adds nothing to the unfilled-order count, a cancel only
        reduces exposure)."""
        if self.order_entry == "ws-api":
            try:
                out = await self._ws(placing, method, params, paced)
            except NotSent:
                self.ws_fallbacks += 1
            except BaseException:
                self.ws_orders += 1  # sent, and refused or of unknown outcome
                raise
            else:
                self.ws_orders += 1
                return out
        self.rest_orders += 1
        return await self._call(placing, rest, paced=paced, **params)

    async def _ws(self, placing: bool, method: str, params: dict[str, Any], paced: bool) -> Any:
        """One signed WebSocket API request on python-binance's connection (the one the user data
        subscription uses), with the REST path's circuit breaker, pacing, clock re-sync and error
        mapping. ``NotSent`` when there is no open connection to write it to (nothing was sent);
        a request written and not answered within ``WS_API_TIMEOUT_S`` is an unknown outcome."""
        c = self._c()
        api = c.ws_api
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            raise RetryableError(f"circuit open: Binance asked to wait {wait:.1f}s more", -1003, wait)
        if paced:
            await self._pace()
        for attempt in (0, 1):
            if api is None or api.ws is None or api.ws_state != WSListenerState.STREAMING:
                raise NotSent(f"WebSocket API {method}: not connected")
            if await self._logon(c, api):  # an authenticated connection: requests go unsigned
                signed = {**params, "timestamp": int(time.time() * 1000 + c.timestamp_offset)}
            else:
                signed = c._sign_ws_params(dict(params), c._generate_ws_api_signature)
            rid = c.uuid22()
            payload = {"id": rid, "method": method, "params": signed}
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            api._responses[rid] = fut  # python-binance's reader resolves it (or fails it with the error answer)
            try:
                text = json.dumps(payload)
                if self.wire_log is not None:
                    self.wire_log.append(("ws-api", method, time.time_ns() - self.last_market_ns))
                sent_on = api.ws
                try:
                    await sent_on.send(text)
                except Exception as e:  # the connection closed under us: websockets writes nothing then
                    raise NotSent(f"WebSocket API {method}: {type(e).__name__}") from e
                answer = await self._answer(fut, api, sent_on, method, placing)
            except BinanceAPIException as e:
                self.rate.observe_ws(e.response.get("rateLimits") if isinstance(e.response, dict) else None)
                if e.code == -1021 and attempt == 0:  # not executed: re-sync the clock, then once more
                    await self._resync()
                    continue
                if e.code == -1002 and attempt == 0 and self._logged_on is not None:  # the session forgot us
                    self._logged_on = None  # not executed: log on again (or sign), then once more
                    continue
                err = map_error(e, placing)
                if isinstance(err, RetryableError) and e.code != -1021:
                    self._blocked_until = time.monotonic() + (
                        err.retry_after or (60.0 if e.status_code == 418 else 1.0)
                    )
                raise err from e
            finally:
                api._responses.pop(rid, None)
            self.rate.observe_ws(answer.get("rateLimits"))
            return answer.get("result", answer)
        raise VenueError("unreachable")

    async def _logon(self, c: AsyncClient, api: Any) -> bool:
        """With an Ed25519 key, authenticate the WebSocket API connection once (``session.logon``): order
        requests on it then carry no signature, which takes signing off every order's path. False for
        HMAC and RSA keys (Binance logs on Ed25519 only), or when the logon is refused: sign each request."""
        if not self._private_key or getattr(c, "_is_rsa", False):
            return False
        if self._logged_on is api.ws:
            return True
        if self._logged_on is False:  # refused before: do not ask on every order
            return False
        rid, sent_on = c.uuid22(), api.ws
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        api._responses[rid] = fut
        try:
            params = c._sign_ws_params({}, c._generate_ws_api_signature)
            await sent_on.send(json.dumps({"id": rid, "method": "session.logon", "params": params}))
            await self._answer(fut, api, sent_on, "session.logon", False)
        except BinanceAPIException as e:
            log.warning("WebSocket API session.logon refused (%s): signing each request instead", e.message)
            self._logged_on = False
            return False
        except Exception:  # the connection went: the request falls to the usual rules
            return False
        finally:
            api._responses.pop(rid, None)
        self._logged_on = sent_on
        self.logons += 1
        return True

    async def _answer(self, fut: asyncio.Future[Any], api: Any, sent_on: Any, method: str, placing: bool) -> Any:
        """The answer to a request written on connection ``sent_on``; ``UnknownOutcomeError`` as soon as
        that connection is gone (python-binance reconnects but never fails what was in flight) or after
        ``WS_API_TIMEOUT_S`` without an answer."""
        deadline = time.monotonic() + WS_API_TIMEOUT_S
        why = f"no answer within {WS_API_TIMEOUT_S:g}s"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done, _ = await asyncio.wait({fut}, timeout=min(0.2, left))
            if done:
                return fut.result()
            if api.ws is not sent_on or api.ws_state != WSListenerState.STREAMING:
                why = "the connection closed before the answer"
                break
        tail = "; outcome unknown: liqkit checks the order, never re-sends it" if placing else ""
        raise UnknownOutcomeError(f"WebSocket API {method}: {why}{tail}")

    async def _pace(self) -> None:
        """Hold a new order back as the rate limits near (cancels never wait): a short pause from 80 %
        of a limit, a refusal (not sent, retried by the engine later) from 95 % until the window turns."""
        delay, why = self.rate.order_delay()
        if delay <= 0:
            return
        self.paced += 1
        if delay > 0.5:
            raise RetryableError(f"holding new orders: {why}", -1015, delay)
        await asyncio.sleep(delay)

    def rate_usage(self) -> dict[str, dict[str, int]]:
        """Rate-limit usage per header, as Binance last reported it."""
        return self.rate.snapshot()

    async def _resync(self) -> None:
        c = self._c()
        res = await c.get_server_time()
        c.timestamp_offset = int(res["serverTime"]) - int(time.time() * 1000)
        self.resyncs += 1

    def _c(self) -> AsyncClient:
        if self.client is None:
            raise VenueError("BinanceVenue is not started")
        return self.client

    async def rules(self, symbols: Iterable[str]) -> dict[str, SymbolRules]:
        """Rules from exchangeInfo; RulesError for a symbol that is unknown or not trading."""
        from liqkit.domain.errors import RulesError

        wanted = [s.upper() for s in symbols]
        missing = [s for s in wanted if s not in self._rules]
        if missing:
            info = await self._call(False, self._c().get_exchange_info)
            if not self.rate.limits:
                self.rate = RateLimits.from_exchange_info(info)
            self._rules.update(parse_exchange_info(info, missing))
        for s in wanted:
            if self._rules[s].status != "TRADING":
                raise RulesError(f"{s} is not trading (status {self._rules[s].status})")
        return {s: self._rules[s] for s in wanted}

    async def recent_market(self, symbol: str, limit: int = 1000) -> tuple[BookTop, list[Trade]]:
        """The symbol's best bid and ask now (REST ``ticker/bookTicker``) and its latest ``limit`` trades
        (``trades``, oldest first), parsed as their stream payloads are (``parse_market``; ``rules``
        first). Public data: nothing is signed or sent."""
        now = _now()
        t = await self._call(False, self._c().get_orderbook_ticker, symbol=symbol)
        top = {"s": symbol, "b": t["bidPrice"], "B": t["bidQty"], "a": t["askPrice"], "A": t["askQty"]}
        book = parse_market(top, self._rules, now)
        if not isinstance(book, BookTop):
            raise VenueError(f"{symbol}: no book ticker (is the symbol's rules loaded?)")
        raw = await self._call(False, self._c().get_recent_trades, symbol=symbol, limit=limit)
        trades = []
        for x in raw:
            d = {"e": "trade", "s": symbol, "p": x["price"], "q": x["qty"], "m": x["isBuyerMaker"], "T": x["time"]}
            tr = parse_market({**d, "t": x["id"]}, self._rules, now)
            if isinstance(tr, Trade):
                trades.append(tr)
        return book, trades

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, locked) per asset from the account."""
        acct = await self._call(False, self._c().get_account)
        return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in acct["balances"]}

    def _order(self, o: dict[str, Any]) -> OpenOrder:
        r = self._rules[o["symbol"]]
        self._order_ids[o["clientOrderId"]] = int(o["orderId"])
        return OpenOrder(
            o["symbol"],
            o["clientOrderId"],
            Side.parse(o["side"]),
            r.price_to_ticks(o["price"]),
            r.qty_to_steps(o["origQty"]),
            r.qty_to_steps(o["executedQty"]),
            OrderStatus.parse(o["status"]),
        )

    async def open_orders(self, symbol: str) -> list[OpenOrder]:
        """The symbol's open orders."""
        return [self._order(o) for o in await self._call(False, self._c().get_open_orders, symbol=symbol)]

    async def place(self, order: Place) -> None:
        """A new limit order (``_new_order_params``)."""
        await self._entry(True, "order.place", self._c().create_order, self._new_order_params(order), paced=True)

    def _new_order_params(self, order: Place) -> dict[str, Any]:
        """A new order's parameters: LIMIT_MAKER (post-only, no timeInForce), LIMIT IOC (``ioc``: a taker
        whose rest expires) or LIMIT GTC, our client id, plain decimals, the pair's STP mode if set,
        ``icebergQty`` for an iceberg (Binance takes it on LIMIT_MAKER and LIMIT GTC), and an ACK answer (fills,
        and an IOC's expiry, come on the user stream). Shared by order.place (WebSocket API and REST) and
        cancelReplace."""
        r = self._rules[order.symbol]
        params: dict[str, Any] = {
            "symbol": order.symbol,
            "side": order.side.name,
            "quantity": r.format_qty(order.qty),
            "price": r.format_price(order.price),
            "newClientOrderId": order.client_id,
        }
        if order.post_only:
            params["type"] = "LIMIT_MAKER"
        else:
            params.update(type="LIMIT", timeInForce="IOC" if order.ioc else "GTC")
        if order.iceberg_qty:
            params["icebergQty"] = r.format_qty(order.iceberg_qty)
        stp = self.stp_modes.get(order.symbol)
        if stp:
            params["selfTradePreventionMode"] = stp
        params["newOrderRespType"] = "ACK"
        return params

    async def replace(self, order: Replace) -> None:
        """``order.cancelReplace`` in STOP_ON_FAILURE mode: the new order only once the cancel is done.
        Binance's partial answers become ``ReplaceFailed`` (-2022: the cancel failed, the new order was
        not attempted; -2021: cancelled, the new order failed), each half mapped like its plain request."""
        params = self._new_order_params(order.place)
        params.update(cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId=order.client_id)
        try:
            await self._entry(True, "order.cancelReplace", self._c().cancel_replace_order, params, paced=True)
        except (OrderRejected, VenueError) as e:
            cause = e.__cause__
            if not isinstance(cause, BinanceAPIException) or cause.code not in (-2021, -2022):
                raise
            data = _error_data(cause)
            cancel_half, new_half = data.get("cancelResponse") or {}, data.get("newOrderResponse") or {}
            if data.get("cancelResult") != "SUCCESS":
                raise ReplaceFailed(_half_error(cancel_half, False, "cancel"), None) from e
            raise ReplaceFailed(None, _half_error(new_half, True, "new order")) from e

    async def place_oco(self, x: PlaceOco) -> None:
        """An OCO exit (``orderList/oco`` / ``orderList.place.oco``): a LIMIT_MAKER take-profit and a
        STOP_LOSS of one quantity (a SELL list: the take-profit above, the stop below; a BUY one: reversed)."""
        r = self._rules[x.symbol]
        limit, stop = ("above", "below") if x.side is Side.SELL else ("below", "above")
        params: dict[str, Any] = {
            "symbol": x.symbol,
            "side": x.side.name,
            "quantity": r.format_qty(x.qty),
            "listClientOrderId": x.list_id,
            f"{limit}Type": "LIMIT_MAKER",
            f"{limit}Price": r.format_price(x.take_profit),
            f"{limit}ClientOrderId": x.tp_id,
            f"{stop}Type": "STOP_LOSS",
            f"{stop}StopPrice": r.format_price(x.stop),
            f"{stop}ClientOrderId": x.sl_id,
            "newOrderRespType": "ACK",
        }
        stp = self.stp_modes.get(x.symbol)
        if stp:
            params["selfTradePreventionMode"] = stp
        await self._entry(True, "orderList.place.oco", self._c().create_oco_order, params, paced=True)

    async def cancel_order_list(self, symbol: str, list_id: str) -> None:
        """Cancel an order list by its client id (``DELETE orderList`` / ``orderList.cancel``);
        UnknownOrderError (-2011) when it is not open."""
        await self._entry(
            False, "orderList.cancel", self._rest_cancel_list, {"symbol": symbol, "listClientOrderId": list_id}
        )

    async def _rest_cancel_list(self, **params: Any) -> Any:
        return await self._c()._delete("orderList", True, data=params)

    async def open_order_lists(self) -> list[str]:
        """The client ids of the account's open order lists."""
        lists = await self._call(False, self._c().get_open_oco_orders)
        return [str(x["listClientOrderId"]) for x in lists]

    async def cancel(self, symbol: str, client_id: str) -> None:
        """Cancel by client id; UnknownOrderError (-2011) when it is not open."""
        await self._entry(
            False, "order.cancel", self._c().cancel_order, {"symbol": symbol, "origClientOrderId": client_id}
        )

    async def amend(self, order: Amend) -> None:
        """Reduce an order's quantity keeping its queue position (``order.amend.keepPriority``)."""
        params = {
            "symbol": order.symbol,
            "origClientOrderId": order.client_id,
            "newClientOrderId": order.client_id,  # keep our id (Binance makes a new one up when none is sent)
            "newQty": self._rules[order.symbol].format_qty(order.qty),
        }
        await self._entry(True, "order.amend.keepPriority", self._rest_amend, params)

    async def _rest_amend(self, **params: Any) -> Any:
        return await self._c()._put("order/amend/keepPriority", True, data=params)  # python-binance has no wrapper

    async def cancel_all(self, symbol: str, own_only: bool) -> list[str]:
        """Cancel the symbol's open orders: liqkit's only (by prefix, one by one), or all in one request
        (``openOrders.cancelAll``)."""
        if not own_only:
            try:
                gone = await self._entry(
                    False, "openOrders.cancelAll", self._c().cancel_all_open_orders, {"symbol": symbol}
                )
            except UnknownOrderError:  # -2011: nothing was open
                return []
            return [str(o["origClientOrderId"]) for o in gone if isinstance(o, dict) and "origClientOrderId" in o]
        done = []
        for o in await self.open_orders(symbol):
            if own_only and not is_liqkit_id(o.client_id):
                continue
            with contextlib.suppress(UnknownOrderError):
                await self.cancel(symbol, o.client_id)
                done.append(o.client_id)
        return done

    async def query_order(self, symbol: str, client_id: str) -> OpenOrder | None:
        """The order by client id, or None (-2013) if Binance never had it."""
        try:
            raw = await self._call(False, self._c().get_order, symbol=symbol, origClientOrderId=client_id)
        except UnknownOrderError:
            return None
        return self._order(raw)

    async def order_fills(self, symbol: str, client_id: str) -> list[UserFill]:
        """Every fill of one order (to recover fills a stream gap hid)."""
        oid = self._order_ids.get(client_id)
        if oid is None:
            if await self.query_order(symbol, client_id) is None:
                return []
            oid = self._order_ids[client_id]
        r = self._rules[symbol]
        now = _now()
        trades = await self._call(False, self._c().get_my_trades, symbol=symbol, orderId=oid)
        return [
            UserFill(
                symbol,
                client_id,
                r.price_to_ticks(t["price"]),
                r.qty_to_steps(t["qty"]),
                Decimal(t["commission"]),
                t["commissionAsset"],
                bool(t["isMaker"]),
                int(t["id"]),
                int(t["time"]) * 1_000_000,
                now,
            )
            for t in trades
        ]

    async def events(self) -> AsyncIterator[VenueEvent]:  # type: ignore[override]
        """Market and user events."""
        while True:
            yield await self._queue.get()

    # ---- streams ----------------------------------------------------------------------------------
    async def _market(self, bsm: BinanceSocketManager) -> None:
        """Combined bookTicker/trade streams; recreated with backoff when python-binance gives up."""
        names = [f"{s.lower()}@{k}" for s in self.symbols for k in ("bookTicker", "trade")]
        backoff = 0.2
        while not self._closing:
            try:
                async with bsm.multiplex_socket(names) as sock, self._tracked(sock):
                    while True:
                        # python-binance has no watchdog: a connection can stay open and say nothing
                        try:
                            async with asyncio.timeout(self._silence_s):  # no extra task per message
                                msg = await sock.recv()
                        except TimeoutError:
                            await _abandon(sock)  # or leaving the socket would wait 10 s for its read loop
                            raise
                        if msg.get("e") == "error":  # python-binance reconnects by itself; mark the gap
                            self.stream_restarts += 1
                            self._queue.put_nowait(StreamGap(f"market stream: {msg.get('type')}", _now()))
                            continue
                        backoff = 0.2
                        ev = parse_market(msg.get("data", {}), self._rules, _now())
                        if ev is not None:
                            self.last_market_ns = ev.ts_local
                            self._queue.put_nowait(ev)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the socket is gone: recreate it
                self._stop_if_closing()
                self.stream_restarts += 1
                self._queue.put_nowait(StreamGap(f"market stream lost: {type(e).__name__}", _now()))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _user(self, bsm: BinanceSocketManager) -> None:
        """The user data subscription over the WebSocket API. python-binance does not resubscribe after
        the connection drops (the socket just goes silent), so any error or ``serverShutdown`` ends
        this subscription and a new one is made; the runner reconciles after the ``StreamGap``."""
        backoff = 0.2
        while not self._closing:
            with contextlib.suppress(Exception):
                async with bsm.user_socket() as sock, self._tracked(sock):
                    while True:
                        msg = await sock.recv()
                        if msg.get("e") in ("error", "serverShutdown", "eventStreamTerminated"):
                            self._forget_subscription(sock)
                            break
                        backoff = 0.2
                        for ev in parse_user(msg, self._rules, _now()):
                            self._queue.put_nowait(ev)
            self._stop_if_closing()
            self.stream_restarts += 1
            self._queue.put_nowait(StreamGap("user stream: resubscribing", _now()))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    def _forget_subscription(self, sock: Any) -> None:
        """The server dropped this subscription with its connection: forget it locally, or python-binance
        would try to unsubscribe it on exit over a dead connection and wait 10 s for the answer."""
        sub = getattr(sock, "_subscription_id", None)
        if sub is not None and self.client is not None and self.client.ws_api is not None:
            self.client.ws_api.unregister_subscription_queue(sub)
        with contextlib.suppress(AttributeError):
            sock._subscription_id = None

    @contextlib.asynccontextmanager
    async def _tracked(self, sock: Any) -> AsyncIterator[None]:
        """Keep ``sock`` in ``_socks`` while it is open, for ``close`` to find."""
        self._socks.add(sock)
        try:
            yield
        finally:
            self._socks.discard(sock)

    def _stop_if_closing(self) -> None:
        """End a stream loop whose task was cancelled even if the cancel was swallowed on the way out."""
        task = asyncio.current_task()
        if self._closing or (task is not None and task.cancelling()):
            raise asyncio.CancelledError


def _error_data(e: BinanceAPIException) -> dict[str, Any]:
    """The ``data`` object of an error answer (cancelReplace's halves): from the WebSocket API's
    envelope, or the REST body python-binance read."""
    resp = e.response
    body: Any = None
    if isinstance(resp, dict):
        body = resp.get("error")
    else:
        raw = getattr(resp, "_body", None)
        with contextlib.suppress(Exception):
            body = json.loads(raw) if raw else None
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def _half_error(half: dict[str, Any], placing: bool, what: str) -> VenueError:
    """One half of a cancel-replace's answer (``{"code": ..., "msg": ...}``) as liqkit's error."""
    code, msg = int(half.get("code") or 0), str(half.get("msg") or f"{what} failed")
    if code in (-2011, -2013):
        return UnknownOrderError(msg, code)
    if code in _UNKNOWN_CODES or code == 0:
        return UnknownOutcomeError(f"cancel-replace {what}: {msg}", code or None)
    if code in _RETRY_CODES:
        return RetryableError(msg, code, None)
    if placing:
        return OrderRejected(msg, code, reject_reason(code, msg))
    return VenueError(msg, code)


async def _abandon(sock: Any) -> None:
    """Tell a python-binance socket's read loop to exit and close the connection under it, so leaving
    the socket does not wait for the read loop's 10 s receive timeout."""
    sock.ws_state = WSListenerState.EXITING
    if sock.ws is not None:
        with contextlib.suppress(Exception):
            await sock.ws.close()


def _now() -> int:
    return time.time_ns()


def parse_market(d: dict[str, Any], rules: dict[str, SymbolRules], now: int) -> BookTop | Trade | None:
    """A bookTicker or trade payload as a domain event (None for other payloads or symbols)."""
    r = rules.get(str(d.get("s", "")))
    if r is None:
        return None
    if "e" not in d and "b" in d and "a" in d:  # bookTicker has no event type (nor time) on spot
        return BookTop(
            r.symbol,
            r.price_to_ticks(d["b"]),
            r.qty_to_steps(d["B"]),
            r.price_to_ticks(d["a"]),
            r.qty_to_steps(d["A"]),
            0,
            now,
        )
    if d.get("e") == "trade":
        return Trade(
            r.symbol,
            r.price_to_ticks(d["p"]),
            r.qty_to_steps(d["q"]),
            Side.SELL if d["m"] else Side.BUY,
            int(d["T"]) * 1_000_000,
            now,
            int(d["t"]),
        )
    return None


def parse_user(d: dict[str, Any], rules: dict[str, SymbolRules], now: int) -> list[VenueEvent]:
    """An executionReport or outboundAccountPosition as domain events."""
    kind = d.get("e")
    if kind == "outboundAccountPosition":
        bal = tuple(Balance(b["a"], Decimal(b["f"]), Decimal(b["l"])) for b in d["B"])
        return [BalanceUpdate(bal, int(d["E"]) * 1_000_000, now)]
    if kind != "executionReport":
        return []
    r = rules.get(d["s"])
    if r is None:
        return []
    ts = int(d["E"]) * 1_000_000
    cid = d["C"] if d["x"] == "CANCELED" and d.get("C") else d["c"]
    out: list[VenueEvent] = []
    if d["x"] == "TRADE":
        out.append(
            UserFill(
                r.symbol,
                cid,
                r.price_to_ticks(d["L"]),
                r.qty_to_steps(d["l"]),
                Decimal(d["n"]),
                d["N"] or r.quote_asset,
                bool(d["m"]),
                int(d["t"]),
                ts,
                now,
            )
        )
    out.append(UserOrder(r.symbol, cid, OrderStatus.parse(d["X"]), r.qty_to_steps(d["z"]), ts, now))
    return out
