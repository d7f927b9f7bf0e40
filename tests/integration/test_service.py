"""`liqkit serve` as a real process: its API, its event stream, its lifecycle, and bad input."""

import asyncio
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from processes import ProcessOutput, accepts, free_port, start_service, stop_service, wait_for

from liqkit.client import EngineClient, ServiceError
from liqkit.domain.errors import ConfigError
from liqkit.engine.events import SnapshotEvent, TickerEvent
from liqkit.engine.views import Balance, EngineStatus, PairPnl, PairView, Snapshot


def http(method: str, url: str, token: str | None, body: bytes | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    state = tmp_path_factory.mktemp("svc")
    proc, url = start_service(state, "--speed", "5")
    token = (state / "token").read_text().strip()
    yield url, token, state, proc
    if proc.poll() is None:
        stop_service(proc)


def test_token_file_is_private_and_every_request_needs_it(service):
    url, token, state, _ = service
    assert stat.S_IMODE((state / "token").stat().st_mode) == 0o600
    assert json.loads((state / "service.json").read_text())["url"] == url
    assert http("GET", f"{url}/api/status", None)[0] == 401
    assert http("GET", f"{url}/api/status", "wrong-token")[0] == 401
    assert http("GET", f"{url}/openapi.json", None)[0] == 401
    code, body = http("GET", f"{url}/api/status", token)
    assert code == 200 and body["venue"] == "sim" and body["state"] == "running"
    assert set(body["loop_lag_ms"]) == {"last", "max"} and set(body["pairs"]) == {"BTCUSDT", "ETHUSDT"}
    code, pairs = http("GET", f"{url}/api/pairs", token)
    assert set(pairs) == {"BTCUSDT", "ETHUSDT"} and {p["state"] for p in pairs.values()} == {"stopped"}


def test_run_configure_and_bad_input_leave_the_pair_quoting(service):
    url, token, state, _ = service
    assert http("POST", f"{url}/api/pairs/BTCUSDT/run", token)[0] == 200

    def two_orders():
        code, orders = http("GET", f"{url}/api/orders?symbol=BTCUSDT", token)
        return code == 200 and {o["side"] for o in orders if o["status"] in ("NEW", "PARTIALLY_FILLED")} == {
            "BUY",
            "SELL",
        }

    wait_for(two_orders, what="a buy and a sell order")
    bad = [
        (b"{not json", 422, None),
        (b"[1, 2]", 422, None),
        (json.dumps({"levels": "two"}).encode(), 422, "levels"),
        (json.dumps({"sprad": "5bps"}).encode(), 422, "sprad"),
        (json.dumps({"levels": 99}).encode(), 422, "levels"),
        (json.dumps({"spread": "-5bps"}).encode(), 422, "spread"),
        (json.dumps({"size": "0.0000001"}).encode(), 422, "size"),
        (json.dumps({"size": "0.00000001"}).encode(), 422, "size"),
    ]
    for body, want, names in bad:
        code, answer = http("PUT", f"{url}/api/pairs/BTCUSDT", token, body)
        assert code == want, (body, code, answer)
        if names:
            assert names in json.dumps(answer["detail"]), (body, answer)
    assert http("PUT", f"{url}/api/pairs/BTCUSDX", token, b'{"spread": "5bps"}')[0] == 404
    assert http("POST", f"{url}/api/pairs/NOPE/run", token)[0] == 404
    assert http("GET", f"{url}/api/fills?limit=0", token)[0] == 422
    code, pair = http("GET", f"{url}/api/pairs/BTCUSDT", token)
    assert pair["state"] == "quoting" and pair["config"]["bid_spread"] == "2bps"
    wait_for(two_orders, what="the pair to keep quoting after bad input")

    code, pair = http("PUT", f"{url}/api/pairs/BTCUSDT", token, b'{"spread": "4bps", "levels": 2}')
    assert code == 200 and pair["config"]["bid_spread"] == "4bps" and pair["config"]["levels"] == 2
    assert pair["state"] == "quoting"
    code, preview = http("POST", f"{url}/api/pairs/BTCUSDT/preview", token, b'{"spread": "20bps"}')
    assert code == 200 and {q["side"] for q in preview} == {"BUY", "SELL"}
    assert (
        http("GET", f"{url}/api/pairs/BTCUSDT", token)[1]["config"]["bid_spread"] == "4bps"
    )  # preview applies nothing
    code, pnl = http("GET", f"{url}/api/pnl", token)
    assert code == 200 and set(pnl["BTCUSDT"]) >= {"pnl", "spread_capture", "inventory_pnl", "fees"}
    code, balances = http("GET", f"{url}/api/balances", token)
    assert code == 200 and Decimal_(balances["USDT"]["locked"]) > 0

    def audited():  # every change is in the journal (flushed within the engine's 1 s timer)
        with sqlite3.connect(state / "journal.sqlite") as db:
            rows = db.execute("SELECT config, source FROM config_changes WHERE symbol = 'BTCUSDT'").fetchall()
        return any('"4bps"' in cfg and src == "api" for cfg, src in rows)

    wait_for(audited, what="the config change in the journal")


def Decimal_(s: str):
    from decimal import Decimal

    return Decimal(s)


def test_client_and_event_stream(service):
    url, token, _, _ = service

    async def main():
        async with EngineClient(url, token) as c:
            view = await c.run("ETHUSDT")
            assert isinstance(view, PairView) and view.state == "quoting" and view.config.symbol == "ETHUSDT"
            # the same types an in-process LocalEngine returns
            status, pnl, balances = await c.status(), await c.pnl(), await c.balances()
            assert isinstance(status, EngineStatus) and status.pairs["ETHUSDT"].state == "quoting"
            assert isinstance(pnl["ETHUSDT"], PairPnl) and pnl["ETHUSDT"].quote_asset == "USDT"
            assert isinstance(balances["USDT"], Balance) and Decimal_(balances["USDT"].free) > 0
            with pytest.raises(ConfigError, match="levels"):
                await c.configure("ETHUSDT", {"levels": 0})
            with pytest.raises(ServiceError) as e:
                await c.run("XRPUSDT")
            assert e.value.status == 404
            kinds, tickers = [], []
            snapshot = None
            t0 = time.monotonic()

            async def listen() -> None:  # until 4 s have passed and each kind has come a few times
                nonlocal snapshot
                async for ev in c.events():
                    kinds.append(ev.kind)
                    if isinstance(ev, TickerEvent) and ev.symbol == "ETHUSDT":
                        tickers.append(time.monotonic())
                    if isinstance(ev, SnapshotEvent):
                        snapshot = ev.snapshot
                    if (
                        time.monotonic() - t0 > 4
                        and kinds.count("health") >= 3
                        and len(tickers) >= 2
                        and "order" in kinds
                    ):
                        return

            await asyncio.wait_for(listen(), 120)
            return kinds, tickers, snapshot, time.monotonic() - t0

    kinds, tickers, snapshot, seconds = asyncio.run(main())
    assert kinds[0] == "snapshot"
    assert isinstance(snapshot, Snapshot) and snapshot.pairs["ETHUSDT"].state == "quoting"
    assert "ticker" in kinds and "order" in kinds
    # status and PnL once a second; tickers coalesced to at most 2 a second per pair (plus one at the start)
    assert kinds.count("health") <= seconds + 2, (kinds.count("health"), seconds)
    assert len(tickers) <= 2 * seconds + 2, (len(tickers), seconds)
    bad = EngineClient(url, "wrong")

    async def refused():
        try:
            async for _ in bad.events():
                pass
        finally:
            await bad.close()

    with pytest.raises(ServiceError):
        asyncio.run(refused())


# every endpoint's answer: (method, path) -> (schema name, how it is wrapped, the answer's fields)
PAIR_FIELDS = {"symbol", "base_asset", "quote_asset", "state", "reason", "config", "bid", "ask", "feed_age_s",
               "open_orders", "position", "fills", "filters"}  # fmt: skip
RESPONSES = {
    ("get", "/api/status"): ("EngineStatus", "", {"state", "venue", "events", "reconnects", "loop_lag_ms", "errors",
                                                   "pairs", "rate_limits", "latency_us", "rate_plan"}),
    ("get", "/api/pairs"): ("PairView", "additionalProperties", PAIR_FIELDS),
    ("get", "/api/pairs/{symbol}"): ("PairView", "", PAIR_FIELDS),
    ("put", "/api/pairs/{symbol}"): ("PairView", "", PAIR_FIELDS),
    ("post", "/api/pairs/{symbol}/run"): ("PairView", "", PAIR_FIELDS),
    ("post", "/api/pairs/{symbol}/stop"): ("PairView", "", PAIR_FIELDS),
    ("post", "/api/pairs/{symbol}/preview"): ("Quote", "items", {"side", "level", "price", "qty"}),
    ("get", "/api/orders"): ("OrderView", "items", {"client_id", "symbol", "side", "level", "price", "qty", "filled",
                                                     "status", "purpose", "placed_ts", "updated_ts"}),
    ("get", "/api/balances"): ("Balance", "additionalProperties", {"free", "locked"}),
    ("get", "/api/fills"): ("Fill", "items", {"kind", "ts", "symbol", "client_id", "side", "price", "qty", "fee",
                                              "fee_asset", "maker", "mid", "ts_exchange", "trade_id", "purpose"}),
    ("get", "/api/pnl"): ("PairPnl", "additionalProperties", {"pnl", "spread_capture", "inventory_pnl", "fees",
                                                             "rebalance_cost", "rebalance_fills", "position", "volume",
                                                             "fills", "quote_asset"}),
    ("get", "/api/pnl/history"): ("PnlPoint", "additionalProperties.items", {"ts", "pnl", "spread_capture",
                                                                             "inventory_pnl", "fees",
                                                                             "rebalance_cost"}),
    ("get", "/api/preflight"): ("Preflight", "", {"venue", "pairs", "rate_plan", "observed", "ok"}),
}  # fmt: skip


def test_openapi_documents_every_answer_and_the_answers_match_it(service):
    url, token, _, _ = service
    code, doc = http("GET", f"{url}/openapi.json", token)
    assert code == 200
    components = doc["components"]["schemas"]
    ops = {(m, path) for path, item in doc["paths"].items() if path.startswith("/api") for m in item}
    assert ops == set(RESPONSES), ops ^ set(RESPONSES)  # every endpoint is checked below, and only those
    for (method, path), (name, wrap, fields) in RESPONSES.items():
        schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert wrap == "" or schema["type"] in ("array", "object"), (path, schema)
        for part in wrap.split(".") if wrap else ():
            schema = schema[part]
        ref = schema["$ref"]
        assert ref == f"#/components/schemas/{name}", (method, path, ref)
        props = components[name]["properties"]
        assert set(props) == fields, (path, set(props) ^ fields)
        assert all(p.get("description") for p in props.values()), (name, props)  # every field documented
    # the live answers have exactly the documented fields
    assert set(http("GET", f"{url}/api/status", token)[1]) == RESPONSES["get", "/api/status"][2]
    assert set(http("GET", f"{url}/api/status", token)[1]["latency_us"]) == {"n", "p50_us", "p99_us", "max_us"}
    for sym, view in http("GET", f"{url}/api/pairs", token)[1].items():
        assert set(view) == PAIR_FIELDS and set(view["config"]) == set(components["PairConfig"]["properties"]), sym
    for p in http("GET", f"{url}/api/pnl", token)[1].values():
        assert set(p) == RESPONSES["get", "/api/pnl"][2]
    for b in http("GET", f"{url}/api/balances", token)[1].values():
        assert set(b) == {"free", "locked"}
    for points in http("GET", f"{url}/api/pnl/history", token)[1].values():
        assert all(set(p) == RESPONSES["get", "/api/pnl/history"][2] for p in points)


def test_fills_answers_the_latest_rows_asked_for_from_a_long_journal(tmp_path):
    from decimal import Decimal

    from liqkit.domain.types import Side
    from liqkit.journal import Journal

    t0 = 1_700_000_000 * 10**9
    made = []  # (ts, symbol, trade id, price text), in the order written
    with Journal.in_state_dir(tmp_path) as j:
        for i in range(30_000):
            sym = "ETHUSDT" if i % 3 == 0 else "BTCUSDT"
            price = f"{60_000 + i % 1000}.{i % 9 + 1}"  # plain text as stored: no trailing zero
            j.fill(t0 + i * 10**6, sym, f"lq.{i}", Side.BUY if i % 2 else Side.SELL, Decimal(price), "0.001",
                   "0.0001", "USDT", bool(i % 5), ts_exchange=t0 + i * 10**6 - 7, trade_id=i)  # fmt: skip
            made.append((t0 + i * 10**6, sym, i, price))
    proc, url = start_service(tmp_path)  # pairs stopped: the journal holds only what was written above
    try:
        token = (tmp_path / "token").read_text().strip()

        def ids(query: str) -> list[int]:
            code, fills = http("GET", f"{url}/api/fills?{query}", token)
            assert code == 200, (query, fills)
            return [f["trade_id"] for f in fills]

        btc = [m for m in made if m[1] == "BTCUSDT"]
        assert ids("symbol=BTCUSDT&limit=50") == [m[2] for m in btc[-50:]]
        assert ids("limit=7") == [m[2] for m in made[-7:]]
        since = made[29_990][0]
        assert ids(f"symbol=ETHUSDT&limit=100&since={since}") == [m[2] for m in made[29_990:] if m[1] == "ETHUSDT"]
        assert ids(f"symbol=BTCUSDT&limit=3&since={made[100][0]}") == [m[2] for m in btc[-3:]]
        assert ids(f"since={made[-1][0] + 1}") == []
        assert http("GET", f"{url}/api/fills?since=-1", token)[0] == 422
        code, last = http("GET", f"{url}/api/fills?symbol=btcusdt&limit=1", token)
        ts, sym, tid, price = btc[-1]
        assert last == [{"kind": "fill", "ts": ts, "ts_exchange": ts - 7, "symbol": sym, "client_id": f"lq.{tid}",
                         "side": "BUY" if tid % 2 else "SELL", "price": price, "qty": "0.001", "fee": "0.0001",
                         "fee_asset": "USDT", "maker": bool(tid % 5), "trade_id": tid, "mid": None,
                         "purpose": "quote"}]  # fmt: skip

        async def through_the_client():
            async with EngineClient(url, token) as c:
                return await c.fills("ETHUSDT", limit=2, since_ns=t0)

        fills = asyncio.run(through_the_client())
        assert [(f.trade_id, f.price, f.symbol) for f in fills] == [
            (m[2], m[3], m[1]) for m in made if m[1] == "ETHUSDT"
        ][-2:]
    finally:
        code, _, err = stop_service(proc)
    assert code == 0, err


def test_cli_talks_to_the_service(service):
    _, _, state, _ = service
    run = [sys.executable, "-m", "liqkit.cli"]
    out = subprocess.run([*run, "status", "--state-dir", str(state)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "engine running on sim" in out.stdout and "BTCUSDT" in out.stdout
    out = subprocess.run(
        [*run, "config", "BTCUSDT", "spread=6bps", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "spread 6bps/6bps" in out.stdout
    out = subprocess.run(
        [*run, "config", "BTCUSDT", "levels=-1", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "levels = -1: Input should be greater than or equal to 1" in out.stderr
    out = subprocess.run(
        [*run, "stop", "ETHUSDT", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "ETHUSDT" in out.stdout and "stopped" in out.stdout


# BTCUSDT sized in BTC, quoted 200bps away with a 200bps refresh tolerance: its two orders stay put (the
# market does not move 2% in a test), so "the same orders" can be checked by their client ids
WIDE_BTC = '[pairs.BTCUSDT]\nsize = "0.002"\nsize_unit = "base"\nspread = "200bps"\nrefresh_tolerance = "200bps"\n'


def test_a_size_below_the_minimum_order_value_is_refused_by_put_and_cli_and_the_pair_keeps_its_orders(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(WIDE_BTC)
    state = tmp_path / "state"
    proc, url = start_service(state, "--config", str(cfg), "--speed", "5", "--run", "BTCUSDT")
    token = (state / "token").read_text().strip()
    try:

        def resting() -> set[str]:
            code, orders = http("GET", f"{url}/api/orders?symbol=BTCUSDT", token)
            live = {o["client_id"] for o in orders if o["status"] in ("NEW", "PARTIALLY_FILLED")}
            return live if code == 200 and {o["side"] for o in orders} == {"BUY", "SELL"} and len(live) == 2 else set()

        before = wait_for(resting, what="a buy and a sell order")
        config = http("GET", f"{url}/api/pairs/BTCUSDT", token)[1]["config"]
        body = b'{"size": "0.0001"}'  # 0.0001 BTC, about 6 USDT: under BTCUSDT's minimum order value, 10 USDT
        code, previewed = http("POST", f"{url}/api/pairs/BTCUSDT/preview", token, body)
        assert code == 422, previewed
        code, answer = http("PUT", f"{url}/api/pairs/BTCUSDT", token, body)
        assert code == 422, answer
        assert answer == previewed  # one rule: the PUT refuses what the preview refuses, in the same words
        detail = answer["detail"]
        for words in ("size = 0.0001", "size 0.0001 BTC is worth about", "minimum order value 10 USDT", "raise size"):
            assert words in detail, (words, detail)
        cli = subprocess.run(
            [sys.executable, "-m", "liqkit.cli", "config", "BTCUSDT", "size=0.0001", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 2 and cli.stdout == "", (cli.returncode, cli.stdout, cli.stderr)
        # one line, the API's words (the value "about" it names is the market's a moment later: it may move)
        worth = re.compile(r"worth about [0-9.]+ ")
        want = f"liqkit config: error: {detail}\n"
        assert worth.sub("worth about N ", cli.stderr) == worth.sub("worth about N ", want), cli.stderr
        pair = http("GET", f"{url}/api/pairs/BTCUSDT", token)[1]
        assert pair["config"] == config and pair["state"] == "quoting" and pair["open_orders"] == 2, pair
        assert resting() == before  # the very same two orders still rest: nothing was cancelled or replaced
        code, pair = http("PUT", f"{url}/api/pairs/BTCUSDT", token, b'{"size": "0.0003"}')  # ~18 USDT: fine
        assert code == 200 and pair["config"]["size"] == "0.0003", pair

        def journaled() -> list[str]:  # the config changes, once the accepted one is flushed (1 s timer)
            with sqlite3.connect(state / "journal.sqlite") as db:
                rows = [c for (c,) in db.execute("SELECT config FROM config_changes WHERE symbol = 'BTCUSDT'")]
            return rows if any('"0.0003"' in c for c in rows) else []

        assert not any('"0.0001"' in c for c in wait_for(journaled, what="the accepted change journaled"))
    finally:
        code, _, err = stop_service(proc)
    assert code == 0, err


def test_second_service_on_the_same_state_dir_refuses(service):
    _, _, state, _ = service
    out = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "serve", "--state-dir", str(state), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "another liqkit service is running on state directory" in out.stderr


def test_sigterm_cancels_everything_and_exits_0(tmp_path):
    proc, url = start_service(tmp_path, "--run", "BTCUSDT", "--speed", "5")
    token = (tmp_path / "token").read_text().strip()
    wait_for(lambda: len(http("GET", f"{url}/api/orders", token)[1]) >= 2, what="orders")
    code, out, err = stop_service(proc)
    assert code == 0, err
    assert "stopped; 0 liqkit orders left open" in out
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        last = db.execute(
            "SELECT client_id, status FROM orders o "
            "WHERE id = (SELECT MAX(id) FROM orders WHERE client_id = o.client_id)"
        ).fetchall()
    assert last and all(status in ("CANCELED", "FILLED", "REJECTED", "EXPIRED") for _, status in last), last
    assert not (tmp_path / "service.json").exists()


def test_kill_9_then_restart_cleans_up_before_quoting(tmp_path):
    """Against a liqkit sim-server (whose orders outlive the service): no orphan survives a crash."""
    port = free_port()
    keys = {"BINANCE_API_KEY": "k" * 24, "BINANCE_API_SECRET": "s" * 48}
    server_env = dict(
        os.environ, LIQKIT_SIM_API_KEY=keys["BINANCE_API_KEY"], LIQKIT_SIM_API_SECRET=keys["BINANCE_API_SECRET"]
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--symbols", "BTCUSDT,ETHUSDT"],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = ProcessOutput(server)  # read as it comes: a chatty server never stalls on a full pipe
    try:
        served.wait_for_line(lambda ln: "Binance spot API" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, **keys)
        # quoted 1 % from the mid: the market cannot reach the orphans in the seconds before the restart,
        # however busy the machine (at the 2 bps default one could fill meanwhile)
        wide = tmp_path / "wide.toml"
        wide.write_text('[pairs.BTCUSDT]\nbid_spread = "100bps"\nask_spread = "100bps"\n')
        proc, url = start_service(tmp_path, "--config", str(wide), "--venue", base, "--run", "BTCUSDT", env=env)
        token = (tmp_path / "token").read_text().strip()
        wait_for(lambda: len(http("GET", f"{url}/api/orders", token)[1]) >= 2, what="orders")
        proc.kill()  # kill -9: no cleanup at all
        proc.communicate(timeout=30)

        async def open_at_server() -> list[str]:
            from liqkit.venues.binance import client_class

            c = await client_class(base).create(keys["BINANCE_API_KEY"], keys["BINANCE_API_SECRET"])
            try:
                return [o["clientOrderId"] for o in await c.get_open_orders(symbol="BTCUSDT")]
            finally:
                await c.close_connection()

        orphans = asyncio.run(open_at_server())
        assert len(orphans) >= 2 and all(o.startswith("lq.") for o in orphans)  # the crash left them open
        proc, url = start_service(tmp_path, "--config", str(wide), "--venue", base, env=env)  # the lock died with it
        assert asyncio.run(open_at_server()) == []  # cleaned up before it took any command
        code, _, err = stop_service(proc, signal.SIGINT)
        assert code == 0, err
        with sqlite3.connect(tmp_path / "journal.sqlite") as db:
            states = db.execute("SELECT state, reason FROM states WHERE state = 'cleanup'").fetchall()
        # the server's market runs on meanwhile: an orphan quoted 2bps from the mid (the default) may fill
        # before the restart, so the cleanup cancels those still open, at least one and at most all of them
        assert states, "no cleanup state journaled"
        n = int(states[0][1].split("cancelled ", 1)[1].split(" ", 1)[0])
        assert 1 <= n <= len(orphans) and "liqkit orders" in states[0][1], states[0][1]
    finally:
        server.send_signal(signal.SIGINT)
        served.finish(30)


def test_live_trading_is_refused_without_both_opt_ins(tmp_path):
    env = dict(os.environ, BINANCE_API_KEY="k" * 24, BINANCE_API_SECRET="s" * 48)
    env.pop("LIQKIT_ALLOW_LIVE", None)
    out = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "serve", "--venue", "binance-live", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 2
    assert "live trading needs allow_live = true in the config and LIQKIT_ALLOW_LIVE=1" in out.stderr
    assert not (tmp_path / "token").exists() and not (tmp_path / "journal.sqlite").exists()
    assert "k" * 24 not in out.stdout + out.stderr  # keys never shown


def test_the_rebalance_through_the_service_its_api_and_liqkit_status(tmp_path):
    """`liqkit serve --config` with a pair just under its band (39.98% BTC, band 40% to 60%, taker): the API
    labels its orders and fills "rebalance", its PnL has the rebalance's cost on a line of its own (the
    parts adding up), the PnL history feeds the equity chart, and `liqkit status` prints the split."""
    cfg = tmp_path / "rebalance.toml"
    cfg.write_text(
        "[sim]\ntaker_fee_bps = 2\n\n[sim.balances]\nBTC = 1\nUSDT = 90100\n\n"
        '[pairs.BTCUSDT]\nspread = "50bps"\nrebalance_band = 0.1\nrebalance_mode = "taker"\n'
    )
    state = tmp_path / "svc"
    proc, url = start_service(state, "--config", str(cfg), "--speed", "10", "--run", "BTCUSDT")
    token = (state / "token").read_text().strip()
    try:

        def rebalanced():
            code, fills = http("GET", f"{url}/api/fills?symbol=BTCUSDT", token)
            return code == 200 and [f for f in fills if f["purpose"] == "rebalance"]

        rb = wait_for(rebalanced, 60, "a rebalance fill in the API's fills")
        assert {f["side"] for f in rb} == {"BUY"} and all(".RB0." in f["client_id"] for f in rb)
        assert all(f["maker"] is False for f in rb)
        code, pnl = http("GET", f"{url}/api/pnl", token)
        p = pnl["BTCUSDT"]
        assert code == 200 and p["rebalance_fills"] >= len(rb) and p["rebalance_cost"] > 0
        parts = p["spread_capture"] + p["inventory_pnl"] - p["fees"] - p["rebalance_cost"]
        assert parts == pytest.approx(p["pnl"], abs=1e-9)
        history = wait_for(lambda: (h := http("GET", f"{url}/api/pnl/history", token)[1]).get("BTCUSDT") and h, 30,
                           "PnL history")  # fmt: skip
        points = history["BTCUSDT"]
        assert len(points) >= 1 and set(points[-1]) == {
            "ts", "pnl", "spread_capture", "inventory_pnl", "fees", "rebalance_cost"
        }  # fmt: skip
        assert [q["ts"] for q in points] == sorted(q["ts"] for q in points)
        code, orders = http("GET", f"{url}/api/orders?symbol=BTCUSDT", token)
        assert code == 200 and orders and {o["purpose"] for o in orders} <= {"quote", "rebalance", "exit"}
        assert all(o["placed_ts"] and o["updated_ts"] >= o["placed_ts"] for o in orders), orders
        code, pairs = http("GET", f"{url}/api/pairs/BTCUSDT", token)
        assert (pairs["base_asset"], pairs["quote_asset"]) == ("BTC", "USDT")
        assert pairs["reason"].startswith(("rebalanced: BTC share", "rebalancing: BTC share")), pairs["reason"]
        run = [sys.executable, "-m", "liqkit.cli"]
        out = subprocess.run([*run, "status", "--state-dir", str(state)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        line = next(x for x in out.stdout.splitlines() if x.startswith("PnL BTCUSDT"))
        assert " USDT = spread capture " in line and "- rebalance cost " in line and "rebalance fills)" in line
    finally:
        code, _, err = stop_service(proc)
    assert code == 0, err
