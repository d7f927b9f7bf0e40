"""Fault injection for the Binance-compatible server, from a TOML file.

::

    seed = 7

    [[fault]]
    target = "POST /api/v3/order"     # an endpoint, "stream", "ws-api" (user data events),
                                      # "ws-api <method>" (a WebSocket API method), or "*" (every REST call)
    kind = "http502"                  # see KINDS
    probability = 0.1                 # and/or: every = 5 (each 5th call), at = [3, 9] (those calls)

    [[fault]]
    target = "POST /api/v3/order"
    kind = "429"
    at = [12]
    retry_after = 2

Kinds: ``http502`` (HTML body), ``-1007-placed`` (the order is placed, the answer says unknown),
``-1007-not-placed``, ``429`` and ``418`` (with Retry-After), ``delay`` (``delay_ms``),
``clock-skew`` (``skew_ms`` added to the server clock from then on), ``drop`` (close a stream or
WebSocket API connection; on a method: before the request is carried out), ``drop-after`` (a WebSocket
API method: the request is carried out, then the connection closes before the answer),
``server-shutdown`` (send ``serverShutdown`` on user subscriptions or market
streams, then drop), ``session-expire`` (the
WebSocket API connection's 24 hours end: ``serverShutdown``, then closed), ``burst`` (a stream frame sent
``repeat`` times at once: the client's message queue overflows), ``stall`` (a stream connection stays
open but gets nothing more: a silent socket), ``cancel-replace-new-fails`` (cancelReplace: the cancel
done, the new order refused) and ``cancel-replace-cancel-fails`` (the cancel refused, the order left open).
Decisions are seeded: the same file gives the same faults for the same sequence of calls.
"""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liqkit.domain.errors import ConfigError

KINDS = (
    "http502",
    "-1007-placed",
    "-1007-not-placed",
    "429",
    "418",
    "delay",
    "clock-skew",
    "drop",
    "server-shutdown",
    "burst",
    "stall",
    "drop-after",
    "session-expire",
    "cancel-replace-new-fails",
    "cancel-replace-cancel-fails",
)
# what a WebSocket API method ("ws-api <method>") can be made to do; cancelReplace's outcomes only there
WS_METHOD_KINDS = ("drop", "drop-after", "-1007-placed", "-1007-not-placed", "delay", "clock-skew", "session-expire")
CANCEL_REPLACE_KINDS = ("cancel-replace-new-fails", "cancel-replace-cancel-fails")
CANCEL_REPLACE_TARGETS = ("ws-api order.cancelReplace", "POST /api/v3/order/cancelReplace")


@dataclass(frozen=True)
class Fault:
    """One rule: what to break, and when."""

    target: str
    kind: str
    probability: float = 0.0
    every: int = 0
    at: tuple[int, ...] = ()
    retry_after: float = 1.0
    delay_ms: float = 0.0
    skew_ms: int = 0
    repeat: int = 500  # burst: the frame sent this many times at once (floods the client's queue)

    def fires(self, n: int, rng: random.Random) -> bool:
        """Whether this rule fires on the ``n``-th matching call (1-based)."""
        if n in self.at or (self.every and n % self.every == 0):
            return True
        return bool(self.probability) and rng.random() < self.probability


@dataclass
class FaultPlan:
    """The rules of a faults file, with counters of calls and of faults injected."""

    faults: list[Fault] = field(default_factory=list)
    seed: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    skew_ms: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def pick(self, target: str) -> Fault | None:
        """The fault to apply to this call of ``target`` (None: behave)."""
        self.calls[target] += 1
        n = self.calls[target]
        for f in self.faults:
            if (f.target == target or (f.target == "*" and not target.startswith(("stream", "ws-api")))) and f.fires(
                n, self.rng
            ):
                self.injected[f.kind] += 1
                if f.kind == "clock-skew":
                    self.skew_ms += f.skew_ms
                    continue
                return f
        return None

    @property
    def total_injected(self) -> int:
        """How many faults fired so far."""
        return sum(self.injected.values())


def parse_faults(doc: dict[str, Any], source: str = "faults") -> FaultPlan:
    """Validate a faults document (as read from TOML)."""
    unknown = set(doc) - {"seed", "fault"}
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; use seed and [[fault]] tables")
    out = []
    for i, f in enumerate(doc.get("fault", []), start=1):
        where = f"{source}: fault #{i}"
        extra = set(f) - {
            "target",
            "kind",
            "probability",
            "every",
            "at",
            "retry_after",
            "delay_ms",
            "skew_ms",
            "repeat",
        }
        if extra:
            raise ConfigError(f"{where}: unknown keys {sorted(extra)}")
        if f.get("kind") not in KINDS:
            raise ConfigError(f"{where}: kind = {f.get('kind')!r}; use one of {', '.join(KINDS)}")
        if "target" not in f:
            raise ConfigError(
                f"{where}: target is missing (an endpoint like 'POST /api/v3/order', 'stream', 'ws-api', "
                "'ws-api order.place' or '*')"
            )
        _check_target(where, str(f["target"]), str(f["kind"]))
        p = float(f.get("probability", 0))
        if not 0 <= p <= 1:
            raise ConfigError(f"{where}: probability = {p}; must be between 0 and 1")
        out.append(
            Fault(
                str(f["target"]),
                str(f["kind"]),
                p,
                int(f.get("every", 0)),
                tuple(int(x) for x in f.get("at", ())),
                float(f.get("retry_after", 1.0)),
                float(f.get("delay_ms", 0)),
                int(f.get("skew_ms", 0)),
                int(f.get("repeat", 500)),
            )
        )
    return FaultPlan(out, int(doc.get("seed", 0)))


def _check_target(where: str, target: str, kind: str) -> None:
    """Refuse a kind its target cannot act out, naming the ones it can."""
    if kind in CANCEL_REPLACE_KINDS and target not in CANCEL_REPLACE_TARGETS:
        raise ConfigError(
            f"{where}: kind = {kind!r} acts on cancelReplace only: target {' or '.join(CANCEL_REPLACE_TARGETS)}"
        )
    if target.startswith("ws-api "):
        allowed = WS_METHOD_KINDS + (CANCEL_REPLACE_KINDS if target in CANCEL_REPLACE_TARGETS else ())
        if kind not in allowed:
            raise ConfigError(f"{where}: kind = {kind!r} on a WebSocket API method; use one of {', '.join(allowed)}")
    elif target == "ws-api" and kind not in ("drop", "server-shutdown", "session-expire", "clock-skew"):
        raise ConfigError(
            f"{where}: kind = {kind!r} on 'ws-api' (user data events); use drop, server-shutdown, session-expire "
            "or clock-skew, or name a method: target = 'ws-api order.place'"
        )
    elif kind in ("drop-after", "session-expire") and target != "ws-api":
        raise ConfigError(f"{where}: kind = {kind!r} acts on the WebSocket API: target 'ws-api' or 'ws-api <method>'")


def load_faults(path: str | Path) -> FaultPlan:
    """Read a faults TOML file."""
    p = Path(path)
    try:
        return parse_faults(tomllib.loads(p.read_text()), str(p))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: cannot read faults file: {e}") from None
