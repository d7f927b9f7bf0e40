"""The panels against a real in-process engine (LocalEngine on EngineRunner with the simulated exchange)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from uihelpers import make_engine, wait_until

from liqkit.engine.events import FillEvent, OrderEvent, StateEvent
from liqkit.engine.views import EngineStatus, OrderView, SideName, Snapshot
from liqkit.ui import Dashboard, EventStream, OrdersTable, PairPanel
from liqkit.ui.health import HealthPanel


def sides(dash: Dashboard, symbol: str) -> set[str]:
    return {c[1] for k in dash.orders.table.row_keys() if (c := dash.orders.table.cells(k)) and c[0] == symbol}


def test_dashboard_runs_a_pair_shows_orders_chart_balances_fills_and_stops_it(tmp_path):
    async def scenario():
        engine, runner, venue = make_engine(tmp_path)
        await runner.start()
        dash = Dashboard(engine)
        try:
            await dash.wait_live(5)
            assert set(dash.pairs.panels) == {"BTCUSDT", "ETHUSDT"}
            assert list(dash.pairs.widget.titles) == ["BTCUSDT", "ETHUSDT"]
            btc = dash.pairs.panels["BTCUSDT"]
            assert btc.state == "stopped" and not btc.toggle.value
            usdt_before = dash.balances.table.cells("USDT")
            btc.toggle.value = True  # as a click does
            await wait_until(lambda: sides(dash, "BTCUSDT") == {"BUY", "SELL"}, what="a buy and a sell row")
            assert btc.state == "quoting" and "quoting" in btc.state_html.value
            assert btc.toggle.description == "Stop"
            await wait_until(lambda: dash.chart.renders >= 3 and len(dash.chart.figure.data[0].x) >= 3, what="chart")
            assert dash.chart.figure.layout.title.text.startswith("BTCUSDT")
            prices = dash.chart.figure.data[0].y
            assert all(p > 1000 for p in prices)  # market bid in USDT
            assert dash.chart.figure.data[2].y[-1] < dash.chart.figure.data[3].y[-1]  # our bid below our ask
            assert "market" in btc.ticker_html.value and "ours" in btc.ticker_html.value
            await wait_until(lambda: dash.fills.n_fills >= 1, 20, "a fill")
            await wait_until(lambda: dash.balances.table.cells("USDT") != usdt_before, what="balances to change")
            await wait_until(lambda: dash.fills.fills_table.row_keys(), what="a fill row")
            await wait_until(
                lambda: "BTCUSDT" in dash.fills.pnl and dash.fills.pnl["BTCUSDT"].fills >= 1, what="PnL with fills"
            )
            pnl = dash.fills.pnl["BTCUSDT"]
            assert pnl.quote_asset == "USDT"
            dash.fills.flush()
            assert dash.fills.pnl_table.cells("BTCUSDT")[7] == pnl.fills  # the row shows the view's figures
            await wait_until(lambda: "running" in dash.health.summary.value, what="health")
            assert dash.health.pairs.cells("BTCUSDT")[1] == "quoting"
            btc.toggle.value = False
            await wait_until(lambda: btc.state == "stopped", what="stopped")
            await wait_until(lambda: not sides(dash, "BTCUSDT"), what="the pair's rows to go")
            assert venue.own_open_orders() == []
            assert not dash.stream.errors
        finally:
            dash.close()
            await runner.stop()

    asyncio.run(scenario())


def test_form_validates_as_you_type_previews_and_applies_without_stopping(tmp_path):
    async def scenario():
        engine, runner, venue = make_engine(tmp_path)
        await runner.start(run=["BTCUSDT"])
        panel = PairPanel(engine, "BTCUSDT", engine.pair_view("BTCUSDT"))
        stream = EventStream(engine, [panel]).start()
        try:
            await wait_until(lambda: stream.state == "live" and panel.ticker, what="live")
            n_states = len(runner.journal.states("BTCUSDT"))
            # a bad value: error naming the field, Apply disabled, nothing sent
            panel.inputs["spread"].value = "-3"
            assert not panel.valid and panel.apply_btn.disabled
            assert "spread" in panel.form_msg.value and "lq-form-error" in panel.form_msg.value
            assert "bid_spread" not in panel.form_msg.value  # named as the form names it
            panel.inputs["levels"].value = "2.5"
            assert "levels" in panel.form_msg.value
            assert panel.apply() is False  # ignored while invalid: nothing sent
            assert runner.configs["BTCUSDT"].bid_spread.value == Decimal(1)
            assert engine.pair_view("BTCUSDT").state == "quoting"
            # a good value: preview of the quotes it would place, then apply
            panel.inputs["levels"].value = "2"
            panel.inputs["spread"].value = "4bps"
            assert not panel.valid and panel.apply_btn.disabled  # until the engine's preview has checked it
            assert "checking" in panel.form_msg.value
            assert panel.changes == {"spread": "4bps", "levels": "2"}
            await wait_until(lambda: panel.preview_quotes, what="a preview")
            assert panel.valid and not panel.apply_btn.disabled and "valid" in panel.form_msg.value
            assert {q.side for q in panel.preview_quotes} == {"BUY", "SELL"}
            assert len(panel.preview_quotes) == 4 and "would place" in panel.preview_html.value
            assert runner.configs["BTCUSDT"].levels == 1  # a preview applies nothing
            panel.apply()
            await wait_until(lambda: runner.core.pair("BTCUSDT").cfg.levels == 2, what="the change applied")
            assert str(runner.core.pair("BTCUSDT").cfg.bid_spread) == "4bps"
            await wait_until(lambda: panel.note.startswith("applied"), what="applied note")
            assert not panel.changes and panel.apply_btn.disabled
            states = runner.journal.states("BTCUSDT")["state"].tolist()
            assert "stopped" not in states[n_states:]  # applied while quoting: never stopped
            await wait_until(lambda: len(venue.own_open_orders()) == 4, what="four orders (two levels)")
            # what the form cannot know alone (the symbol's filters, the minimum order value, the budget
            # cap at the current price) the engine's preview decides: invalid, Apply disabled, why shown
            for size, why in (
                ("0.000001", "size = 0.000001: below BTCUSDT&#x27;s minimum quantity"),
                ("0.0001", "size = 0.0001: no order could be placed: size 0.0001 BTC is worth about"),
                ("0.02", "size = 0.02 BTC: one order would be worth about"),
            ):
                panel.inputs["size"].value = size
                await wait_until(lambda: "lq-form-error" in panel.form_msg.value, what=f"size {size} refused")
                assert why in panel.form_msg.value and not panel.valid and panel.apply_btn.disabled
                assert panel.apply() is False  # ignored while invalid: nothing sent
            assert "max_order_notional 1000 USDT" in panel.form_msg.value
            assert engine.pair_view("BTCUSDT").state == "quoting"  # ...and the pair is unharmed
            assert runner.core.pair("BTCUSDT").cfg.size == Decimal("0.002")
        finally:
            stream.stop()
            await runner.stop()

    asyncio.run(scenario())


def test_run_of_an_unknown_pair_shows_error_state_and_reverts_the_toggle(tmp_path):
    async def scenario():
        engine, runner, _ = make_engine(tmp_path)
        await runner.start()
        panel = PairPanel(engine, "XRPUSDT")
        try:
            panel.toggle.value = True
            await wait_until(lambda: panel.last_error, what="an error")
            assert "not a configured pair" in panel.last_error
            assert "error" in panel.state_html.value and "XRPUSDT" in panel.state_html.value
            panel.on_event(StateEvent(ts=1, symbol="XRPUSDT", state="stopped", reason="x"))
            panel.flush()
            assert not panel.toggle.value and panel.toggle.description == "Run"
        finally:
            await runner.stop()

    asyncio.run(scenario())


def order(cid: str, status: str, price: str = "100", side: SideName = "BUY") -> OrderEvent:
    return OrderEvent(symbol="BTCUSDT", client_id=cid, side=side, price=price, qty="1", filled="0", level=0,
                      status=status, ts=1)  # fmt: skip


def snapshot(*orders: OrderView) -> Snapshot:
    status = EngineStatus.model_validate(
        {"state": "running", "venue": "sim", "events": 0, "reconnects": 0, "loop_lag_ms": {"last": None, "max": None},
         "errors": [], "pairs": {}, "rate_limits": {}, "latency_us": {"n": 0, "p50_us": 0, "p99_us": 0, "max_us": 0}}
    )  # fmt: skip
    return Snapshot(status=status, pairs={}, orders=list(orders), balances={}, fills=[], pnl={})


def view(ev: OrderEvent) -> OrderView:
    fields = {k: v for k, v in ev.to_json().items() if k not in ("kind", "ts")}
    return OrderView.model_validate(fields)


def test_orders_table_sends_only_the_rows_that_changed():
    table = OrdersTable()
    table.on_snapshot(snapshot(view(order("a", "NEW")), view(order("b", "NEW", "101", "SELL"))))
    table.flush()
    rows = {k: table.table.rows[k][1] for k in ("a", "b")}
    sent: dict[str, int] = {"a": 0, "b": 0}
    for k, w in rows.items():
        w.observe(lambda _, k=k: sent.__setitem__(k, sent[k] + 1), "value")
    children_sets = []
    table.table.box.observe(lambda ch: children_sets.append(ch), "children")
    table.on_event(order("a", "PENDING_CANCEL"))
    table.flush()
    assert sent == {"a": 1, "b": 0} and not children_sets  # one row re-sent, the table untouched
    table.on_event(order("c", "PENDING_NEW"))  # placed and cancelled between two flushes: never shown
    table.on_event(order("c", "CANCELED"))
    table.on_event(order("a", "CANCELED"))
    table.flush()
    assert table.table.row_keys() == ["b"] and sent["b"] == 0
    assert len(children_sets) == 1  # the list of row ids, once
    assert table.table.stats["created"] == 2 and table.table.stats["removed"] == 1
    table.on_event(order("d", "NEW", "99"))
    table.flush()
    assert rows["a"] in table.table.box.children  # a removed row's widget is reused, not a new one
    assert table.table.stats["created"] == 3
    table.on_event(
        FillEvent(symbol="BTCUSDT", client_id="d", side="BUY", price="99", qty="0.25", fee="0", mid=None,
                  fee_asset="USDT", maker=True, ts=2)
    )  # fmt: skip
    table.flush()
    assert table.table.cells("d")[4] == "0.25"
    assert [table.table.cells(k)[1] for k in table.table.row_keys()] == ["SELL", "BUY"]


def test_health_shows_rate_limit_usage_errors_and_stale_feed():
    h = HealthPanel()
    h.on_status(
        EngineStatus.model_validate(
            {
                "state": "running",
                "venue": "binance-testnet",
                "events": 10,
                "reconnects": 2,
                "loop_lag_ms": {"last": 0.4, "max": 2.5},
                "errors": ["cleanup of BTCUSDT: -1003 too many requests"],
                "rate_limits": {"x-mbx-used-weight-1m": {"used": 960, "limit": 1200}},
                "pairs": {
                    "BTCUSDT": {
                        "state": "paused",
                        "reason": "stale feed",
                        "feed_age_s": 7.5,
                        "open_orders": 0,
                        "position": "0",
                        "fills": 3,
                    }
                },
                "latency_us": {"n": 100, "p50_us": 12.5, "p99_us": 40.0, "max_us": 90.0},
            }
        )
    )
    h.flush()
    assert "960/1200 (80 %)" in h.summary.value and "2 reconnects" in h.summary.value
    assert "p50 12.5 µs, p99 40.0 µs" in h.summary.value
    assert "-1003" in h.errors.value
    assert h.pairs.cells("BTCUSDT")[:3] == ["BTCUSDT", "paused", "7.5 s"]
    assert "cf222e" in h.pairs.rows["BTCUSDT"][1].value  # a stale feed is shown red


def test_chart_is_drawn_at_most_twice_a_second(tmp_path):
    async def scenario():
        engine, runner, _ = make_engine(tmp_path, speed=50)
        await runner.start(run=["BTCUSDT", "ETHUSDT"])
        dash = Dashboard(engine)
        try:
            await dash.wait_live(5)
            loop = asyncio.get_running_loop()
            start, t0 = dash.chart.renders, loop.time()
            # wait for redraws (the market moves all the time at 50x), then count them against the time taken
            await wait_until(lambda: dash.chart.renders - start >= 6 and loop.time() - t0 >= 3, 60, "redraws")
            renders, seconds = dash.chart.renders - start, loop.time() - t0
            assert renders <= 2 * seconds + 2, (renders, seconds)  # 2 Hz at most
            dash.pairs.widget.selected_index = 1
            await wait_until(
                lambda: dash.chart.figure.layout.title.text.startswith("ETHUSDT"), what="chart follows the tab"
            )
            assert all(p < 10_000 for p in dash.chart.figure.data[0].y if p is not None)  # ETH prices now
        finally:
            dash.close()
            await runner.stop()

    asyncio.run(scenario())


def test_dashboard_pauses_without_a_browser_and_resumes_when_one_pings(tmp_path):
    async def scenario():
        engine, runner, _ = make_engine(tmp_path)
        await runner.start(run=["BTCUSDT"])
        dash = Dashboard(engine, start=False, absent_grace_s=0.3)
        dash.presence_check_s = 0.05
        dash.start()
        try:
            await dash.wait_live(5)
            # the watcher looks every 0.05 s: 8 looks span more than the 0.3 s grace
            await wait_until(lambda: dash.presence_checks >= 8, 30, "the presence watcher past the grace")
            assert dash.stream.running  # never pinged (preheated, or not shown yet): keeps going
            dash.presence._got(None, {"ping": 1}, [])  # what the browser side sends every 5 s
            await wait_until(lambda: not dash.stream.running, 5, "a pause once the pings stop")
            assert dash.stream.state == "paused" and "no browser" in dash.stream.detail
            events = dash.stream.events
            looked = dash.presence_checks
            await wait_until(lambda: dash.presence_checks >= looked + 6, 30, "six more looks while paused")
            assert dash.stream.events == events  # quiet: the idle culler may take the kernel
            dash.presence._got(None, {"ping": 2}, [])
            await wait_until(lambda: dash.live and dash.stream.connections == 2, 5, "resumed from a new snapshot")
        finally:
            dash.close()
            await runner.stop()

    asyncio.run(scenario())


def test_rebalance_fills_are_labelled_units_are_shown_and_the_equity_chart_adds_up(tmp_path):
    """An in-process engine whose BTC share starts just under its band (39.98% of 1 BTC + 90,100 USDT at
    60,000; band 40% to 60%): the rebalance's taker fills show in the fills table as "rebalance", its cost
    on the PnL line of its own, every price and quantity with its asset, and the equity chart draws the PnL
    and its parts (which add up to it)."""
    from liqkit.domain.config import PairConfig, SimConfig
    from liqkit.engine.handle import LocalEngine
    from liqkit.engine.runner import EngineRunner
    from liqkit.journal import Journal
    from liqkit.ui.chart import EQUITY_FIRST
    from liqkit.ui.equity import EQUITY_TRACES
    from liqkit.venues.sim.venue import SimVenue

    async def scenario():
        pair = PairConfig(
            symbol="BTCUSDT", spread="50bps", rebalance_band=Decimal("0.1"), rebalance_mode="taker", skew=0
        )
        sim = SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(90_100)}, taker_fee_bps=Decimal(2))
        venue = SimVenue(["BTCUSDT"], sim, speed=20)
        runner = EngineRunner(venue, [pair], Journal.in_state_dir(tmp_path / "state"), timer_s=0.05)
        engine = LocalEngine(runner)
        await runner.start(run=["BTCUSDT"])
        dash = Dashboard(engine)
        try:
            await dash.wait_live(5)
            await wait_until(lambda: engine.pnl_parts("BTCUSDT")[4] > 0, 30, "a rebalance fill")
            rows = lambda: [dash.fills.fills_table.cells(k) for k in dash.fills.fills_table.row_keys()]  # noqa: E731
            await wait_until(lambda: any(r[3] == "rebalance" for r in rows()), 10, "a rebalance row")
            row = next(r for r in rows() if r[3] == "rebalance")
            assert row[1:3] == ["BTCUSDT", "BUY"]  # below its band: it bought
            assert row[4].endswith(" USDT") and row[5].endswith(" BTC") and row[6].endswith(" USDT"), row
            assert row[7] == "no"  # a taker
            # the PnL line of its own, and the parts adding up exactly
            pnl, capture, inventory, fees, cost = engine.pnl_parts("BTCUSDT")
            assert cost > 0 and capture + inventory - fees - cost == pnl
            view = (await engine.pnl())["BTCUSDT"]
            assert view.rebalance_fills >= 1 and view.rebalance_cost > 0
            await wait_until(lambda: dash.fills.pnl.get("BTCUSDT", view).rebalance_fills >= 1, 10, "the PnL row")
            dash.fills.flush()
            cells = dash.fills.pnl_table.cells("BTCUSDT")
            assert cells[1].endswith(" USDT") and float(cells[5].replace(",", "")) > 0  # rebalance column
            # the equity chart: its five traces, fed by the engine's PnL, each point adding up
            fw = dash.chart.figure
            names = [t.name for t in fw.data[EQUITY_FIRST:]]
            assert tuple(names) == EQUITY_TRACES
            await wait_until(lambda: len(fw.data[EQUITY_FIRST].x or ()) >= 3, 20, "equity points")
            eq, parts = fw.data[EQUITY_FIRST].y, [fw.data[EQUITY_FIRST + i].y for i in range(1, 5)]
            for i in range(len(eq)):
                assert sum(p[i] for p in parts) == pytest.approx(eq[i], abs=1e-9)
            assert min(fw.data[EQUITY_FIRST + 4].y) < 0  # the rebalance's cost drawn below zero
            assert fw.layout.yaxis4.title.text == "PnL (USDT)"
            # balances and orders with their assets; orders with their times
            dash.balances.flush()
            assert all(c.endswith(" BTC") for c in dash.balances.table.cells("BTC")[1:5])
            await wait_until(lambda: dash.orders.table.row_keys(), 10, "an order row")
            o = dash.orders.table.cells(dash.orders.table.row_keys()[0])
            assert o[2].endswith(" USDT") and o[3].endswith(" BTC") and o[6] in ("quote", "rebalance", "exit")
            assert len(o[7]) == len(o[8]) == 8 and o[7] <= o[8]  # placed, updated: HH:MM:SS
            # the journal labels them too
            fills = runner.journal.fills("BTCUSDT")
            assert (fills["purpose"] == "rebalance").sum() == (await engine.pnl())["BTCUSDT"].rebalance_fills
        finally:
            dash.close()
            await runner.stop()

    asyncio.run(scenario())


def test_the_form_turns_the_rebalance_on_and_off_and_names_a_bad_band(tmp_path):
    async def scenario():
        engine, runner, _ = make_engine(tmp_path)
        await runner.start(run=["BTCUSDT"])
        panel = PairPanel(engine, "BTCUSDT", engine.pair_view("BTCUSDT"))
        stream = EventStream(engine, [panel]).start()
        try:
            await wait_until(lambda: stream.state == "live" and panel.ticker, what="live")
            assert panel.inputs["rebalance_band"].value == ""  # off
            panel.inputs["rebalance_band"].value = "0.7"  # 0.5 ± 0.7 covers every share
            assert not panel.valid and panel.apply_btn.disabled
            assert "rebalance_band" in panel.form_msg.value and "covers every share" in panel.form_msg.value
            panel.inputs["rebalance_band"].value = "0.1"
            await wait_until(lambda: panel.preview_quotes, what="a preview")
            assert {q.side for q in panel.preview_quotes} == {"BUY", "SELL"}  # the quotes: no rebalancing order
            panel.apply()
            await wait_until(lambda: runner.core.pair("BTCUSDT").cfg.rebalance_band == Decimal("0.1"), what="on")
            assert runner.core.pair("BTCUSDT").params.rebal_on
            await wait_until(lambda: panel.note.startswith("applied"), what="applied note")
            panel.inputs["rebalance_band"].value = ""
            assert panel.changes == {"rebalance_band": None}
            await wait_until(lambda: panel.valid and not panel.apply_btn.disabled, what="valid")
            panel.apply()
            await wait_until(lambda: runner.core.pair("BTCUSDT").cfg.rebalance_band is None, what="off again")
            assert engine.pair_view("BTCUSDT").state == "quoting"
        finally:
            stream.stop()
            await runner.stop()

    asyncio.run(scenario())


def test_the_form_turns_oco_exits_on_naming_a_missing_distance_and_the_orders_show_the_legs(tmp_path):
    async def scenario():
        # 2 BTC and 200,000 USDT at about 60,000: half the value is about 2.67 BTC, 0.67 short of it
        engine, runner, _ = make_engine(tmp_path)
        await runner.start(run=["BTCUSDT"])
        panel = PairPanel(engine, "BTCUSDT", engine.pair_view("BTCUSDT"))
        stream = EventStream(engine, [panel]).start()
        try:
            await wait_until(lambda: stream.state == "live" and panel.ticker, 60, what="live")
            assert panel.inputs["exit_inventory"].value == "" and panel.inputs["iceberg_visible"].value == ""
            panel.inputs["exit_inventory"].value = "0.5"
            assert not panel.valid and panel.apply_btn.disabled  # a threshold without its distances: refused
            assert "exit_take_profit is not" in panel.form_msg.value and "50bps" in panel.form_msg.value
            panel.inputs["exit_take_profit"].value = "30bps"
            panel.inputs["exit_stop_loss"].value = "40bps"
            await wait_until(lambda: panel.valid and not panel.apply_btn.disabled, 60, what="valid")
            panel.apply()
            st = runner.core.pair("BTCUSDT")
            await wait_until(lambda: st.exit is not None and st.exit.placed, 60, what="the exit placed")
            legs = [o for o in engine.orders("BTCUSDT") if o.purpose == "exit"]
            assert len(legs) == 2 and {o.side for o in legs} == {"BUY"}, legs  # a BUY list: too little base
            prices = sorted(Decimal(o.price) for o in legs)
            assert prices[0] < Decimal(st.rules.price(st.bid)) and prices[1] > Decimal(st.rules.price(st.ask))
            for key in ("exit_inventory", "exit_take_profit", "exit_stop_loss"):  # off again: the list goes
                panel.inputs[key].value = ""
            await wait_until(lambda: panel.valid and not panel.apply_btn.disabled, 60, what="valid")
            panel.apply()
            await wait_until(lambda: st.exit is None, 60, what="the exit cancelled")
            assert not [o for o in engine.orders("BTCUSDT") if o.purpose == "exit"]
        finally:
            stream.stop()
            await runner.stop()

    asyncio.run(scenario())
