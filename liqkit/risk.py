"""Pure risk checks: the kill switch and the price range in which it cannot trigger.

PnL is carried doubled, in the pair's ``tick*step`` units, so that a mid between two ticks stays
exact: ``2*pnl = 2*cash + pos*(bid+ask) - ceil(2*fees)``, with fees in (tick*step)/1e8 units.
"""

from __future__ import annotations

from typing import Final

INF: Final = 1 << 60
FEE_SCALE: Final = 100_000_000


def pnl_half_units(cash: int, pos: int, fee_nu: int, bid: int, ask: int) -> int:
    """Twice the mark-to-market PnL at the mid, fees included (rounded against us)."""
    return 2 * cash + pos * (bid + ask) - (-((-2 * fee_nu) // FEE_SCALE))


def kill_switch_hit(cash: int, pos: int, fee_nu: int, bid: int, ask: int, max_loss_units: int) -> bool:
    """Whether PnL at this book is below ``-max_loss`` (0 = no kill switch)."""
    return bool(max_loss_units) and pnl_half_units(cash, pos, fee_nu, bid, ask) < -2 * max_loss_units


def kill_switch_mid_range(cash: int, pos: int, fee_nu: int, max_loss_units: int) -> tuple[int, int]:
    """The range of ``bid + ask`` in which the kill switch cannot trigger for this position."""
    if not max_loss_units or not pos:
        return -INF, INF
    need = -2 * max_loss_units - 2 * cash + (-((-2 * fee_nu) // FEE_SCALE))  # pos*(b+a) >= need
    if pos > 0:
        return -((-need) // pos), INF
    return -INF, need // pos
