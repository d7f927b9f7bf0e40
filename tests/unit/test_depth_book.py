"""The sim-server's diff-depth book (``streams.DepthBook``): a client that follows Binance's recipe (a REST
snapshot of the live book with the last update id the server handled, then the updates after it) ends up
with the server's book, whatever the order in which the feed moves the book, the server handles its
queued books, the snapshot is taken and the updates go out."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from liqkit.domain.rules import default_rules
from liqkit.domain.types import BookTop
from liqkit.venues.binance_server.streams import DepthBook

R = default_rules("BTCUSDT")
KINDS = st.sampled_from(["feed", "feed", "handle", "snapshot", "publish"])
STEPS = st.lists(st.tuples(KINDS, st.integers(-2, 2), st.integers(1, 4)), max_size=120)


def as_text(levels: list[tuple[int, int]]) -> dict[str, str]:
    return {R.format_price(p): R.format_qty(q) for p, q in levels}


def apply(book: dict[str, dict[str, str]], frame: dict[str, Any]) -> None:
    """One ``depthUpdate`` applied as Binance says: set each level's quantity, remove those at 0."""
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, qty in frame[key]:
            if qty == "0":
                book[side].pop(price, None)
            else:
                book[side][price] = qty


@settings(max_examples=400, deadline=None)
@given(steps=STEPS)
def test_a_client_following_binances_recipe_holds_the_servers_book(steps):
    top = [1000, 3, 1002, 2]  # the exchange's live book: bid, bid qty, ask, ask qty (one level a side)

    def live() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return [(top[0], top[1])], [(top[2], top[3])]

    queue: list[BookTop] = []  # books the feed made that the server has not handled yet
    update_id = 0  # the server's order book update id (REST depth's lastUpdateId)

    def next_update_id() -> int:
        nonlocal update_id
        update_id += 1
        return update_id

    book = DepthBook(live(), next_update_id())
    snapshot: tuple[int, dict[str, dict[str, str]], bool] | None = None  # (lastUpdateId, levels, queue empty)
    frames: list[tuple[dict[str, Any], dict[str, str], dict[str, str]]] = []  # each with the server's book then

    def handle() -> None:  # the server takes a book event: a new update id, the event's top noted
        next_update_id()
        book.note(queue.pop(0))

    def publish() -> None:  # a tick: the book read, its update out
        book.refresh(live(), next_update_id)
        frame = book.diff(100, R, "BTCUSDT", 0)
        if frame is not None:
            frames.append((frame, as_text(list(book.bids.items())), as_text(list(book.asks.items()))))

    for step, move, qty in steps:
        if step == "feed":  # the feed moves the book (a price, a quantity, or both) and queues the book
            side = abs(move) % 2
            if move:
                top[2 * side] += move
            top[2 * side + 1] = qty
            if top[0] >= top[2]:
                top[2] = top[0] + 1
            queue.append(BookTop("BTCUSDT", top[0], top[1], top[2], top[3], 0, 0))
        elif step == "handle" and queue:
            handle()
        elif step == "snapshot" and snapshot is None:
            # GET /api/v3/depth while a depth stream shows the symbol (MarketStreams.snapshot): the book read
            # now (a new update id if it changed), and its update id
            book.refresh(live(), next_update_id)
            bids, asks = book.top(1000)
            snapshot = (book.update_id, {"bids": as_text(bids), "asks": as_text(asks)}, not queue)
        elif step == "publish":
            publish()
    while queue:
        handle()
    publish()

    updates = [f for f, _, _ in frames]
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(updates))  # no gap, no overlap
    if snapshot is None:
        return
    last_id, client, settled = snapshot
    after = [(f, b, a) for f, b, a in frames if f["u"] > last_id]
    if after:
        assert after[0][0]["U"] <= last_id + 1  # the first update after the snapshot covers it
    for frame, then_bids, then_asks in after:
        apply(client, frame)
        if settled:  # a snapshot of a book the server had caught up with: equal at every update since
            assert client == {"bids": then_bids, "asks": then_asks}, frame
    final_bids, final_asks = live()
    assert client == {"bids": as_text(final_bids), "asks": as_text(final_asks)}


ROWS = st.lists(
    st.tuples(
        st.sampled_from(["row", "row", "row", "event", "handle", "snapshot", "publish"]),
        st.booleans(),  # the side a depth row changes (True: bids)
        st.integers(0, 6),  # its price, counted from the touch outwards
        st.integers(0, 2),  # its quantity (0: the level goes)
    ),
    max_size=150,
)


# a level the depth rows add after a tick and take away again before the next, with the snapshot between:
# read live (not through the depth book), the snapshot keeps it and no update ever removes it
FLICKER = [
    ("row", True, 6, 2),
    ("snapshot", True, 0, 0),
    ("row", True, 6, 0),
    ("row", True, 0, 2),
    ("publish", True, 0, 0),
]


@settings(max_examples=400, deadline=None)
@example(steps=FLICKER)
@given(steps=ROWS)
def test_a_snapshot_read_through_the_depth_book_is_exact_at_every_update(steps):
    """A book of many levels that the data's depth rows change without any event (as a replay with depth
    does), read for REST with ``refresh`` first (``MarketStreams.snapshot``): from any snapshot, the
    recipe gives the server's book at every update after it."""
    bids = {999 - i: 1 for i in range(5)}
    asks = {1001 + i: 1 for i in range(5)}

    def live() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return sorted(bids.items(), reverse=True), sorted(asks.items())

    update_id = 0

    def next_update_id() -> int:
        nonlocal update_id
        update_id += 1
        return update_id

    book = DepthBook(live(), next_update_id())
    queue: list[BookTop] = []
    client: dict[str, dict[str, str]] | None = None
    last_id = 0
    prev_u: int | None = None  # the last update the client applied
    for step, bid_side, offset, qty in steps:
        if step == "row":
            side, price = (bids, 999 - offset) if bid_side else (asks, 1001 + offset)
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
        elif step == "event":  # a book row: the top as it is, queued for the server
            b, a = live()
            queue.append(BookTop("BTCUSDT", *(b[0] if b else (0, 0)), *(a[0] if a else (0, 0)), 0, 0))
        elif step == "handle" and queue:
            next_update_id()
            book.note(queue.pop(0))
        elif step == "snapshot" and client is None:
            book.refresh(live(), next_update_id)
            last_id = book.update_id
            b, a = book.top(5000)
            client = {"bids": as_text(b), "asks": as_text(a)}
        elif step == "publish":
            book.refresh(live(), next_update_id)
            frame = book.diff(100, R, "BTCUSDT", 0)
            if frame is not None and client is not None and frame["u"] > last_id:
                assert frame["U"] <= last_id + 1 if prev_u is None else frame["U"] == prev_u + 1, frame
                apply(client, frame)
                prev_u = frame["u"]
                assert client == {"bids": as_text(list(book.bids.items())), "asks": as_text(list(book.asks.items()))}
