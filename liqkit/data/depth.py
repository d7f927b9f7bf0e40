"""Depth for the simulated exchange: a recording's diff-depth events put in sync with its REST snapshots.

A capture holds diff-depth events (``<sym>@depth@100ms``: first update id ``U``, last ``u``, the new
quantity of each price level that changed, 0 removing it) and REST depth snapshots (``lastUpdateId``),
in the order they were received. ``synchronise`` rebuilds the book as Binance's "How to manage a local
order book correctly" says to:

- events are buffered until a snapshot; those with ``u <= lastUpdateId`` are older than it and dropped;
- the first event applied must have ``U <= lastUpdateId + 1`` (it bridges the snapshot). If it does not,
  the snapshot is too old for the stream (a recorder's snapshot taken before its streams were up):
  it is skipped and the next one is tried;
- from then on each event's ``U`` must be the previous ``u + 1``. An event with ``u`` at or below the
  book's id is old and ignored; one with ``U`` above ``u + 1`` is a gap: updates were lost, the book is
  wrong from there. It is dropped (the replay then knows the top of the book only) until a later
  snapshot rebuilds it, and the gap is reported loudly: a warning on the ``liqkit.data`` logger, and the
  lines in ``gaps`` (``MarketData.meta["depth_gaps"]``). Later snapshots while the book is in sync are
  not needed and not applied.

The result is ``MarketData.depth``: one row per level change, in the order the replay applies them
(``DEPTH_COLUMNS``, int64 arrays):

- ``ts_local``: when the replay applies the row (an event's receive time; a snapshot, and the buffered
  events it bridges to, at the snapshot's receive time);
- ``update_id``: the book's update id once the row's event is applied;
- ``reset``: ``SNAPSHOT`` on the first row of a snapshot (the book is replaced: cleared, then its
  levels set), ``LOST`` on the single row that drops the book after a gap, ``DIFF`` otherwise;
- ``side``: +1 a bid level, -1 an ask level, 0 a row that names no level (an empty snapshot, ``LOST``);
- ``price`` (ticks), ``qty`` (steps; 0 removes the level).
"""

from __future__ import annotations

import logging
from typing import Any, Final

import numpy as np

from liqkit.domain.errors import DataError

DEPTH_COLUMNS: Final = ("ts_local", "update_id", "reset", "side", "price", "qty")
DIFF: Final = 0
SNAPSHOT: Final = 1
LOST: Final = 2

log = logging.getLogger("liqkit.data")


class RawDepth:
    """Depth events and snapshots as a reader meets them (in receive order), levels in integer units.

    An event ``e``: ``ts[e]`` (local receive ns), ``first[e]``/``last[e]`` (U/u; a snapshot's
    lastUpdateId in both), ``snap[e]``. Its levels are the rows ``i`` with ``level_event[i] == e``
    (``side`` +1/-1, ``price`` ticks, ``qty`` steps), in event order."""

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.first: list[int] = []
        self.last: list[int] = []
        self.snap: list[bool] = []
        self.level_event: list[int] = []
        self.side: list[int] = []
        self.price: list[Any] = []  # decimal strings (or ticks) until ``synchronise`` gets them on the grid
        self.qty: list[Any] = []

    def add(self, ts: int, first: int, last: int, snap: bool, bids: Any, asks: Any) -> None:
        """One event (or snapshot) and its levels ``[[price, qty], ...]`` a side."""
        e = len(self.ts)
        self.ts.append(ts)
        self.first.append(first)
        self.last.append(last)
        self.snap.append(snap)
        for side, rows in ((1, bids), (-1, asks)):
            k = len(rows)
            self.level_event += [e] * k
            self.side += [side] * k
            self.price += [r[0] for r in rows]
            self.qty += [r[1] for r in rows]

    def drop_snapshots(self, start: int) -> None:
        """Forget the snapshots added since event ``start`` (a file's, when it cannot be told whose they are)."""
        keep = [e for e in range(len(self.ts)) if e < start or not self.snap[e]]
        if len(keep) == len(self.ts):
            return
        new = {e: i for i, e in enumerate(keep)}
        rows = [i for i, e in enumerate(self.level_event) if e in new]
        self.level_event = [new[self.level_event[i]] for i in rows]
        self.side = [self.side[i] for i in rows]
        self.price = [self.price[i] for i in rows]
        self.qty = [self.qty[i] for i in rows]
        self.ts = [self.ts[e] for e in keep]
        self.first = [self.first[e] for e in keep]
        self.last = [self.last[e] for e in keep]
        self.snap = [self.snap[e] for e in keep]

    def __len__(self) -> int:
        return len(self.ts)


