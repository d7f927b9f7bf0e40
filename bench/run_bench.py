"""liqkit's benchmark: the backtest against the common naive reference, in one run, on one machine.

On the common benchmark data (../shared/bench; generated if missing) it runs, interleaved, ``--runs``
times each:

- the naive reference, ``bench_purepy.py``, as a process;
- ``liqkit backtest --data <bench data> --config bench/bench.toml --json``, as a process.

It prints three figures with their bars: the loop's events/s against the reference loop's (each
process reports its own loop), the whole process's events/s (start to exit, timed from here)
against the reference process's (and the same ratio by CPU time, user + system, which a shared
machine disturbs less), and liqkit's peak RSS (the child's ``ru_maxrss``). Each ratio is the
median of the per-run ratios. The order counts of every liqkit run must equal the reference's (the
same work); the script exits 1 otherwise. Then the engine's decision latency on the real recording
shipped with liqkit, the live runner on a virtual clock, and the backtest on the shipped recording with
its depth under each queue model (``--depth-only``: that alone).

Usage: python bench/run_bench.py [--shared ../shared] [--runs 3] [--depth-only]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
BENCH_TOML = HERE / "bench.toml"
EXPECTED = {"placed": 70_399, "cancelled": 31_310, "filled": 39_087}
LOOP_BAR, WHOLE_BAR, RSS_BAR_MB = 1.0, 0.7, 350.0


@dataclass
class Run:
    """One process: its wall time from start to exit, peak RSS, and what it printed of its work."""

    wall_s: float
    cpu_s: float  # user + system
    rss_mb: float
    events: int
    loop_ev_per_s: float
    counts: tuple[int, int, int]  # placed, cancelled, filled

    @property
    def ev_per_s(self) -> float:
        """Events per second of the whole process."""
        return self.events / self.wall_s


def ensure_data(shared: Path, out: Path) -> None:
    """Generate the common benchmark data with the shared tool if it is not there yet.

    Others may read or write the same folder: the data are generated beside it and renamed into
    place in one step, and a folder someone else completed first wins.
    """
    if (out / "book.npz").exists() and (out / "trades.npz").exists():
        return
    print(f"generating the benchmark data in {out} ...", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        subprocess.run([sys.executable, "gen_data.py", "--out", str(tmp)], cwd=shared / "bench", check=True)
        tmp.chmod(0o755)
        try:
            tmp.rename(out)
        except OSError:
            if not (out / "book.npz").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def timed_process(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run ``cmd`` to its exit: (wall seconds, CPU seconds, peak RSS in MB of that very process, stdout)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        assert p.stdout is not None
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage, not the max over all children
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        if p.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode()


def run_reference(shared: Path, env: dict[str, str]) -> Run:
    """The naive reference as a process."""
    wall, cpu, rss, out = timed_process([sys.executable, "bench_purepy.py"], shared / "bench", env)
    r = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[len("RESULT ") :])
    return Run(wall, cpu, rss, r["n_events"], r["ev_per_s_run"], (r["placed"], r["cancelled"], r["filled"]))


def liqkit_command(data: Path) -> list[str]:
    """``liqkit backtest`` on the bench data with the reference strategy, as a user types it."""
    script = Path(sys.executable).with_name("liqkit")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "liqkit.cli"]
    return [*head, "backtest", "--data", str(data), "--config", str(BENCH_TOML), "--json"]


def run_liqkit(data: Path, env: dict[str, str]) -> Run:
    """liqkit's CLI as a process."""
    wall, cpu, rss, out = timed_process(liqkit_command(data), HERE.parent, env)
    m = json.loads(out)
    return Run(wall, cpu, rss, m["events"], m["events_per_s"], (m["orders_placed"], m["orders_cancelled"], m["fills"]))


