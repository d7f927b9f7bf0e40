"""The events an engine publishes: small typed records, one class per kind.

The runner publishes ``book``, ``order``, ``fill``, ``balance``, ``state`` and ``config`` events
(``RunnerEvent``) to its listeners and subscribers; ``EngineHandle.events()`` turns book events into
coalesced ``ticker`` events and adds ``health`` and, first, ``snapshot`` (``Event``). Each record has
a ``kind`` and ``to_json()``, the dict the control API's event stream sends (decimals as strings,
times in integer nanoseconds); ``event_from_json`` reads such a dict back into its record, so an
in-process engine and a remote one yield the same types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from pydantic import ValidationError

from liqkit.domain.errors import LiqkitError
from liqkit.engine.views import BALANCES, PNL, Balance, EngineStatus, PairPnl, SideName, Snapshot


@dataclass(frozen=True, slots=True)
class BookEvent:
    """A pair's best bid and ask in the symbol's integer ticks (runner subscribers only: not on the wire)."""

    kind: ClassVar[Literal["book"]] = "book"
    symbol: str
    bid: int
    ask: int
    ts: int

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {"kind": "book", "symbol": self.symbol, "bid": self.bid, "ask": self.ask, "ts": self.ts}


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order's new state (placed, accepted, cancelled, filled, unknown, ...)."""

    kind: ClassVar[Literal["order"]] = "order"
    symbol: str
    client_id: str
    side: SideName
    price: str
    qty: str
    filled: str
    level: int
    status: str
    ts: int
    purpose: str = "quote"  # or "rebalance": the active rebalance's order; or "exit": an OCO exit's leg

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "kind": "order",
            "symbol": self.symbol,
            "client_id": self.client_id,
            "side": self.side,
            "price": self.price,
            "qty": self.qty,
            "filled": self.filled,
            "level": self.level,
            "status": self.status,
            "ts": self.ts,
            "purpose": self.purpose,
        }


@dataclass(frozen=True, slots=True)
class FillEvent:
    """An execution of a liqkit order, with the market mid at the time (None before any book)."""

    kind: ClassVar[Literal["fill"]] = "fill"
    symbol: str
    client_id: str
    side: SideName
    price: str
    qty: str
    fee: str
    mid: str | None
    fee_asset: str
    maker: bool
    ts: int
    purpose: str = "quote"  # or "rebalance": a fill of the active rebalance's order; or "exit": an exit leg's

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "kind": "fill",
            "symbol": self.symbol,
            "client_id": self.client_id,
            "side": self.side,
            "price": self.price,
            "qty": self.qty,
            "fee": self.fee,
            "mid": self.mid,
            "fee_asset": self.fee_asset,
            "maker": self.maker,
            "ts": self.ts,
            "purpose": self.purpose,
        }


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """New balances of the assets that changed."""

    kind: ClassVar[Literal["balance"]] = "balance"
    ts: int
    balances: Mapping[str, Balance]

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "kind": "balance",
            "ts": self.ts,
            "balances": {a: {"free": b.free, "locked": b.locked} for a, b in self.balances.items()},
        }


@dataclass(frozen=True, slots=True)
class StateEvent:
    """A pair (``symbol``) or the engine (``symbol`` None) changed state; on the wire ``detail``/``note``."""

    kind: ClassVar[Literal["state"]] = "state"
    ts: int
    symbol: str | None
    state: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {"kind": "state", "ts": self.ts, "symbol": self.symbol, "detail": self.state, "note": self.reason}


@dataclass(frozen=True, slots=True)
class ConfigEvent:
    """A pair's config changed (``config`` as JSON, ``source`` who changed it); on the wire ``detail``/``note``."""

    kind: ClassVar[Literal["config"]] = "config"
    ts: int
    symbol: str | None
    config: Mapping[str, Any]
    source: str

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "kind": "config",
            "ts": self.ts,
            "symbol": self.symbol,
            "detail": dict(self.config),
            "note": self.source,
        }