class Synced:
    """What ``synchronise`` made of a recording's depth: the table (None when no book could be built),
    the gaps that lost the book, and notes on what else it skipped."""

    def __init__(self, table: dict[str, np.ndarray] | None, gaps: list[str], notes: list[str]) -> None:
        self.table = table
        self.gaps = gaps
        self.notes = notes


def floor_steps(values: Any, step: float, source: str = "") -> tuple[np.ndarray, int]:
    """Level quantities to whole lot steps, rounded down (what an order can take of them), and how many
    were off the grid: a book's level can hold a quantity finer than today's step (orders from when the
    step was finer), where bookTicker and trade quantities are on it."""
    try:
        x = np.array(values, dtype=np.float64)
    except ValueError as e:
        raise DataError(f"{source}: a depth quantity is not a number ({e})") from None
    n = np.floor(x / step + 1e-6)
    off = int(np.count_nonzero(np.abs(n * step - x) > step * 1e-6))
    return n.astype(np.int64), off


def synchronise(raw: RawDepth, prices: np.ndarray, qtys: np.ndarray, source: str = "") -> Synced:
    """Put ``raw``'s events in sync with its snapshots, Binance's way (see the module's text).

    ``prices``/``qtys``: ``raw``'s levels on the symbol's grid (ticks, steps). Gaps are logged as warnings."""
    n = len(raw)
    lev = np.asarray(raw.level_event, np.int64)
    starts = np.searchsorted(lev, np.arange(n), "left")
    ends = np.searchsorted(lev, np.arange(n), "right")
    ts, first, last, snap = raw.ts, raw.first, raw.last, raw.snap
    apps: list[tuple[int, int, int, int]] = []  # (raw event or -1, applied at, reset, update id after)
    gaps: list[str] = []
    notes: list[str] = []
    state = {"synced": False, "id": 0}
    buffer: list[int] = []
    pending = -1  # a snapshot waiting for the first event after it
    where = f"{source}: " if source else ""

    def step(e: int, at: int) -> bool:
        """Apply event ``e`` to the synced book; False when it is a gap (the book is lost)."""
        book_id = state["id"]
        if last[e] <= book_id:
            return True  # older than the book: ignored
        if first[e] > book_id + 1:
            missing = first[e] - book_id - 1
            gaps.append(
                f"{where}depth update U={first[e]} after u={book_id} at local time {ts[e]} ns "
                f"({missing} updates missing): the L2 book is dropped until a snapshot rebuilds it"
            )
            apps.append((-1, at, LOST, book_id))
            state["synced"] = False
            return False
        apps.append((e, at, DIFF, last[e]))
        state["id"] = last[e]
        return True

    def start(s: int) -> None:
        apps.append((s, ts[s], SNAPSHOT, last[s]))
        state["synced"], state["id"] = True, last[s]

    for e in range(n):
        if snap[e]:
            if state["synced"]:
                continue  # the book is in sync: a later snapshot is not needed
            sid = last[e]
            newer = [b for b in buffer if last[b] > sid]
            if newer and first[newer[0]] > sid + 1:
                notes.append(f"{where}depth snapshot lastUpdateId={sid} is older than the updates before it: skipped")
                continue
            buffer = []
            if not newer:
                pending = e
                continue
            start(e)
            for k, b in enumerate(newer):
                if not step(b, ts[e]):
                    buffer = newer[k:]
                    break
            pending = -1
            continue
        if state["synced"]:
            if not step(e, ts[e]):
                buffer = [e]
        elif pending >= 0:
            sid = last[pending]
            if last[e] <= sid:
                continue  # older than the snapshot waiting
            if first[e] > sid + 1:
                notes.append(
                    f"{where}depth snapshot lastUpdateId={sid} is too old for the updates after it "
                    f"(the next starts at U={first[e]}): skipped"
                )
                pending = -1
                buffer = [e]
                continue
            start(pending)
            pending = -1
            step(e, ts[e])
        else:
            buffer.append(e)
    if gaps and not state["synced"]:
        gaps.append(
            f"{where}the L2 book lost at the last gap is never rebuilt: the rest replays the top of the book only"
        )
    for g in gaps:
        log.warning("liqkit: %s", g)
    if not apps:
        if n:
            notes.append(f"{where}depth updates but no snapshot they can start from: no L2 book (top of the book only)")
        return Synced(None, gaps, notes)
    return Synced(_rows(apps, starts, ends, raw.side, prices, qtys), gaps, notes)


