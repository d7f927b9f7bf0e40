"""Why a run quoted less than its config asks: the lines a backtest prints beside its metrics.

A pair that could not quote (a size under the minimum order value, no balance for a side, a price
ceiling or floor, the ``max_order_notional`` cap) says so in the engine's state records; a run without
fills says why it had none. The metrics stay as they are (no new keys): these lines go to stderr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from liqkit.domain.config import PairConfig

ROUTINE = frozenset({"", "run", "stop", "engine stop", "feed fresh again", "not started"})


def quoting_notes(
    per_pair: Mapping[str, Mapping[str, Any]],
    states: Iterable[Sequence[Any]],
    configs: Mapping[str, PairConfig],
) -> list[str]:
    """One line per distinct reason a pair did not quote as configured, and one for a pair without
    fills (``per_pair``: the result's per-symbol metrics; ``states``: its ``(ts, symbol, state, reason)``
    rows; ``configs``: the pairs' configs, to name the spread)."""
    out: list[str] = []
    said: set[tuple[str, str]] = set()
    for _, symbol, _state, reason in states:
        if reason not in ROUTINE and (symbol, reason) not in said:
            said.add((symbol, reason))
            out.append(f"{symbol}: {reason}")
    for symbol, m in per_pair.items():
        if m.get("fills"):
            continue
        placed = int(m.get("orders_placed") or 0)
        if not placed:
            why = "no order was placed" + (" (see above)" if any(s == symbol for s, _ in said) else "")
        else:
            cfg = configs.get(symbol)
            where = (
                f" (bid_spread {cfg.bid_spread}, ask_spread {cfg.ask_spread} from the {cfg.reference})" if cfg else ""
            )
            hint = "a smaller spread quotes closer to the market"
            if cfg is not None and cfg.model != "fixed":  # the model's spreads, within min/max_spread
                where = f" (model {cfg.model}: its spreads, up to max_spread {cfg.max_spread} from the mid)"
                hint = "a larger intensity_k or a smaller max_spread quotes closer to the market"
            why = f"{placed:,} orders rested but the market never traded through them{where}: {hint}"
        out.append(f"{symbol}: no fills: {why}")
    return out
