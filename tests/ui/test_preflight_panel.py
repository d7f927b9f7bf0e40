"""The pre-flight panel and the health panel's rate plan, against a real in-process engine (LocalEngine on
EngineRunner with the simulated exchange), as tests/ui/test_panels.py drives the other panels."""

from __future__ import annotations

import asyncio

from uihelpers import make_engine, wait_until

from liqkit.domain.ratelimits import RateLimitRule, shipped_rate_limits
from liqkit.engine.handle import LocalEngine
from liqkit.engine.views import EngineStatus
from liqkit.rateplan import OrderFlow, plan
from liqkit.ui import Dashboard
from liqkit.ui.health import HealthPanel

S = 1_000_000_000


def test_preflight_panel_shows_each_level_and_follows_a_config_change(tmp_path):
    async def scenario():
        _, runner, venue = make_engine(tmp_path)
        engine = LocalEngine(runner, rate_limits=shipped_rate_limits)
        await runner.start(run=["BTCUSDT"])
        dash = Dashboard(engine)
        panel = dash.preflight
        try:
            await dash.wait_live(5)
            await wait_until(lambda: panel.fetches >= 1, 30, "a pre-flight")
            await wait_until(lambda: not panel.table.dirty and panel.table.row_keys(), 5, "its rows")
            keys = set(panel.table.row_keys())
            assert keys == {("BTCUSDT", 0, 0), ("BTCUSDT", 1, 0), ("ETHUSDT", 0, 0), ("ETHUSDT", 1, 0)}
            report = panel.report
            assert report is not None
            btc_bid = next(q for q in report.pairs["BTCUSDT"].quotes if q.side == "BUY")
            assert panel.table.cells(("BTCUSDT", 0, 0)) == [
                "BTCUSDT", "BUY", 0, btc_bid.price, "0.002", btc_bid.notional, "yes", "-"
            ]  # fmt: skip
            assert "lq-preflight-verdict" in panel.summary.value and "nothing sent" in panel.summary.value
            assert "BTCUSDT bids: 1 of 1 levels funded" in panel.funding.value
            assert "orders/min" in panel.funding.value
            assert "ORDERS per 10 SECOND" in panel.plan.value and "ORDERS per 1 DAY" in panel.plan.value
            await wait_until(venue.own_open_orders, 30, "BTCUSDT's orders")  # BTCUSDT quotes; ETHUSDT stays bare
            assert not [o for o in runner.core.orders.values() if o.symbol == "ETHUSDT"]
            # holding 2 BTC, max_inventory 1 switches the bids off: the panel asks again and says why
            await engine.configure("BTCUSDT", {"max_inventory": "1"})

            def bids_off() -> bool:
                return not panel.table.dirty and panel.table.cells(("BTCUSDT", 0, 0))[-2:] == ["no", "max_inventory"]

            await wait_until(bids_off, 30, "the bid row refused for max_inventory")  # a fetch may have been in flight
            assert panel.table.cells(("BTCUSDT", 1, 0))[-1] == "-"
            assert "max_inventory" in panel.refusals.value and "[pairs.BTCUSDT.max_inventory]" in panel.refusals.value
            assert "not ok" in panel.summary.value
            # Refresh asks again at once
            fetched = panel.fetches
            panel.balances_every_s = panel.config_delay_s = 3600.0  # only Refresh asks now
            panel.refresh.click()
            await wait_until(lambda: panel.fetches > fetched, 30, "a pre-flight after Refresh")
            assert not dash.stream.errors and not panel.last_error
        finally:
            dash.close()
            await runner.stop()

    asyncio.run(scenario())


def test_health_shows_the_rate_plan_and_warns_before_a_limit():
    limits = [RateLimitRule("ORDERS", "SECOND", 10, 50), RateLimitRule("ORDERS", "DAY", 1, 160_000)]
    burst = OrderFlow([i * S // 10 for i in range(45)], [], 0, 60 * S)  # 45 new orders in 4.5 s
    rate_plan = plan(limits, [burst], "the engine's orders over the last 60 s")
    status = EngineStatus.model_validate(
        {"state": "running", "venue": "sim", "events": 1, "reconnects": 0, "loop_lag_ms": {"last": None, "max": None},
         "errors": [], "pairs": {}, "rate_limits": {}, "latency_us": {"n": 0, "p50_us": 0, "p99_us": 0, "max_us": 0},
         "rate_plan": rate_plan.model_dump()}
    )  # fmt: skip
    h = HealthPanel()
    h.on_status(status)
    h.flush()
    assert "lq-rate-plan" in h.plan.value and "the engine&#x27;s orders over the last 60 s" in h.plan.value
    assert "ORDERS per 10 SECOND: 45 of 50 (90%) warning" in h.plan.value
    assert "lq-rate-warning" in h.plan.value and "liqkit paces new orders from 80%" in h.plan.value
    quiet = status.model_copy(update={"rate_plan": plan(limits, [OrderFlow([0], [], 0, 60 * S)], "quiet")})
    h.on_status(quiet)
    h.flush()
    assert "lq-rate-warning" not in h.plan.value and "ORDERS per 10 SECOND: 1 of 50 (2%) ok" in h.plan.value
