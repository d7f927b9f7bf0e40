"""Number formatting for the panels (display only: orders are never priced from these)."""

from __future__ import annotations

from typing import Any


def num(v: Any, digits: int = 2) -> str:
    """A float with ``digits`` decimals and thousands separators; "" for None or non-numbers."""
    try:
        return f"{float(v):,.{digits}f}"
    except (TypeError, ValueError):
        return ""


def dec(v: Any) -> str:
    """A decimal string as sent by the engine, trailing zeros trimmed; "" for None."""
    if v is None:
        return ""
    s = str(v)
    if "." in s and "e" not in s.lower():
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def with_unit(v: Any, unit: str) -> str:
    """``dec(v)`` followed by its asset (``"0.001 BTC"``); just the number when the asset is not known."""
    text = dec(v)
    return f"{text} {unit}" if text and unit else text


def clock(ts_ns: int | None) -> str:
    """A time in ns as ``HH:MM:SS`` (UTC); "" when unknown."""
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%H:%M:%S") if ts_ns else ""


def to_float(v: Any) -> float | None:
    """``float(v)``, or None when ``v`` is None or not a number."""
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
