"""The dashboard on a real `liqkit serve` process: commands over HTTP, events over WebSocket, reconnection."""

from __future__ import annotations

import asyncio

from processes import start_service, stop_service
from uihelpers import wait_until

from liqkit.ui import Dashboard


def test_dashboard_drives_a_service_and_follows_it_across_a_restart(service):
    proc, url, state = service

    async def scenario():
        dash = Dashboard.from_state_dir(state)
        try:
            await dash.wait_live(10)
            assert dash.handle.url == url and set(dash.pairs.panels) == {"BTCUSDT", "ETHUSDT"}
            btc = dash.pairs.panels["BTCUSDT"]
            btc.toggle.value = True
            await wait_until(lambda: {c[1] for k in dash.orders.table.row_keys() if (c := dash.orders.table.cells(k))}
                             == {"BUY", "SELL"}, 15, "a buy and a sell row")  # fmt: skip
            btc.inputs["spread"].value = "oops"
            assert "spread = &#x27;oops&#x27;" in btc.form_msg.value and btc.apply_btn.disabled
            btc.inputs["spread"].value = "3bps"
            await wait_until(lambda: btc.preview_quotes, 10, "a preview from the service")
            btc.apply()
            await wait_until(lambda: btc.cfg.bid_spread.value == 3, 10, "the service to apply the spread")
            assert btc.state == "quoting"
            # the service goes away: the dashboard says so, and finds the new one by itself
            _, out, _ = stop_service(proc)
            assert "0 liqkit orders left open" in out
            await wait_until(lambda: dash.stream.state == "disconnected", 15, "the loss to show")
            assert "disconnected" in dash.stream.widget.value
            proc2, url2 = start_service(state, "--speed", "10")
            try:
                await wait_until(lambda: dash.live and dash.stream.connections >= 2, 30, "reconnection")
                assert dash.handle.url == url2 != url  # another port, another token: found through the state dir
                assert btc.state == "stopped"  # the new service starts with its pairs stopped
                await wait_until(lambda: not dash.orders.table.row_keys(), 5, "the old service's orders gone")
                btc.toggle.value = True
                await wait_until(lambda: btc.state == "quoting", 15, "run on the new service")
                btc.toggle.value = False
                await wait_until(lambda: btc.state == "stopped", 15, "stop on the new service")
            finally:
                code, out2, _ = stop_service(proc2)
            assert code == 0 and "0 liqkit orders left open" in out2
        finally:
            dash.close()
            await dash.handle.close()

    asyncio.run(scenario())
