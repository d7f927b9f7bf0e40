"""LocalEngine keeps its fills and PnL current as fills happen, with no queue of its own to drain."""

import asyncio
from decimal import Decimal

from processes import until

from liqkit.domain.config import PairConfig, SimConfig
from liqkit.engine.handle import LocalEngine
from liqkit.engine.runner import EngineRunner
from liqkit.venues.sim.venue import SimVenue


def test_fills_and_spread_capture_are_taken_as_they_happen(tmp_path):
    async def main():
        pair = PairConfig(symbol="BTCUSDT", spread="0.5bps", refresh_tolerance="0.3bps", size=Decimal("0.002"))
        venue = SimVenue(["BTCUSDT"], SimConfig(balances={"BTC": Decimal(2), "USDT": Decimal(200_000)}), speed=20)
        runner = EngineRunner(venue, [pair], timer_s=0.05)
        engine = LocalEngine(runner)
        await runner.start(run=["BTCUSDT"])
        try:
            await until(lambda: runner.core.pair("BTCUSDT").n_fills >= 3, 120, "three fills")
            n = runner.core.pair("BTCUSDT").n_fills
            # nobody called snapshot() nor events(): the fills were still taken, and no queue waits to be read
            assert len(engine.fills) == n
            assert runner.subscribers == []
            fills = list(engine.fills)
            assert all(f.mid is not None for f in fills)
            capture = sum(
                (Decimal(f.mid) - Decimal(f.price) if f.side == "BUY" else Decimal(f.price) - Decimal(f.mid))
                * Decimal(f.qty)
                for f in fills
            )
            assert (await engine.pnl())["BTCUSDT"].spread_capture == float(capture)
        finally:
            await runner.stop()

    asyncio.run(main())
