"""Client order ids liqkit can recognise and trace: ``lq.<SYMBOL>.<B|S><level>.<run>.<seq>``.

At most 36 characters from ``[.A-Z:/a-z0-9_-]`` (Binance's rule); unique across runs thanks to the
run nonce; the prefix ``lq.`` marks an order as liqkit's for cleanup. Nothing parses ids back:
the engine keeps a table from id to order.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

PREFIX: Final = "lq."
MAX_LEN: Final = 36
_VALID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_run_nonce(rng: secrets.SystemRandom | None = None) -> str:
    """Four base-36 characters identifying one engine run."""
    return "".join((rng or secrets.SystemRandom()).choice(_B36) for _ in range(4))


class ClientIdFactory:
    """Make client ids for one pair of one run."""

    def __init__(self, symbol: str, run_nonce: str) -> None:
        # room: prefix + symbol + '.S19.' + nonce + '.' + 8 digits of sequence (1e8 orders a run)
        self._sym = symbol[: MAX_LEN - len(PREFIX) - len(run_nonce) - 14]
        self._nonce = run_nonce
        self._seq = 0
        self._heads: dict[str, list[str]] = {}  # side char -> per level "lq.<SYMBOL>.<side><level>.<nonce>."

    def __call__(self, side_char: str, level: int) -> str:
        self._seq += 1
        if self._seq >= 100_000_000:  # keep within 36 characters: continue under a new run nonce
            self._seq, self._nonce, self._heads = 1, new_run_nonce(), {}
        heads = self._heads.get(side_char)
        if heads is None:
            heads = self._heads[side_char] = []
        while len(heads) <= level:
            heads.append(f"{PREFIX}{self._sym}.{side_char}{len(heads)}.{self._nonce}.")
        return heads[level] + str(self._seq)


def is_liqkit_id(client_id: str) -> bool:
    """Whether an open order's client id carries liqkit's prefix."""
    return client_id.startswith(PREFIX)


def is_valid_client_id(client_id: str) -> bool:
    """Whether ``client_id`` satisfies Binance's client order id rule."""
    return bool(_VALID.match(client_id))
