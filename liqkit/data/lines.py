"""Reading capture lines safely: gzip checked, UTF-8 checked, truncation named, local time units told apart.

A capture line is ``<local receive time> <raw JSON>``. liqkit writes the time in nanoseconds, but older
collectors wrote microseconds (and some tools milliseconds or seconds). Read as nanoseconds, six minutes
of 2023 in microseconds would become 0.4 s of 1970, and a backtest would report 0 fills as if that were a
result. So the unit is told by magnitude: a time is a date between 2000 and 2100 in exactly one of s, ms,
µs and ns (the ranges do not overlap). The first line of a file fixes its unit; a later line in another
unit, or a time that is no such date in any unit, is refused with the file and the line.

Every failure is a ``DataError`` naming the file (and the line): "not gzip", "not UTF-8 text",
"truncated after N lines", "corrupt gzip data after N lines" — never a ``UnicodeDecodeError``.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from liqkit.domain.errors import DataError

PLAUSIBLE_S = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01 UTC, seconds
PLAUSIBLE_YEARS = "2000 and 2100"
UNITS: tuple[tuple[str, int], ...] = (("s", 10**9), ("ms", 10**6), ("µs", 10**3), ("ns", 1))  # ns per unit
_GZIP_MAGIC = b"\x1f\x8b"


def _bounds(factor: int) -> tuple[int, int]:
    lo, hi = PLAUSIBLE_S
    return lo * 10**9 // factor, hi * 10**9 // factor


def unit_of(value: int) -> tuple[str, int] | None:
    """``(unit name, ns per unit)`` of a timestamp told by magnitude, or None when it is no date in
    2000-2100 in any of s, ms, µs, ns."""
    for name, factor in UNITS:
        lo, hi = _bounds(factor)
        if lo <= value < hi:
            return name, factor
    return None


def untold(value: object) -> str:
    """The message for a timestamp whose unit cannot be told."""
    return f"{value} is not a date between {PLAUSIBLE_YEARS} in s, ms, µs or ns: its unit cannot be told"


def units_to_ns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's unit told by magnitude: ``(ns per unit, ok)`` arrays (``ok`` False: no unit fits)."""
    v = np.asarray(values, np.int64)
    factor = np.zeros(len(v), np.int64)
    for _, f in UNITS:
        lo, hi = _bounds(f)
        factor[(v >= lo) & (v < hi)] = f
    return factor, factor > 0


def exchange_ns(values_ms: list[int] | np.ndarray) -> np.ndarray:
    """Binance event/trade times (documented ms; µs when a stream was asked for them, or ns) in ns.

    Each value is told by its magnitude; one that fits no unit keeps the documented ms.
    """
    v = np.asarray(values_ms, np.int64)
    factor, ok = units_to_ns(v)
    return np.asarray(v * np.where(ok, factor, 10**6), np.int64)


def column_to_ns(ts: np.ndarray, what: str, source: str) -> tuple[np.ndarray, str]:
    """A whole column of times in one unit (told by magnitude) as ns, with the unit's name.

    Refuses (naming the row) a column whose unit cannot be told or that mixes units.
    """
    v = np.asarray(ts, np.int64)
    if not len(v):
        return v, "ns"
    first = unit_of(int(v[0]))
    if first is None:
        raise DataError(f"{source}: {what} row 0: {untold(int(v[0]))}")  # the column's first value
    name, factor = first
    lo, hi = _bounds(factor)
    bad = np.flatnonzero((v < lo) | (v >= hi))
    if bad.size:
        i = int(bad[0])
        other = unit_of(int(v[i]))
        why = f"{int(v[i])} is in {other[0]} while row 0 is in {name}" if other else untold(int(v[i]))
        raise DataError(f"{source}: {what} row {i}: {why}")
    return (v if factor == 1 else v * factor), name


class CaptureLines:
    """Iterate a capture file as ``(line number, local time in ns, JSON text)``; blank lines skipped.

    After the iteration ``unit`` is the unit the file's local times were written in (None: no line).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.src = str(path)
        self.unit: str | None = None
        self._factor = 1
        self._lo = self._hi = 0

    def _open(self) -> BinaryIO:
        try:
            raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115
        except OSError as e:
            raise DataError(f"{self.src}: cannot open: {e.strerror or e}") from None
        head = raw.read(2)
        raw.seek(0)
        if self.path.suffix == ".gz" or head == _GZIP_MAGIC:
            if head != _GZIP_MAGIC:
                raw.close()
                shown = "an empty file" if not head else f"starts with {head!r}"
                raise DataError(f"{self.src}: not gzip ({shown}); a capture .gz is gzip text of '<ns> <json>' lines")
            return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw

    def _time(self, head: str, lineno: int) -> int:
        ts = int(head)
        if self.unit is None:
            found = unit_of(ts)
            if found is None:
                raise DataError(f"{self.src}:{lineno}: local time {untold(ts)}")
            self.unit, self._factor = found
            self._lo, self._hi = _bounds(self._factor)
        elif not self._lo <= ts < self._hi:
            other = unit_of(ts)
            why = f"{ts} is in {other[0]}, the lines before in {self.unit}" if other else untold(ts)
            raise DataError(f"{self.src}:{lineno}: local time {why}")
        return ts * self._factor

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        fh = self._open()
        lineno = 0
        try:
            with fh:
                for lineno, raw in enumerate(fh, start=1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise DataError(
                            f"{self.src}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1});"
                            " is it a binary file?"
                        ) from None
                    if "\x00" in line:
                        raise DataError(f"{self.src}:{lineno}: not text (NUL bytes): is it a binary file?")
                    if not line.strip():
                        continue
                    head, _, body = line.partition(" ")
                    try:
                        ts = self._time(head, lineno)
                    except ValueError as e:
                        if isinstance(e, DataError):
                            raise
                        shown = repr(head[:30])
                        raise DataError(f"{self.src}:{lineno}: not '<ns> <json>': {shown} is not a time") from None
                    yield lineno, ts, body
        except EOFError:
            raise DataError(
                f"{self.src}: truncated after {lineno} lines "
                "(the gzip stream ends early: an interrupted copy or recording?)"
            ) from None
        except (zlib.error, gzip.BadGzipFile) as e:
            raise DataError(f"{self.src}: corrupt gzip data after {lineno} lines ({e})") from None
        except OSError as e:
            raise DataError(f"{self.src}: unreadable after {lineno} lines ({e.strerror or e})") from None


def describe_units(units: list[str | None]) -> str:
    """The units read, smallest last: ``"ns"``, ``"µs"``, or ``"µs, ns"`` for files in different units."""
    found = sorted({u for u in units if u}, key=[n for n, _ in UNITS].index)
    return ", ".join(found) if found else "none"
