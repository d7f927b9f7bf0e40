"""``make chaos``: every fault scenario, then a longer seeded run with many faults at once, in one line.

    python -m liqkit.venues.binance_server.chaos [--seconds 30] [--seed 7]

prints ``chaos: scenarios N, faults injected N, orders placed N, orphans N, duplicates N, fills lost N,
balance mismatches N`` and exits 1 when any invariant broke (the failing scenarios are listed first).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.binance_server.scenario import (
    RESTART_SCENARIOS,
    SCENARIOS,
    STARTUP_SCENARIOS,
    ScenarioReport,
    mixed_plan,
    mixed_ws_plan,
    run_scenario,
)


async def run_all(seconds: float, seed: int) -> list[ScenarioReport]:
    """Each scenario for 3 s (faults while quoting, during start-up, and during the restart after a
    crash with orders open), then the two mixed runs (REST and WebSocket API order entry) for ``seconds``."""
    reports = []
    for name, faults in {**SCENARIOS, **STARTUP_SCENARIOS, **RESTART_SCENARIOS}.items():
        crash = name in RESTART_SCENARIOS
        reports.append(await run_scenario(name, FaultPlan(faults, seed=seed), seconds=3.0, crash_first=crash))
    reports.append(await run_scenario(f"mixed, REST order entry (seed {seed})", mixed_plan(seed), seconds=seconds))
    reports.append(await run_scenario(f"mixed, WebSocket API (seed {seed})", mixed_ws_plan(seed), seconds=seconds))
    return reports


def main(argv: list[str] | None = None) -> int:
    """Run the chaos suite and print its one line of figures."""
    ap = argparse.ArgumentParser(prog="liqkit-chaos", description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the mixed run")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    logging.getLogger("binance").setLevel(logging.CRITICAL)  # python-binance logs every reconnect it makes
    reports = asyncio.run(run_all(args.seconds, args.seed))
    for r in reports:
        if not r.ok:
            print(f"FAILED {r.name}: {r}", file=sys.stderr)
    print(
        f"chaos: scenarios {len(reports)}, faults injected {sum(r.faults_injected for r in reports)}, "
        f"orders placed {sum(r.orders_placed for r in reports)}, orphans {sum(len(r.orphans) for r in reports)}, "
        f"duplicates {sum(len(r.duplicates) for r in reports)}, fills lost {sum(abs(r.fills_lost) for r in reports)}, "
        f"balance mismatches {sum(len(r.balance_mismatch) for r in reports)}"
    )
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
