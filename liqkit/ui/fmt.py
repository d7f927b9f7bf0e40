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


def to_float(v: Any) -> float | None:
    """``float(v)``, or None when ``v`` is None or not a number."""
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