def _rows(
    apps: list[tuple[int, int, int, int]],
    starts: np.ndarray,
    ends: np.ndarray,
    sides: list[int],
    prices: np.ndarray,
    qtys: np.ndarray,
) -> dict[str, np.ndarray]:
    """The depth table of the applications ``apps`` (event, time, reset, update id)."""
    side_arr = np.asarray(sides, np.int64)
    parts: list[np.ndarray] = []
    counts: list[int] = []
    for e, _at, kind, _uid in apps:
        idx = np.arange(starts[e], ends[e], dtype=np.int64) if e >= 0 and kind != LOST else np.zeros(0, np.int64)
        if not len(idx):
            idx = np.array([-1], np.int64)  # a row naming no level
        parts.append(idx)
        counts.append(len(idx))
    idx = np.concatenate(parts)
    named = idx >= 0
    safe = np.where(named, idx, 0)
    cnt = np.asarray(counts, np.int64)
    reset = np.zeros(len(idx), np.int64)
    heads = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    reset[heads] = [a[2] for a in apps]  # the reset kind marks an event's first row only
    return {
        "ts_local": np.repeat(np.asarray([a[1] for a in apps], np.int64), cnt),
        "update_id": np.repeat(np.asarray([a[3] for a in apps], np.int64), cnt),
        "reset": reset,
        "side": np.where(named, side_arr[safe] if len(side_arr) else 0, 0).astype(np.int64),
        "price": np.where(named, prices[safe] if len(prices) else 0, 0).astype(np.int64),
        "qty": np.where(named, qtys[safe] if len(qtys) else 0, 0).astype(np.int64),
    }


def check_depth(depth: dict[str, Any], source: str = "") -> dict[str, np.ndarray]:
    """The depth table as int64 arrays, checked: columns, equal lengths, time order, sides, quantities."""
    missing = [c for c in DEPTH_COLUMNS if c not in depth]
    if missing:
        raise DataError(f"{source or 'depth'}: depth table lacks columns {missing}")
    out = {c: np.ascontiguousarray(depth[c], dtype=np.int64) for c in DEPTH_COLUMNS}
    if len({len(a) for a in out.values()}) > 1:
        raise DataError(f"{source or 'depth'}: depth columns differ in length")
    ts = out["ts_local"]
    if len(ts) > 1 and np.any(ts[1:] < ts[:-1]):
        raise DataError(f"{source or 'depth'}: depth rows are not in ts_local order")
    if np.any((out["side"] < -1) | (out["side"] > 1)) or np.any(out["qty"] < 0):
        raise DataError(f"{source or 'depth'}: depth sides must be -1, 0 or +1 and quantities not negative")
    if np.any((out["reset"] < DIFF) | (out["reset"] > LOST)):
        raise DataError(f"{source or 'depth'}: depth reset must be 0 (diff), 1 (snapshot) or 2 (lost)")
    return out


def cut_depth(depth: dict[str, np.ndarray], start_ns: int | None, end_ns: int | None) -> dict[str, np.ndarray] | None:
    """The rows with ``start_ns <= ts_local < end_ns``; the book as it stood at ``start_ns`` (when it was
    in sync then) comes first, as a snapshot at ``start_ns``. None when nothing is left."""
    ts = depth["ts_local"]
    lo = 0 if start_ns is None else int(np.searchsorted(ts, start_ns, "left"))
    hi = len(ts) if end_ns is None else int(np.searchsorted(ts, end_ns, "left"))
    kept = {k: v[lo:hi] for k, v in depth.items()}
    if lo == 0 or start_ns is None:
        return kept if hi > lo else None
    bids, asks, synced, uid = book_at(depth, lo)
    if not synced:
        return kept if hi > lo else None
    levels = sorted(bids.items(), reverse=True), sorted(asks.items())
    rows = [(1, p, q) for p, q in levels[0]] + [(-1, p, q) for p, q in levels[1]] or [(0, 0, 0)]
    m = len(rows)
    head = {
        "ts_local": np.full(m, start_ns, np.int64),
        "update_id": np.full(m, uid, np.int64),
        "reset": np.array([SNAPSHOT] + [DIFF] * (m - 1), np.int64),
        "side": np.array([r[0] for r in rows], np.int64),
        "price": np.array([r[1] for r in rows], np.int64),
        "qty": np.array([r[2] for r in rows], np.int64),
    }
    return {k: np.concatenate([head[k], kept[k]]) for k in DEPTH_COLUMNS}


def book_at(depth: dict[str, np.ndarray], rows: int) -> tuple[dict[int, int], dict[int, int], bool, int]:
    """The L2 book after the first ``rows`` rows: (bids, asks, whether it is in sync, its update id)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    synced = False
    uid = 0
    cols = [depth[k][:rows].tolist() for k in ("reset", "side", "price", "qty", "update_id")]
    for reset, side, price, qty, u in zip(*cols, strict=True):
        if reset:
            bids.clear()
            asks.clear()
            synced = reset == SNAPSHOT
        uid = u
        if side:
            book = bids if side > 0 else asks
            if qty:
                book[price] = qty
            else:
                book.pop(price, None)
    return bids, asks, synced, uid
