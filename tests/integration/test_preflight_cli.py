"""`liqkit preflight` as a user runs it: a real process, on the default config (the simulated exchange,
no keys, no network), on config files, on a recording, and against a real `liqkit sim-server`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from processes import ProcessOutput, accepts, free_port, wait_for

from liqkit.data.loader import load_market_data
from liqkit.domain.rules import load_exchange_info, plain_decimal
from liqkit.preflight import Preflight, preflight
from liqkit.service.defaults import default_config
from liqkit.venues.survey import survey

SAMPLES = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples"
DECLARED = {f"{r['rateLimitType']} per {r['intervalNum']} {r['interval']}" for r in load_exchange_info()["rateLimits"]}
KEY, SECRET = "k" * 24, "s" * 48


def liqkit(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "liqkit.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_preflight_works_out_of_the_box_on_the_simulated_exchange(tmp_path):
    p = liqkit("preflight", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("liqkit preflight: 2 pairs on sim (nothing is sent)")
    for words in (
        "BTCUSDT    market 60000 / 60000.01 USDT",
        "filters  tick 0.01 USDT · step 0.00001 BTC · qty 0.00001 to 9000 BTC · min notional 10 USDT",
        "size     20 USDT a quote",
        "funded   bids: 1 of 1 levels in full",
        "rate     refresh_tolerance on ",
        "refused  nothing: every level goes out as configured",
        "ORDERS per 10 SECOND",
        "result: ok",
    ):
        assert words in out, (words, out)
    assert "ETHUSDT" in out and p.stderr == ""
    assert not list(tmp_path.iterdir())  # nothing written: no state directory, no journal


def test_preflight_json_is_the_pure_table_of_the_simulated_exchange_survey(tmp_path):
    p = liqkit("preflight", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    got = Preflight.model_validate(json.loads(p.stdout))
    cfg = default_config()
    pairs = list(cfg.pairs.values())
    found = asyncio.run(survey(cfg, [c.symbol for c in pairs]))
    want = preflight(pairs, found.rules, found.balances, found.markets, found.limits, found.venue)
    assert got == want  # the process computes what the pure function does on the same venue's inputs
    assert set(got.pairs) == {"BTCUSDT", "ETHUSDT"} and got.venue == "sim" and got.ok
    btc = got.pairs["BTCUSDT"]
    assert [(q.side, q.level) for q in btc.quotes] == [("BUY", 0), ("SELL", 0)]
    assert btc.bids is not None and btc.asks is not None
    assert (btc.bids.available, btc.asks.available) == ("100000", "1")  # [sim.balances] by default
    assert btc.rate is not None and btc.rate.sample_s > 590 and btc.rate.orders > 10
    assert {lp.limit for lp in got.rate_plan.limits} == DECLARED  # read from the shipped exchangeInfo
    assert "seed 7" in btc.market and "seed 8" in got.pairs["ETHUSDT"].market


def test_a_config_file_with_refusals_says_each_and_exits_1(tmp_path):
    cfg = tmp_path / "c.toml"
    # the feed starts at 60000 / 60000.01: bids of 0.01 BTC at 59999.90, .80, .70 cost about 600 USDT each, so
    # 1210 USDT leaves 10.003 for the third: 0.00016 BTC, 9.60 USDT, under the 10 USDT minimum: not sent
    cfg.write_text(
        '[sim.balances]\nUSDT = 1210\nBTC = "0.025"\n\n'
        '[pairs.BTCUSDT]\nsize = "0.01"\nlevels = 3\nspread = "10ticks"\nlevel_spacing = "10ticks"\n'
        'refresh_tolerance = "5ticks"\nmax_order_notional = "700"\n'
    )
    p = liqkit("preflight", "--config", str(cfg), "--json", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    btc = Preflight.model_validate(json.loads(p.stdout)).pairs["BTCUSDT"]
    assert btc.bids is not None and btc.asks is not None
    assert (btc.bids.funded, btc.bids.placed, btc.asks.funded, btc.asks.placed) == (2, 2, 2, 3)
    third = btc.quotes[2]
    assert (third.side, third.level, third.placed_qty) == ("BUY", 2, "0")
    assert [w.code for w in third.refusals] == ["balance", "NOTIONAL"]
    text = liqkit("preflight", "--config", str(cfg), cwd=tmp_path)
    assert text.returncode == 1
    assert "refused  BUY 2: balance: not enough USDT" in text.stdout
    assert "[balances.USDT]" in text.stdout and "result: not ok: " in text.stdout


def test_a_recording_measures_the_movement_and_sets_the_market(tmp_path):
    data = SAMPLES / "btcusdt_20240808.gz"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[pairs.BTCUSDT]\nsize = "0.001"\nrefresh_tolerance = "1bps"\n')
    p = liqkit("preflight", "--config", str(cfg), "--data", str(data), "--json", cwd=tmp_path)
    assert p.returncode in (0, 1), p.stderr
    btc = Preflight.model_validate(json.loads(p.stdout)).pairs["BTCUSDT"]
    md = load_market_data(data)
    first_bid, first_ask = int(md.book["bid"][0]), int(md.book["ask"][0])
    assert (btc.bid, btc.ask) == (plain_decimal(md.rules.price(first_bid)), plain_decimal(md.rules.price(first_ask)))
    assert "recording" in btc.market and btc.rate is not None
    span_s = (int(md.book["ts_local"][-1]) - int(md.book["ts_local"][0])) / 1e9
    assert abs(btc.rate.sample_s - span_s) < 1 and btc.rate.orders > 2


def test_against_a_local_binance_it_reads_its_rules_account_and_trades_and_sends_nothing(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--symbols", "BTCUSDT",
         "--api-key", KEY, "--api-secret", SECRET, "--speed", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    served = ProcessOutput(server)
    url = f"http://127.0.0.1:{port}"
    try:
        served.wait_for_line(lambda ln: "Binance spot API for BTCUSDT" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")

        def trades() -> int:
            with urllib.request.urlopen(f"{url}/api/v3/trades?symbol=BTCUSDT&limit=1000", timeout=10) as r:
                return len(json.loads(r.read()))

        wait_for(lambda: trades() >= 50, 120, "50 trades played")
        cfg = tmp_path / "c.toml"
        cfg.write_text('[pairs.BTCUSDT]\nsize = "20"\nsize_unit = "quote"\n')
        env = {**os.environ, "BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
        p = liqkit("preflight", "--config", str(cfg), "--venue", url, "--json", cwd=tmp_path, env=env)
        assert p.returncode in (0, 1), p.stderr
        report = Preflight.model_validate(json.loads(p.stdout))
        btc = report.pairs["BTCUSDT"]
        assert report.venue == "binance-local" and btc.bid is not None
        assert "latest" in btc.market and "trades" in btc.market
        assert btc.bids is not None and btc.bids.available == "100000"  # the server's account: [sim] balances
        assert btc.rate is not None and btc.rate.sample_s > 0
        assert {lp.limit for lp in report.rate_plan.limits} == DECLARED  # the server's exchangeInfo
        assert [w.code for w in btc.refusals] == []
        with urllib.request.urlopen(f"{url}/api/v3/ticker/24hr?symbol=BTCUSDT", timeout=10) as r:
            assert json.loads(r.read())["symbol"] == "BTCUSDT"
        assert_no_order_was_placed(url)
    finally:
        server.terminate()
        served.finish()


def assert_no_order_was_placed(url: str) -> None:
    from liqkit.venues.binance import client_class

    async def orders() -> list[dict[str, object]]:
        client = await client_class(url).create(KEY, SECRET, testnet=True)
        try:
            return await client.get_all_orders(symbol="BTCUSDT")  # type: ignore[no-any-return]
        finally:
            await client.close_connection()

    assert asyncio.run(orders()) == []


def test_the_survey_samples_the_very_feed_the_simulated_exchange_plays():
    """SimVenue picks its feed itself (venues/sim/venue.py); the survey must pick the same one."""
    from liqkit.venues.sim.venue import SimVenue

    cfg = default_config()
    symbols = list(cfg.pairs)
    found = asyncio.run(survey(cfg, symbols))

    async def played() -> dict[str, tuple[list[int], list[int], list[int]]]:
        venue = SimVenue(symbols, cfg.sim)
        await venue.start()
        try:
            return {s: tuple(venue._data[s].book[k].tolist() for k in ("ts_local", "bid", "ask")) for s in symbols}
        finally:
            await venue.close()

    for sym, (ts, bids, asks) in asyncio.run(played()).items():
        m = found.markets[sym]
        assert (list(m.ts), list(m.bids), list(m.asks)) == (ts, bids, asks), sym
        assert (m.bid, m.ask) == (bids[0], asks[0])  # the first top: what a start quotes against