def decision_latency() -> dict[str, Any]:
    """Book update in -> intents out, per book event of the shipped recording: the engine core's
    ``on_book`` timed on the backtest's timeline and execution (a loop of its own around them)."""
    from liqkit.backtest.driver import Driver
    from liqkit.data.capture import load_sample
    from liqkit.data.feed import merge_events
    from liqkit.domain.config import pair_config
    from liqkit.engine.core import EngineCore
    from liqkit.venues.sim.exchange import SimExchange

    md = load_sample()
    core = EngineCore(run_nonce="lat0", amend_keeps_priority=True)
    sim = SimExchange("realistic", 1, 1, {"BTC": Decimal(10), "USDT": Decimal(1_000_000)})
    core.add_pair(
        pair_config({"symbol": "BTCUSDT", "spread": "1bps", "levels": 3, "refresh_tolerance": "0.5bps"}), md.rules
    )
    sim.add_symbol(md.rules)
    drv = Driver(core, sim)  # its timeline and execution; the loop below times the core's on_book
    lat_all: list[int] = []
    lat_act: list[int] = []
    clock = time.perf_counter_ns
    kinds, _pairs, tss, aa, bb, cc, dd = (col.tolist() for col in merge_events([md]))
    drv.start(["BTCUSDT"], tss[0])
    tl = drv.timeline
    for k, ts, a, b, c, d in zip(kinds, tss, aa, bb, cc, dd, strict=True):
        drv.due(ts)
        tl.now = ts
        if k:
            tl.trade(0, ts, a, b, c)
            continue
        tl.book(0, ts, a, b, c, d)
        drv.due(ts)  # fills reach the engine first
        c0 = clock()
        intents = core.on_book(0, ts, a, b, c, d)
        dt = clock() - c0
        lat_all.append(dt)
        if intents:
            lat_act.append(dt)
            drv.submit(intents, ts)
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


RECORDING = Path("data/binance-spot-btcusdt/btcusdt_20240808.gz")  # under --shared: depth@100ms + a snapshot


