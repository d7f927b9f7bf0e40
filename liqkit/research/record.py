"""Record Binance spot market streams to captures: ``liqkit record --symbols BTCUSDT,ETHUSDT --out DIR``.

Each symbol's ``bookTicker``, ``trade`` and ``depth@100ms`` streams are written, frame by frame as
received, in the capture format of ``liqkit.data.capture`` (gzip lines ``<local receive ns> <raw JSON>``,
the same as hftbacktest's collector), to ``DIR/<symbol>/<symbol>_<YYYYMMDD>_<HHMMSS>.gz``; a new file
starts every ``rotate_s`` seconds (an hour by default, on the UTC hour). A REST depth snapshot is the
first line of the recording; another is taken once the streams are up (Binance's way to sync a book:
subscribe, then snapshot, then apply updates with ``u`` > lastUpdateId), and one at the start of every
later file, each written in receive order, so every file can rebuild the book on its own.

Reconnects: python-binance reconnects a dropped socket by itself and reports the drop; a socket it gave
up on is made anew with backoff. Either way a gap marker line goes to every symbol's file,
``{"stream": "<sym>@liqkitGap", "data": {"e": "liqkitGap", "reason": ..., "last_ns": ...}}`` (readers of
the capture format skip streams they do not know; ``liqkit.data.frames`` reports it), and a fresh depth
snapshot follows. Public streams need no API keys. ``venue`` is ``binance-testnet``, ``binance-demo``,
``binance-live`` (market data only: nothing is traded) or a URL such as a ``liqkit sim-server`` (``http://127.0.0.1:8790``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from liqkit.data.frames import GAP_STREAM
from liqkit.domain.errors import ConfigError, VenueError

VENUES = ("binance-testnet", "binance-demo", "binance-live")
KINDS = ("bookTicker", "trade", "depth")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_STREAM = re.compile(r'^\{\s*"stream"\s*:\s*"([^"@]+)@')
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)


def parse_symbols(text: str | Iterable[str]) -> list[str]:
    """``"BTCUSDT,ethusdt"`` (or a list) as upper-case symbols; ConfigError naming a bad one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = [s.strip().upper() for s in items if s.strip()]
    if not out:
        raise ConfigError("--symbols: give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    for s in out:
        if not _SYMBOL.match(s):
            raise ConfigError(f"--symbols: {s!r} is not a Binance symbol (letters and digits, e.g. BTCUSDT)")
    return list(dict.fromkeys(out))


def resolve_venue(venue: str) -> tuple[str | None, dict[str, bool]]:
    """``(base_url, python-binance's testnet/demo flags)`` for a venue name or a server URL; ConfigError
    otherwise."""
    if venue == "binance-testnet":
        return None, {"testnet": True}
    if venue == "binance-demo":
        return None, {"demo": True}
    if venue == "binance-live":
        return None, {}
    if re.match(r"^https?://[^\s/]+(:\d+)?/?$", venue):
        return venue.rstrip("/"), {}
    raise ConfigError(
        f"--venue: {venue!r} is none of {', '.join(VENUES)}, nor a server URL such as http://127.0.0.1:8790"
    )


@dataclass
class RecordStats:
    """What a recording wrote."""

    frames: Counter[str] = field(default_factory=Counter)  # by "<SYMBOL> <kind>"
    files: list[Path] = field(default_factory=list)
    snapshots: Counter[str] = field(default_factory=Counter)
    gaps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _SymbolFile:
    """One symbol's current capture file, rotated every ``rotate_ns`` of local time."""

    def __init__(
        self, symbol: str, folder: Path, rotate_ns: int, on_new_file: Callable[[str, Path, bool], None]
    ) -> None:
        self.symbol = symbol
        self.folder = folder
        self.rotate_ns = rotate_ns
        self.on_new_file = on_new_file
        self.fh: TextIO | None = None
        self.period_end = 0
        self.last_ts = 0
        self.opened = 0

    def write(self, ts: int, text: str) -> None:
        ts = max(ts, self.last_ts)  # the wall clock may step back; the format needs ordered times
        if self.fh is None or ts >= self.period_end:
            self._rotate(ts)
        assert self.fh is not None
        self.fh.write(f"{ts} {text}\n")
        self.last_ts = ts

    def _rotate(self, ts: int) -> None:
        self.close()
        start = ts // self.rotate_ns * self.rotate_ns
        self.period_end = start + self.rotate_ns
        stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(start // 1_000_000_000))
        path = self.folder / f"{self.symbol.lower()}_{stamp}.gz"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fh = gzip.open(path, "at", encoding="utf-8", compresslevel=6)  # noqa: SIM115
        self.opened += 1
        self.on_new_file(self.symbol, path, self.opened > 1)

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _keep_raw(sock: Any) -> None:
    """Make a python-binance socket hand over ``(local receive ns, frame text)`` instead of parsed JSON.

    python-binance parses each frame before queueing it; a recorder needs the frame as received and
    the time it arrived (not the time it left the queue), so this socket's parse hook is replaced.
    Errors it reports (drops, reconnects) still arrive as dicts.
    """

    def handle(evt: str | bytes) -> tuple[int, str]:
        return time.time_ns(), evt if isinstance(evt, str) else evt.decode("utf-8")

    setattr(sock, "_handle_message", handle)  # noqa: B010


class Recorder:
    """Record the market streams of ``symbols`` into ``out_dir`` until ``stop()`` or a duration ends."""

    def __init__(
        self,
        symbols: str | Iterable[str],
        out_dir: str | Path,
        *,
        venue: str = "binance-testnet",
        rotate_s: float = 3600.0,
        depth_limit: int = 1000,
        depth_speed: str = "100ms",
        flush_s: float = 2.0,
    ) -> None:
        self.symbols = parse_symbols(symbols)
        self.base_url, self._flags = resolve_venue(venue)
        self.venue = venue
        if rotate_s <= 0:
            raise ConfigError(f"--rotate: {rotate_s} must be > 0 seconds")
        if depth_limit not in _DEPTH_LIMITS:
            raise ConfigError(f"--depth-limit: {depth_limit}; Binance allows {', '.join(map(str, _DEPTH_LIMITS))}")
        if depth_speed not in ("100ms", "1000ms"):
            raise ConfigError(f"--depth-speed: {depth_speed!r}; use 100ms or 1000ms")
        self.out = Path(out_dir)
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out: {self.out} exists and is not a folder")
        self.depth_limit = depth_limit
        self.flush_s = flush_s
        self.stats = RecordStats()
        self.streams = [
            f"{s.lower()}@{k}" for s in self.symbols for k in ("bookTicker", "trade", f"depth@{depth_speed}")
        ]
        self._files = {
            s: _SymbolFile(s, self.out / s.lower(), int(rotate_s * 1e9), self._new_file) for s in self.symbols
        }
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # streaming, and every symbol has a snapshot taken since
        self._client: Any = None
        self._socks: set[Any] = set()
        self._snapshots: set[asyncio.Task[None]] = set()
        self._last_ns = 0
        self._closing = False
        self._in_gap = False
        self.reconnects = 0

    # ---- lifecycle --------------------------------------------------------------------------------
    async def run(self, duration: float | None = None) -> RecordStats:
        """Record until ``stop()`` is called or ``duration`` seconds have passed; close every file."""
        from binance.exceptions import BinanceAPIException

        from liqkit.venues.binance import client_class, close_client

        try:
            self._client = await client_class(self.base_url).create(None, None, **self._flags)
        except Exception as e:
            raise VenueError(f"cannot reach {self.venue}: {type(e).__name__}: {e}") from None
        try:
            for s in self.symbols:  # each file starts with a snapshot; an unknown symbol fails here, early
                try:
                    answer = await self._client.get_order_book(symbol=s, limit=self.depth_limit)
                except BinanceAPIException as e:
                    raise VenueError(f"{s} on {self.venue}: {e.message}", e.code) from None
                self._files[s].write(time.time_ns(), json.dumps(answer, separators=(",", ":")))
                self.stats.snapshots[s] += 1
            stream = asyncio.create_task(self._stream(), name="liqkit-record")
            flusher = asyncio.create_task(self._flush_loop(), name="liqkit-record-flush")
            try:
                await asyncio.wait_for(self._stop.wait(), duration)
            except TimeoutError:
                pass
            finally:
                await self._shutdown(stream, flusher)
        finally:
            for f in self._files.values():
                f.close()
            if self._client is not None:
                await close_client(self._client)
        return self.stats

    def stop(self) -> None:
        """End the recording (``run`` returns after closing the files)."""
        self._stop.set()

    async def _shutdown(self, *tasks: asyncio.Task[None]) -> None:
        from binance.ws.constants import WSListenerState

        self._closing = True
        for sock in list(self._socks):  # python-binance notices an exit only after a read: close under it
            sock.ws_state = WSListenerState.EXITING
            if sock.ws is not None:
                with contextlib.suppress(Exception):
                    await sock.ws.close()
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=3.0)
        if self._snapshots:  # a file opened just now still gets its snapshot
            await asyncio.wait(list(self._snapshots), timeout=3.0)
        for t in list(self._snapshots):
            t.cancel()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            for f in self._files.values():
                f.flush()

    # ---- streams ----------------------------------------------------------------------------------
    async def _stream(self) -> None:
        from liqkit.venues.binance import socket_manager_class

        bsm = socket_manager_class(self.base_url)(self._client, max_queue_size=100_000)
        backoff = 0.5
        first = True
        while not self._stop.is_set():
            sock = bsm.multiplex_socket(self.streams)
            _keep_raw(sock)
            try:
                async with sock:
                    self._socks.add(sock)
                    fresh = True
                    while True:
                        msg = await sock.recv()
                        if isinstance(msg, dict):  # python-binance lost the socket and reconnects it
                            self._gap(f"stream {msg.get('type', 'error')}: {msg.get('m', '')}".strip())
                            fresh = True
                            continue
                        self._in_gap = False
                        ts, text = msg
                        if fresh:  # streaming (again): a snapshot to rebuild the book from
                            fresh = False
                            if not first:
                                self.reconnects += 1
                            first = False
                            for s in self.symbols:
                                self._snapshot(s)
                        self._write(ts, text)
                        backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as e:  # python-binance gave up on this socket: make a new one
                if self._stop.is_set():
                    return
                self._gap(f"stream lost: {type(e).__name__}: {e}")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                self._socks.discard(sock)

    def _write(self, ts: int, text: str) -> None:
        text = text.strip()
        m = _STREAM.match(text)
        if m is None:
            try:
                stream = str(json.loads(text).get("stream", ""))
            except (ValueError, AttributeError):
                self.stats.errors.append(f"not a combined-stream frame: {text[:80]}")
                return
            name, _, kind = stream.partition("@")
        else:
            name, kind = m.group(1), text[m.end() : text.find('"', m.end())]
        f = self._files.get(name.upper())
        if f is None:
            return
        f.write(ts, text)
        self._last_ns = ts
        k = kind.lower()
        label = "bookTicker" if k == "bookticker" else ("depth" if k.startswith("depth") else kind)
        self.stats.frames[f"{f.symbol} {label}"] += 1

    def _gap(self, reason: str) -> None:
        """Mark a gap in every file, once per outage (python-binance may report one drop several times)."""
        if self._closing or self._in_gap:
            return
        self._in_gap = True
        now = time.time_ns()
        self.stats.gaps.append(reason)
        for s, f in self._files.items():
            data = {"e": GAP_STREAM, "reason": reason, "last_ns": self._last_ns}
            f.write(now, json.dumps({"stream": f"{s.lower()}@{GAP_STREAM}", "data": data}, separators=(",", ":")))

    def _new_file(self, symbol: str, path: Path, rotated: bool) -> None:
        self.stats.files.append(path)
        if rotated:  # the first file gets the snapshot taken when the streams came up
            self._snapshot(symbol)

    def _snapshot(self, symbol: str) -> None:
        task = asyncio.get_running_loop().create_task(self._take_snapshot(symbol))
        self._snapshots.add(task)
        task.add_done_callback(self._snapshots.discard)

    async def _take_snapshot(self, symbol: str) -> None:
        try:
            answer = await self._client.get_order_book(symbol=symbol, limit=self.depth_limit)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the stream goes on; the file says so
            self.stats.errors.append(f"{symbol} depth snapshot: {type(e).__name__}: {e}")
            return
        self._files[symbol].write(time.time_ns(), json.dumps(answer, separators=(",", ":")))
        self.stats.snapshots[symbol] += 1
        if all(self.stats.snapshots[s] >= 2 for s in self.symbols):  # the first, then one once streaming
            self.ready.set()


def record(
    symbols: str | Iterable[str],
    out_dir: str | Path,
    *,
    duration: float | None = None,
    venue: str = "binance-testnet",
    rotate_s: float = 3600.0,
    depth_limit: int = 1000,
) -> RecordStats:
    """Record from a plain (non-async) caller; Ctrl-C ends it cleanly. See ``Recorder``."""
    rec = Recorder(symbols, out_dir, venue=venue, rotate_s=rotate_s, depth_limit=depth_limit)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(rec.run(duration))
    return rec.stats
