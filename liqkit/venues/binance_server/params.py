"""Request parameters as Binance reads them, for REST and WebSocket API alike: a mapping of names to the
text sent, each read and refused with Binance's code and message (-1100 illegal characters, -1102 missing,
-1121 unknown symbol, -1128 a bad combination)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from liqkit.venues.binance_server.auth import ApiError

# Binance's rule for symbols=[...], its "9-_" read as three characters (a regex would read a range)
_SYMBOLS = re.compile(r'^\[("[A-Z0-9_.-]{1,20}"(,"[A-Z0-9_.-]{1,20}")*)?\]$')
DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")


def missing(name: str) -> ApiError:
    """Binance's -1102 for a mandatory parameter not sent."""
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str, legal: str) -> ApiError:
    """Binance's -1100 for a parameter outside its legal range."""
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def symbol(params: Mapping[str, str], served: Collection[str], mandatory: bool = True) -> str:
    """The ``symbol`` parameter, upper-cased: -1102 when missing (if mandatory), -1121 when not served."""
    sym = params.get("symbol", "").upper()
    if not sym:
        if mandatory:
            raise missing("symbol")
        return ""
    if sym not in served:
        raise ApiError(-1121, "Invalid symbol.")
    return sym


def symbols(params: Mapping[str, str], served: Sequence[str]) -> tuple[list[str], bool]:
    """``symbol`` or ``symbols`` (a JSON array) or neither (every symbol): (symbols, asked for one)."""
    one, many = params.get("symbol"), params.get("symbols")
    if one is not None and many is not None:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    if one is not None:
        return [symbol(params, served)], True
    if many is None:
        return list(served), False
    if not _SYMBOLS.match(many):
        raise illegal("symbols", '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$')
    names = [str(x) for x in json.loads(many)]
    if any(n not in served for n in names):
        raise ApiError(-1121, "Invalid symbol.")
    return list(dict.fromkeys(names)), False


def integer(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    """An integer parameter (None or ``default`` when absent); -1100 when it is not one."""
    text = params.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise illegal(name, "^[0-9]{1,20}$")
    return int(text)


def limit(params: Mapping[str, str], default: int, most: int) -> int:
    """``limit``: ``default`` when absent, at most ``most`` (more is answered as ``most``)."""
    n = integer(params, "limit", default)
    assert n is not None
    if n < 1:
        raise illegal("limit", "^[1-9][0-9]{0,19}$")
    return min(n, most)


def decimal(params: Mapping[str, str], name: str) -> Decimal:
    """A positive decimal parameter: -1102 when missing, -1100 when it is not a plain decimal."""
    text = params.get(name, "")
    if not text:
        raise missing(name)
    if not DECIMAL.match(text):
        raise illegal(name, DECIMAL.pattern)
    return Decimal(text)


def choice(params: Mapping[str, str], name: str, allowed: Sequence[str], default: str | None = None) -> str:
    """An enum parameter: ``default`` when absent (-1102 when there is none), -1100 naming the allowed
    values when it is not one of them."""
    text = params.get(name) or default
    if text is None:
        raise missing(name)
    if text not in allowed:
        raise illegal(name, ", ".join(allowed))
    return text


def boolean(params: Mapping[str, str], name: str, default: bool) -> bool:
    """A ``true``/``false`` parameter (any case); -1100 otherwise."""
    text = params.get(name)
    if text is None or text == "":
        return default
    if text.lower() not in ("true", "false"):
        raise illegal(name, "true, false")
    return text.lower() == "true"