def depth_queue_speed(shared: Path) -> None:
    """The backtest on the shipped BTCUSDT recording with its depth (the L2 book from depth@100ms and the
    REST snapshot) under each queue model, beside the same recording without depth: wall time of the
    whole backtest, the loop's market rows per second and all rows (market and depth) per second of the
    loop, fills. The strategy quotes three levels from the touch, a tick apart: every level has a queue."""
    import dataclasses

    from liqkit.backtest import run_backtest
    from liqkit.data.loader import load_market_data
    from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig

    path = shared / RECORDING
    md = load_market_data(path)
    n_depth = len(md.depth["ts_local"]) if md.depth is not None else 0
    pair = PairConfig(
        symbol="BTCUSDT",
        reference="touch",
        spread="0ticks",  # type: ignore[arg-type]
        levels=3,
        level_spacing="1ticks",  # type: ignore[arg-type]
        refresh_tolerance="1ticks",  # type: ignore[arg-type]
        size=Decimal("0.002"),
    )
    runs = [("no depth", "risk-averse", dataclasses.replace(md, depth=None))]
    runs += [("depth", model, md) for model in ("risk-averse", "prob-power", "prob-log")]
    print(
        f"backtest on {path.name} with depth ({len(md):,} book and trade rows, {n_depth:,} depth rows; realistic "
        "fills, 3 levels from the touch; best of 3):"
    )
    for label, model, data in runs:
        cfg = LiqkitConfig(sim=SimConfig(queue_model=model), pairs={"BTCUSDT": pair})  # type: ignore[arg-type]
        best: tuple[float, dict[str, Any]] | None = None
        for _ in range(3):
            t0 = time.perf_counter()
            m = run_backtest(data, cfg).metrics
            wall = time.perf_counter() - t0
            if best is None or wall < best[0]:
                best = (wall, m)
        assert best is not None
        wall, m = best
        loop_s = m["events"] / m["events_per_s"]
        rows = m["events"] + (n_depth if data.depth is not None else 0)
        name = (
            f"{model} ({label})" if label == "no depth" else model + (" (exponent 3)" if model == "prob-power" else "")
        )
        print(
            f"  {name:26s} wall {wall:6.2f} s   loop {m['events_per_s'] / 1e3:7.1f} k market rows/s   "
            f"{rows / loop_s / 1e3:7.1f} k rows/s with depth   fills {m['fills']:,}"
        )


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> int:
    """Run the benchmark and print its figures; exit 1 when liqkit's order counts differ."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--depth-only", action="store_true", help="only the backtests with depth and queue models")
    a = ap.parse_args()
    shared = a.shared.resolve()
    if a.depth_only:
        depth_queue_speed(shared)
        return 0
    if not (shared / "bench" / "gen_data.py").exists():
        print(f"error: the common benchmark is not at {shared}/bench (give --shared)", file=sys.stderr)
        return 2
    out = Path(os.environ.get("LIQKIT_BENCH_DATA", Path(tempfile.gettempdir()) / "liqkit-bench-data"))
    ensure_data(shared, out)
    env = dict(os.environ, LIQKIT_BENCH_DATA=str(out))

    from liqkit._compiled import check_fresh, is_compiled

    check_fresh()
    refs, ours = [], []
    for _ in range(a.runs):  # interleaved, so both see the same machine
        refs.append(run_reference(shared, env))
        ours.append(run_liqkit(out, env))
    loop = statistics.median(o.loop_ev_per_s / r.loop_ev_per_s for o, r in zip(ours, refs, strict=True))
    whole = statistics.median(o.ev_per_s / r.ev_per_s for o, r in zip(ours, refs, strict=True))
    whole_cpu = statistics.median(r.cpu_s / o.cpu_s for o, r in zip(ours, refs, strict=True))
    rss = statistics.median(o.rss_mb for o in ours)
    med = statistics.median
    r0 = refs[0]
    same = all(x.counts == r0.counts for x in ours + refs)
    print(
        f"backtest benchmark: {r0.events:,} events (liqkit hot path compiled: {is_compiled()}; "
        f"{a.runs} interleaved runs of each process, medians)"
    )
    print(f"  liqkit: {' '.join(liqkit_command(out))}")
    print(
        f"  loop            naive {med(r.loop_ev_per_s for r in refs) / 1e6:6.3f} M ev/s   "
        f"liqkit {med(o.loop_ev_per_s for o in ours) / 1e6:6.3f} M ev/s   "
        f"ratio {loop:.2f}  (bar >= {LOOP_BAR:.1f}: {_verdict(loop >= LOOP_BAR)})"
    )
    print(
        f"  whole process   naive {med(r.ev_per_s for r in refs) / 1e6:6.3f} M ev/s "
        f"({med(r.wall_s for r in refs):.2f} s)   liqkit {med(o.ev_per_s for o in ours) / 1e6:6.3f} M ev/s "
        f"({med(o.wall_s for o in ours):.2f} s)   "
        f"ratio {whole:.2f}  (bar >= {WHOLE_BAR:.1f}: {_verdict(whole >= WHOLE_BAR)}; "
        f"by CPU time, less sensitive to a busy machine: {whole_cpu:.2f})"
    )
    print(
        f"  peak RSS        naive {med(r.rss_mb for r in refs):5.0f} MB   liqkit {rss:5.0f} MB   "
        f"(bar <= {RSS_BAR_MB:.0f} MB: {_verdict(rss <= RSS_BAR_MB)})"
    )
    print(
        f"  orders  placed {ours[0].counts[0]:,} / {r0.counts[0]:,}   cancelled {ours[0].counts[1]:,} / "
        f"{r0.counts[1]:,}   filled {ours[0].counts[2]:,} / {r0.counts[2]:,}   (liqkit / reference, every run): "
        f"{'identical' if same else 'DIFFERENT'}"
    )
    lat = decision_latency()
    print(
        f"decision latency on the shipped BTCUSDT recording ({lat['book_updates']:,} book updates): "
        f"p50 {lat['p50_us']:.2f} us, p99 {lat['p99_us']:.2f} us, max {lat['max_us']:.0f} us; "
        f"updates that changed orders ({lat['acting_updates']:,}): "
        f"p50 {lat['acting_p50_us']:.1f} us, p99 {lat['acting_p99_us']:.1f} us"
    )
    parity = live_runner_parity(out, env, ours[0])
    depth_queue_speed(shared)
    ok = same and r0.counts == tuple(EXPECTED.values()) and parity
    if not ok:
        print("error: order counts differ (reference, or backtest vs live runner)", file=sys.stderr)
    return 0 if ok else 1


def live_runner_parity(data: Path, env: dict[str, str], backtest: Run) -> bool:
    """``liqkit trade --clock virtual`` (the live runner on a replay) on the same data and strategy: the
    same metrics as the backtest, and its whole-process speed."""
    cmd = liqkit_command(data)
    cmd[cmd.index("backtest")] = "trade"
    with tempfile.TemporaryDirectory() as state:
        wall, _cpu, rss, out = timed_process([*cmd, "--clock", "virtual", "--state-dir", state], HERE.parent, env)
    m = json.loads(out)
    counts = (m["orders_placed"], m["orders_cancelled"], m["fills"])
    same = counts == backtest.counts
    print(
        f"live runner on a virtual clock (liqkit trade --clock virtual, journal included): "
        f"{m['events'] / wall / 1e6:.3f} M events/s whole process, peak RSS {rss:.0f} MB; "
        f"orders placed {counts[0]:,} cancelled {counts[1]:,} "
        f"filled {counts[2]:,}: {'identical to the backtest' if same else 'DIFFERENT from the backtest'}"
    )
    return same


if __name__ == "__main__":
    sys.exit(main())
