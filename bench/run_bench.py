"""liqkit's benchmark: the backtest loop against the common naive reference, in one run.

Prints, for the common benchmark data (../shared/bench; generated if missing): events/s of liqkit's
backtest loop and of the naive reference loop (median of interleaved runs), their ratio, and
liqkit's order counts next to the reference's (they must be equal: the same work). Then the engine's
decision latency (book update in -> intents out) on the real recording shipped with liqkit.

Usage: python bench/run_bench.py [--shared ../shared] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EXPECTED = {"placed": 70_399, "cancelled": 31_310, "filled": 39_087}


def ensure_data(shared: Path, out: Path) -> None:
    """Generate the common benchmark data with the shared tool if it is not there yet."""
    if (out / "book.npz").exists() and (out / "trades.npz").exists():
        return
    print(f"generating the benchmark data in {out} ...", flush=True)
    subprocess.run([sys.executable, "gen_data.py", "--out", str(out)], cwd=shared / "bench", check=True)


def run_reference(shared: Path, out: Path) -> dict:
    """One run of the naive reference loop, as a separate process (its own figures)."""
    env = dict(os.environ, LIQKIT_BENCH_DATA=str(out))
    p = subprocess.run(
        [sys.executable, "bench_purepy.py"], cwd=shared / "bench", env=env, check=True, capture_output=True, text=True
    )
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def run_liqkit(md) -> dict:
    """One liqkit backtest with the reference strategy; loop-only events/s from the driver."""
    from liqkit.backtest import bench_config, run_backtest

    t0 = time.perf_counter()
    res = run_backtest(md, bench_config())
    total = time.perf_counter() - t0
    m = res.metrics
    return {
        "ev_per_s_run": m["events_per_s"],
        "t_run": m["wall_s"],
        "t_total": total,
        "placed": m["orders_placed"],
        "cancelled": m["orders_cancelled"],
        "filled": m["fills"],
        "events": m["events"],
    }


def decision_latency() -> dict:
    """Book update in -> intents out, per book event of the shipped recording (engine core only)."""
    from liqkit.backtest.driver import Driver
    from liqkit.data.capture import load_sample
    from liqkit.domain.config import PairConfig
    from liqkit.engine.core import EngineCore
    from liqkit.venues.sim.exchange import SimExchange

    md = load_sample()
    core = EngineCore(run_nonce="lat0")
    sim = SimExchange("realistic", 1, 1, {"BTC": 10, "USDT": 1_000_000})
    core.add_pair(PairConfig(symbol="BTCUSDT", spread="1bps", levels=3, refresh_tolerance="0.5bps"), md.rules)
    sim.add_symbol(md.rules)
    core.on_balances(sim.balances(), 0)
    drv = Driver(core, sim)
    b, t = md.book, md.trades
    events = sorted(
        [(int(x), 0, i) for i, x in enumerate(b["ts_local"])] + [(int(x), 1, i) for i, x in enumerate(t["ts_local"])]
    )
    drv.submit(core.run("BTCUSDT", events[0][0]), events[0][0])
    lat_all, lat_act = [], []
    clock = time.perf_counter_ns
    bid, bq, ask, aq = (b[k].tolist() for k in ("bid", "bid_qty", "ask", "ask_qty"))
    tp, tq, ta = (t[k].tolist() for k in ("price", "qty", "aggressor"))
    for ts, kind, i in events:
        if kind == 0:
            fills = sim.on_book(0, bid[i], bq[i], ask[i], aq[i])
            if fills:
                drv._deliver_fills(fills, ts)
            c0 = clock()
            intents = core.on_book(0, ts, bid[i], bq[i], ask[i], aq[i])
            dt = clock() - c0
            lat_all.append(dt)
            if intents:
                lat_act.append(dt)
                drv.submit(intents, ts)
        else:
            fills = sim.on_trade(0, tp[i], tq[i], ta[i])
            if fills:
                drv._deliver_fills(fills, ts)
    a, q = np.array(lat_all) / 1000, np.array(lat_act) / 1000
    return {
        "book_updates": len(a),
        "p50_us": float(np.percentile(a, 50)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
        "acting_updates": len(q),
        "acting_p50_us": float(np.percentile(q, 50)) if len(q) else None,
        "acting_p99_us": float(np.percentile(q, 99)) if len(q) else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    shared = a.shared.resolve()
    if not (shared / "bench" / "gen_data.py").exists():
        print(f"error: the common benchmark is not at {shared}/bench (give --shared)", file=sys.stderr)
        return 2
    out = Path(os.environ.get("LIQKIT_BENCH_DATA", Path(tempfile.gettempdir()) / "liqkit-bench-data"))
    ensure_data(shared, out)

    from liqkit._compiled import check_fresh, is_compiled
    from liqkit.data.synthetic import load_bench_data

    check_fresh()
    t0 = time.perf_counter()
    md = load_bench_data(out)
    t_load = time.perf_counter() - t0
    refs, ours = [], []
    for _ in range(a.runs):  # interleaved, so both see the same machine
        refs.append(run_reference(shared, out))
        ours.append(run_liqkit(md))
    ratios = [o["ev_per_s_run"] / r["ev_per_s_run"] for o, r in zip(ours, refs, strict=True)]
    ref_eps = statistics.median(r["ev_per_s_run"] for r in refs)
    our_eps = statistics.median(o["ev_per_s_run"] for o in ours)
    o, r = ours[0], refs[0]
    same = all((x["placed"], x["cancelled"], x["filled"]) == (r["placed"], r["cancelled"], r["filled"]) for x in ours)
    print(
        f"backtest benchmark: {o['events']:,} events "
        f"(liqkit hot path compiled: {is_compiled()}; {a.runs} interleaved runs, medians)"
    )
    print(f"  naive reference loop   {ref_eps / 1e6:6.3f} M events/s")
    print(
        f"  liqkit backtest loop   {our_eps / 1e6:6.3f} M events/s   ratio {statistics.median(ratios):.2f} "
        f"(runs: {', '.join(f'{x:.2f}' for x in ratios)}; bar >= 0.50, aim ~1.1)"
    )
    print(
        f"  liqkit whole backtest  {o['events'] / statistics.median(x['t_total'] for x in ours) / 1e6:6.3f} M events/s "
        f"(with results/metrics; data load {t_load:.2f} s)"
    )
    print(
        f"  orders  placed {o['placed']:,} / {r['placed']:,}   cancelled {o['cancelled']:,} / {r['cancelled']:,}   "
        f"filled {o['filled']:,} / {r['filled']:,}   (liqkit / reference): {'identical' if same else 'DIFFERENT'}"
    )
    lat = decision_latency()
    print(
        f"decision latency on the shipped BTCUSDT recording ({lat['book_updates']:,} book updates): "
        f"p50 {lat['p50_us']:.2f} us, p99 {lat['p99_us']:.2f} us, max {lat['max_us']:.0f} us; "
        f"updates that changed orders ({lat['acting_updates']:,}): "
        f"p50 {lat['acting_p50_us']:.1f} us, p99 {lat['acting_p99_us']:.1f} us"
    )
    ok = same and (r["placed"], r["cancelled"], r["filled"]) == tuple(EXPECTED.values())
    if not ok:
        print("error: order counts differ from the reference", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