@dataclass(frozen=True, slots=True)
class TickerEvent:
    """A pair's market and our quotes, coalesced to a few a second."""

    kind: ClassVar[Literal["ticker"]] = "ticker"
    symbol: str
    ts: int
    bid: str
    ask: str
    spread_bps: float | None
    our_bid: str | None
    our_ask: str | None
    our_spread_bps: float | None
    position: str
    state: str

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "kind": "ticker",
            "symbol": self.symbol,
            "ts": self.ts,
            "bid": self.bid,
            "ask": self.ask,
            "spread_bps": self.spread_bps,
            "our_bid": self.our_bid,
            "our_ask": self.our_ask,
            "our_spread_bps": self.our_spread_bps,
            "position": self.position,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """The engine status and PnL, sent every second so clients need not poll them."""

    kind: ClassVar[Literal["health"]] = "health"
    ts: int
    status: EngineStatus
    pnl: Mapping[str, PairPnl]

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        return {
            "kind": "health",
            "ts": self.ts,
            "status": self.status.model_dump(mode="json"),
            "pnl": {s: p.model_dump(mode="json") for s, p in self.pnl.items()},
        }


@dataclass(frozen=True, slots=True)
class SnapshotEvent:
    """The first event of every stream: where the deltas start from."""

    kind: ClassVar[Literal["snapshot"]] = "snapshot"
    snapshot: Snapshot

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data: ``kind`` beside the snapshot's fields."""
        return {"kind": "snapshot", **self.snapshot.model_dump(mode="json")}


RunnerEvent = BookEvent | OrderEvent | FillEvent | BalanceEvent | StateEvent | ConfigEvent
"""What ``EngineRunner`` publishes."""
Event = OrderEvent | FillEvent | BalanceEvent | StateEvent | ConfigEvent | TickerEvent | HealthEvent | SnapshotEvent
"""What ``EngineHandle.events()`` yields."""

_SAME_KEYS: dict[str, type[BookEvent | OrderEvent | FillEvent | TickerEvent]] = {
    "book": BookEvent,
    "order": OrderEvent,
    "fill": FillEvent,
    "ticker": TickerEvent,
}


class EventFormatError(LiqkitError, ValueError):
    """A dict that is not an event of this liqkit's stream (unknown kind, missing or unknown keys)."""


def _fields(kind: str, d: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    keys = set(d) - {"kind"}
    missing, unknown = set(names) - keys, keys - set(names)
    if missing or unknown:
        parts = [f"missing {sorted(missing)}" if missing else "", f"unknown {sorted(unknown)}" if unknown else ""]
        raise EventFormatError(f"{kind!r} event: {', '.join(p for p in parts if p)} (is the service another version?)")
    return {n: d[n] for n in names}


def event_from_json(d: Mapping[str, Any]) -> Event | BookEvent:
    """The record of a JSON event (as ``to_json`` made it); EventFormatError names what does not fit."""
    kind = d.get("kind")
    try:
        if isinstance(kind, str) and kind in _SAME_KEYS:
            cls = _SAME_KEYS[kind]
            return cls(**_fields(kind, d, tuple(f.name for f in fields(cls))))
        if kind == "balance":
            f = _fields(kind, d, ("ts", "balances"))
            return BalanceEvent(f["ts"], BALANCES.validate_python(f["balances"]))
        if kind == "state":
            f = _fields(kind, d, ("ts", "symbol", "detail", "note"))
            return StateEvent(f["ts"], f["symbol"], f["detail"], f["note"])
        if kind == "config":
            f = _fields(kind, d, ("ts", "symbol", "detail", "note"))
            return ConfigEvent(f["ts"], f["symbol"], f["detail"], f["note"])
        if kind == "health":
            f = _fields(kind, d, ("ts", "status", "pnl"))
            return HealthEvent(f["ts"], EngineStatus.model_validate(f["status"]), PNL.validate_python(f["pnl"]))
        if kind == "snapshot":
            return SnapshotEvent(Snapshot.model_validate({k: v for k, v in d.items() if k != "kind"}))
    except ValidationError as e:
        raise EventFormatError(f"{kind!r} event: {e}") from None
    raise EventFormatError(f"unknown event kind {kind!r}")
