"""The risk-averse queue model without depth is the matching liqkit had before queue models: the same
answers, fills, queue positions and balances, bit for bit.

``queue_parity_golden.json`` holds what the simulated exchange did before queue models existed (written
by this file's ``--write`` from that code, then kept): a digest of every answer, fill and queue position
on seeded random sessions of orders and market rows at the exchange, and of the fills of a backtest on
the shipped recording with its depth left out. Both are run again here on today's code and must match.
Regenerate only for a change meant to alter the realistic model's results without depth (and say so).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.venues.sim.exchange import TIF_FOK, TIF_GTC, TIF_IOC, PlaceResult, SimExchange, SimFill

GOLDEN = Path(__file__).with_name("queue_parity_golden.json")
BTC = default_rules("BTCUSDT")
SEEDS = range(40)
OPS = 500


def _fills(fills: list[SimFill]) -> list[list[Any]]:
    return [[f.client_id, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id] for f in fills]


def _placed(r: PlaceResult) -> list[Any]:
    return [
        r.accepted,
        r.code,
        r.message,
        r.status.name,
        r.expiry,
        r.matched,
        _fills(r.fills),
        _fills(r.maker_fills),
        [list(p) for p in r.prevented],
        r.taker_prevented,
    ]


def session(seed: int, ops: int = OPS, **exchange: Any) -> tuple[list[Any], int]:
    """A seeded random session at the exchange without depth: the top walks (1-3 ticks wide), trades
    print at and near it, and orders are placed (deeper than the top, at it, inside the spread, crossing;
    post-only or not; GTC, IOC, FOK; market orders), cancelled and amended. Returns the log of every
    answer and fill, with each open order's (id, filled, queue) after each step, and the fill count."""
    rng = np.random.default_rng(seed)
    ex = SimExchange("realistic", 1, 2, {"BTC": Decimal(10), "USDT": Decimal(1_000_000)}, **exchange)
    ex.add_symbol(BTC)
    bid = 6_000_000
    ask = bid + 2
    log: list[Any] = [ex.on_book(0, bid, 300, ask, 300)]
    n_fills = 0
    k = 0
    for t in range(ops):
        op = rng.random()
        if op < 0.35:
            bid += int(rng.integers(-2, 3))
            ask = bid + int(rng.integers(1, 4))
            out = _fills(ex.on_book(0, bid, int(rng.integers(1, 500)), ask, int(rng.integers(1, 500))))
            n_fills += len(out)
            log.append(["book", bid, ask, out])
        elif op < 0.65:
            aggr = -1 if rng.random() < 0.5 else 1
            price = (bid if aggr < 0 else ask) + (int(rng.integers(-2, 3)) if rng.random() < 0.3 else 0)
            out = _fills(ex.on_trade(0, price, int(rng.integers(1, 400)), aggr))
            n_fills += len(out)
            log.append(["trade", price, out])
        elif op < 0.87:
            k += 1
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            touch = bid if side is Side.BUY else ask
            sign = 1 if side is Side.BUY else -1
            price = touch + sign * int(rng.integers(-4, 4))  # deeper, at, inside, crossing
            qty = int(rng.integers(20, 400))
            post_only = bool(rng.random() < 0.5)
            tif = [TIF_GTC, TIF_GTC, TIF_GTC, TIF_IOC, TIF_FOK][int(rng.integers(0, 5))]
            market = bool(rng.random() < 0.05)
            r = ex.place(0, t, f"o{k}", side, price, qty, post_only and not market, tif=tif, market=market)
            n_fills += len(r.fills) + len(r.maker_fills)
            log.append(["place", side.name, price, qty, _placed(r)])
        elif op < 0.96:
            open_ = sorted(o.client_id for o in ex.open_orders())
            if open_:
                cid = open_[int(rng.integers(0, len(open_)))]
                log.append(["cancel", cid, ex.cancel(cid)])
        else:
            open_ = sorted(ex.open_orders(), key=lambda o: o.client_id)
            if open_:
                o = open_[int(rng.integers(0, len(open_)))]
                new = int(rng.integers(o.filled + 1, o.qty + 1))
                r = ex.amend(o.client_id, new)
                log.append(["amend", o.client_id, new, r.accepted, r.code])
        log.append(sorted([o.client_id, o.filled, o.qty, o.queue] for o in ex.open_orders()))
    log.append({a: [str(x) for x in v] for a, v in ex.balances().items()})
    return log, n_fills


def backtest_fills() -> tuple[list[Any], int]:
    """The fills of a backtest on the shipped recording without its depth (realistic model, three
    levels a side near the touch, a constant latency)."""
    from liqkit.backtest import run_backtest
    from liqkit.data.capture import load_sample
    from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig

    md = dataclasses.replace(load_sample(), depth=None)
    cfg = LiqkitConfig(
        sim=SimConfig(latency_ms=3),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                reference="touch",
                spread="0ticks",  # type: ignore[arg-type]
                levels=3,
                level_spacing="1ticks",  # type: ignore[arg-type]
                refresh_tolerance="1ticks",  # type: ignore[arg-type]
                size=Decimal("0.002"),
            )
        },
    )
    r = run_backtest(md, cfg)
    cols = ["ts", "client_id", "side", "price_ticks", "qty_steps", "fee_nu", "is_maker", "level"]
    f = r.fills
    rows = [[str(x) for x in row] for row in zip(*(f[c].tolist() for c in cols), strict=True)]
    return rows, len(rows)


def digest(log: Any) -> str:
    return hashlib.sha256(json.dumps(log, separators=(",", ":")).encode()).hexdigest()


def current() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for seed in SEEDS:
        log, n = session(seed)
        out[f"session-{seed}"] = {"digest": digest(log), "fills": n}
    rows, n = backtest_fills()
    out["backtest-sample-no-depth"] = {"digest": digest(rows), "fills": n}
    return out


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("seed", SEEDS)
def test_risk_averse_sessions_without_depth_match_the_matching_before_queue_models(golden, seed):
    log, n = session(seed)
    assert {"digest": digest(log), "fills": n} == golden[f"session-{seed}"]


def test_the_sessions_exercise_queues_and_fills(golden):
    """The golden sessions are not idle: they fill, at queue positions that trades advance."""
    assert sum(v["fills"] for k, v in golden.items() if k.startswith("session-")) > 40 * 20
    log, _ = session(0)
    queues = {q for step in log if isinstance(step, list) and step and isinstance(step[0], list) for *_, q in step}
    assert len(queues) > 10


def test_risk_averse_backtest_without_depth_matches_the_matching_before_queue_models(golden):
    rows, n = backtest_fills()
    assert n > 20  # deeper levels fill too, so queues at the top and below are exercised
    assert {"digest": digest(rows), "fills": n} == golden["backtest-sample-no-depth"]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
