"""The sim-server's diff-depth book (``streams.DepthBook``): a client that follows Binance's recipe (a REST
snapshot of the live book with the last update id the server handled, then the updates after it) ends up
with the server's book, whatever the order in which the feed moves the book, the server handles its
queued books, the snapshot is taken and the updates go out."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
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
        elif step == "snapshot" and snapshot is None:  # GET /api/v3/depth: the live book, the last id handled
            bids, asks = live()
            snapshot = (update_id, {"bids": as_text(bids), "asks": as_text(asks)}, not queue)
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
    for frame, bids, asks in after:
        apply(client, frame)
        if settled:  # a snapshot of a book the server had caught up with: equal at every update since
            assert client == {"bids": bids, "asks": asks}, frame
    bids, asks = live()
    assert client == {"bids": as_text(bids), "asks": as_text(asks)}
