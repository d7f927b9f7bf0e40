"""The dashboard in Debian's headless Chromium (Playwright): what a trader does and sees, end to end.

Screenshots go to tmp_path and the last run's are copied to /tmp/ui-shots/.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
from processes import free_port
from uihelpers import CHROMIUM, CHROMIUM_ARGS, start_dashboard

SHOTS = Path("/tmp/ui-shots")
# the plotly graph div's traces (the element above the chart's svg that holds them)
TRACES = "(() => { let n = document.querySelector('.lq-chart .main-svg'); while (n && !n.data) n = n.parentElement;"
TRACES += " return n.data; })()"


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get update && "
            "DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-dejavu-core` (.ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


ROWS = "Array.from(document.querySelectorAll('.lq-orders-row'))"
ROWS += ".map(r => Array.from(r.querySelectorAll('span'), s => s.textContent))"
SPREAD_BPS = f"""(() => {{ const rows = {ROWS}.filter(r => r[0] === 'BTCUSDT');
  const b = Math.max(...rows.filter(r => r[1] === 'BUY').map(r => parseFloat(r[2])));
  const a = Math.min(...rows.filter(r => r[1] === 'SELL').map(r => parseFloat(r[2])));
  return (a - b) / ((a + b) / 2) * 1e4; }})()"""


def book(page) -> dict[str, list[float]]:
    """Prices of the BTCUSDT rows of the orders table, per side."""
    out: dict[str, list[float]] = {"BUY": [], "SELL": []}
    for row in page.evaluate(f"() => {ROWS}"):
        if row[0] == "BTCUSDT":
            price, unit = row[2].split(" ")  # a price shows its asset
            assert unit == "USDT", row
            out[row[1]].append(float(price))
    return out


def quoted_spread_bps(page) -> float | None:
    b = book(page)
    if not b["BUY"] or not b["SELL"]:
        return None
    bid, ask = max(b["BUY"]), min(b["SELL"])
    return (ask - bid) / ((ask + bid) / 2) * 10_000


def test_trader_runs_tunes_and_stops_a_pair_in_the_browser(tmp_path, browser):
    shots = tmp_path / "shots"
    shots.mkdir()
    dash, url, _ = start_dashboard(tmp_path / "state", free_port(), "--speed", "20")
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    def wait(js: str, arg=None, timeout: float = 30_000) -> None:
        page.wait_for_function(js, arg=arg, timeout=timeout)

    try:
        page.goto(url, timeout=60_000)
        page.wait_for_selector(".lq-pair-BTCUSDT .lq-run", timeout=60_000)
        page.wait_for_selector(".lq-chart .main-svg", timeout=60_000)
        wait("() => document.querySelector('.lq-conn-state')?.textContent === 'live'")
        assert "stopped" in page.inner_text(".lq-pair-BTCUSDT .lq-state")
        shot("01-loaded")

        # run BTCUSDT: a buy and a sell in the table, the ticker and the chart moving
        page.click(".lq-pair-BTCUSDT .lq-run")
        wait("() => document.querySelector('.lq-pair-BTCUSDT .lq-state').innerText.includes('quoting')")
        wait(f"() => {{ const s = new Set({ROWS}.filter(r => r[0] === 'BTCUSDT').map(r => r[1]));"
             " return s.has('BUY') && s.has('SELL'); }")  # fmt: skip
        ticker = page.inner_text(".lq-pair-BTCUSDT .lq-ticker")
        wait("(t) => document.querySelector('.lq-pair-BTCUSDT .lq-ticker').innerText !== t", ticker)
        n0 = page.evaluate(f"() => {TRACES}[0].x.length")
        wait(f"(n) => {TRACES}[0].x.length > n", n0)
        our_bid = page.evaluate(f"() => {TRACES}[2].y.filter(v => v).length")
        assert our_bid > 0  # our quotes are drawn
        before = quoted_spread_bps(page)
        assert before is not None and 0 < before < 9  # the default 2bps a side (tolerance 2bps)
        balances0 = page.inner_text(".lq-balances")
        shot("02-quoting")

        # change the spread: preview, apply, the orders move (the pair keeps quoting)
        page.fill(".lq-pair-BTCUSDT .lq-f-spread input", "8bps")
        page.wait_for_selector(".lq-pair-BTCUSDT .lq-preview :text('would place')", timeout=15_000)
        page.click(".lq-pair-BTCUSDT .lq-apply")
        wait("() => document.querySelector('.lq-pair-BTCUSDT .lq-form-msg').innerText.includes('applied')")
        wait(f"() => {SPREAD_BPS} > 12")
        after = quoted_spread_bps(page)
        assert after is not None and after > 12 > before
        shot("03-spread-8bps")

        # an invalid spread: the error names the field; the pair keeps quoting, its orders stay
        page.fill(".lq-pair-BTCUSDT .lq-f-spread input", "-5bps")
        page.wait_for_selector(".lq-pair-BTCUSDT .lq-form-error", timeout=10_000)
        err = page.inner_text(".lq-pair-BTCUSDT .lq-form-error")
        assert "spread" in err and "negative" in err
        assert page.is_disabled(".lq-pair-BTCUSDT .lq-apply")
        page.wait_for_timeout(1500)
        assert "quoting" in page.inner_text(".lq-pair-BTCUSDT .lq-state")
        wait(f"() => {SPREAD_BPS} > 12")  # still both sides at 8bps (a fill takes one off until the next book)
        shot("04-invalid-spread")

        # a fill: balances change, the fill is listed
        page.wait_for_selector(".lq-fills :text('BTCUSDT')", timeout=90_000)
        wait("(b) => document.querySelector('.lq-balances').innerText !== b", balances0)
        assert page.inner_text(".lq-balances") != balances0
        shot("05-filled")

        # stop: its orders are gone
        page.click(".lq-pair-BTCUSDT .lq-run")
        wait("() => document.querySelector('.lq-pair-BTCUSDT .lq-state').innerText.includes('stopped')")
        wait(f"() => {ROWS}.filter(r => r[0] === 'BTCUSDT').length === 0")
        assert book(page) == {"BUY": [], "SELL": []}
        shot("06-stopped")
        assert not errors, errors
    finally:
        try:
            shot("99-last")
        finally:
            page.close()
            dash.send_signal(signal.SIGINT)
            out, _ = dash.communicate(timeout=90)
            SHOTS.mkdir(exist_ok=True)
            for f in shots.glob("*.png"):
                shutil.copy(f, SHOTS / f.name)
    assert dash.returncode == 0 and "0 liqkit orders left open" in out


FORM_FITS = """() => {
  const inside = (r, b) => r.left >= b.left - 0.5 && r.right <= b.right + 0.5 && r.top >= b.top - 0.5
    && r.bottom <= b.bottom + 0.5;
  const out = [];
  for (const w of document.querySelectorAll('.lq-pair-BTCUSDT [class*="lq-f-"]')) {
    const name = Array.from(w.classList).find(c => c.startsWith('lq-f-'));
    const input = w.querySelector('input');
    const panel = w.closest('.widget-tab-contents');  // the tab's content box, which clips what overflows it
    const cs = getComputedStyle(panel), p = panel.getBoundingClientRect();
    const box = {left: p.left + parseFloat(cs.paddingLeft), right: p.right - parseFloat(cs.paddingRight),
                 top: p.top, bottom: p.bottom};
    const view = {left: 0, right: window.innerWidth, top: 0, bottom: window.innerHeight};
    for (const [what, el] of [['widget', w], ['input', input]]) {
      const r = el.getBoundingClientRect();
      const hit = document.elementFromPoint(r.right - 2, (r.top + r.bottom) / 2);  // what the eye sees there
      out.push({name, what, right: r.right, box: box.right, inBox: inside(r, box), inView: inside(r, view),
                seen: hit !== null && w.contains(hit)});
    }
  }
  return out;
}"""


def test_dashboard_at_1500px_fits_the_form_titles_the_chart_and_shows_bid_and_ask(tmp_path, browser):
    err_path = tmp_path / "stderr.txt"
    err = open(err_path, "w")  # noqa: SIM115 (closed in finally, after the process)
    dash, url, _ = start_dashboard(tmp_path / "state", free_port(), "--speed", "20", stderr=err)
    page = browser.new_page(viewport={"width": 1500, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url, timeout=60_000)
        page.wait_for_selector(".lq-pair-BTCUSDT .lq-f-skew input", timeout=60_000)
        page.wait_for_selector(".lq-chart .main-svg", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.lq-conn-state')?.textContent === 'live'", timeout=30_000)

        # every input of the config form is inside the tab and the viewport, and not covered or clipped
        boxes = page.evaluate(FORM_FITS)
        assert len(boxes) == 2 * 13  # 12 text fields and post-only, each with its input
        assert {b["name"] for b in boxes} >= {
            "lq-f-size", "lq-f-refresh_tolerance", "lq-f-skew", "lq-f-post_only", "lq-f-rebalance_band"
        }  # fmt: skip
        bad = [b for b in boxes if not (b["inBox"] and b["inView"] and b["seen"])]
        assert not bad, bad

        # the chart's title names the pair and the time zone of its axis
        page.wait_for_function(
            "() => (document.querySelector('.lq-chart .gtitle')?.textContent || '').includes('BTCUSDT')",
            timeout=30_000,
        )
        assert "UTC" in (page.text_content(".lq-chart .gtitle") or "")

        # market bid and ask: both drawn (with data), told apart by colour and width, the one under wider
        market = f"{TRACES}.filter(t => ['market bid', 'market ask'].includes(t.name) && t.x?.length > 2)"
        page.wait_for_function(f"() => {market}.length === 2", timeout=30_000)
        traces = page.evaluate(f"() => {TRACES}.map(t => ({{name: t.name, line: t.line || {{}}, n: t.x?.length}}))")
        index = {t["name"]: i for i, t in enumerate(traces)}
        bid, ask = traces[index["market bid"]], traces[index["market ask"]]
        assert bid["n"] > 2 and ask["n"] > 2
        assert bid["line"]["color"] != ask["line"]["color"]
        under, over = (bid, ask) if index["market bid"] < index["market ask"] else (ask, bid)
        assert under["line"]["width"] >= 2 * over["line"]["width"]  # a tick apart, the upper line runs inside
        page.screenshot(path=str(tmp_path / "1500px.png"))

        # the title follows the selected pair (changed in the browser, after the page has loaded)
        page.click(".lq-pairs .lm-TabBar-tab:has-text('ETHUSDT')")
        page.wait_for_function(
            "() => (document.querySelector('.lq-chart .gtitle')?.textContent || '').includes('ETHUSDT')",
            timeout=30_000,
        )
        assert "UTC" in (page.text_content(".lq-chart .gtitle") or "")
        assert not errors, errors
        # a browser on the page (kernel websocket included) made Voila print no warning
        logged = err_path.read_text()
        assert "WARNING" not in logged and "websocket_ping_timeout" not in logged, logged
    finally:
        page.close()
        dash.send_signal(signal.SIGINT)
        out, _ = dash.communicate(timeout=90)
        err.close()
        SHOTS.mkdir(exist_ok=True)
        for f in tmp_path.glob("*.png"):
            shutil.copy(f, SHOTS / f.name)
    assert dash.returncode == 0 and "0 liqkit orders left open" in out


PREFLIGHT_ROWS = "Array.from(document.querySelectorAll('.lq-preflight-row'))"
PREFLIGHT_ROWS += ".map(r => Array.from(r.querySelectorAll('span'), s => s.textContent))"


def test_preflight_panel_and_rate_plan_in_the_browser(tmp_path, browser):
    dash, url, _ = start_dashboard(tmp_path / "state", free_port(), "--speed", "5")
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url, timeout=60_000)
        page.wait_for_selector(".lq-pair-BTCUSDT .lq-run", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.lq-conn-state')?.textContent === 'live'", timeout=30_000)
        # the table of every pair's level, before anything is sent (both pairs are stopped)
        page.wait_for_function(f"() => {PREFLIGHT_ROWS}.length === 4", timeout=60_000)
        rows = page.evaluate(f"() => {PREFLIGHT_ROWS}")
        assert sorted((r[0], r[1], r[2]) for r in rows) == [
            ("BTCUSDT", "BUY", "0"), ("BTCUSDT", "SELL", "0"), ("ETHUSDT", "BUY", "0"), ("ETHUSDT", "SELL", "0")
        ]  # fmt: skip
        assert all(r[6] == "yes" and r[7] == "-" for r in rows), rows  # 20 USDT a quote: sent in full, nothing refused
        bid, ask = (float(next(r[3] for r in rows if r[:2] == ["BTCUSDT", s])) for s in ("BUY", "SELL"))
        assert 1000 < bid < ask  # prices in USDT, the bid below the ask
        funding = page.inner_text(".lq-preflight-funding")
        assert "BTCUSDT bids: 1 of 1 levels funded" in funding and "orders/min" in funding
        plan = page.inner_text(".lq-preflight-plan")
        assert "ORDERS per 10 SECOND" in plan and "ORDERS per 1 DAY" in plan
        # nothing is refused, so the verdict is the rate plan's: ok unless a limit warns (the market at x5 may)
        verdict = page.inner_text(".lq-preflight-verdict")
        assert verdict.startswith("not ok") if "⚠" in plan else verdict.startswith("ok: every quote goes out"), (
            verdict,
            plan,
        )
        assert "no quote would be refused" in page.inner_text(".lq-preflight-refusals")
        assert page.query_selector_all(".lq-orders-row") == []  # a pre-flight places nothing
        # the health panel's rate plan counts the engine's own orders once a pair runs
        page.click(".lq-pair-BTCUSDT .lq-run")
        page.wait_for_function(
            "() => /over the last .* \\(([1-9][0-9]*) new orders/.test("
            "document.querySelector('.lq-rate-plan')?.innerText || '')",
            timeout=60_000,
        )
        assert "ORDERS per 10 SECOND" in page.inner_text(".lq-rate-plan")
        page.click(".lq-preflight-refresh")
        page.wait_for_function(f"() => {PREFLIGHT_ROWS}.length === 4", timeout=30_000)
        page.screenshot(path=str(tmp_path / "preflight.png"), full_page=True)
        assert not errors, errors
    finally:
        page.close()
        dash.send_signal(signal.SIGINT)
        out, _ = dash.communicate(timeout=90)
        SHOTS.mkdir(exist_ok=True)
        for f in tmp_path.glob("*.png"):
            shutil.copy(f, SHOTS / f.name)
    assert dash.returncode == 0 and "0 liqkit orders left open" in out


FILL_ROWS = "Array.from(document.querySelectorAll('.lq-fills-row'))"
FILL_ROWS += ".map(r => Array.from(r.querySelectorAll('span'), s => s.textContent))"
PNL_ROWS = FILL_ROWS.replace("lq-fills-row", "lq-pnl-row")
BALANCE_ROWS = FILL_ROWS.replace("lq-fills-row", "lq-balances-row")
EQUITY = ("equity", "spread capture", "inventory PnL", "fees", "rebalance cost")


def test_rebalance_fills_the_equity_chart_and_units_in_the_browser(tmp_path, browser):
    """A pair that starts just under its band (39.98% BTC, band 40% to 60%, taker): its rebalance fill is
    labelled in the fills table, its cost has its own PnL column, the equity chart draws the PnL and its
    parts, and every price and quantity in the orders, fills and balances tables shows its asset."""
    cfg = tmp_path / "rebalance.toml"
    cfg.write_text(
        '[engine]\nvenue = "sim"\n\n[sim]\ntaker_fee_bps = 2\n\n[sim.balances]\nBTC = 1\nUSDT = 90100\n\n'
        '[pairs.BTCUSDT]\nspread = "50bps"\nrebalance_band = 0.1\nrebalance_mode = "taker"\n'
    )
    dash, url, _ = start_dashboard(tmp_path / "state", free_port(), "--speed", "20", "--config", str(cfg), "--run",
                                   "BTCUSDT")  # fmt: skip
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url, timeout=60_000)
        page.wait_for_selector(".lq-chart .main-svg", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.lq-conn-state')?.textContent === 'live'", timeout=30_000)
        # the rebalance's fill, labelled, with its units
        page.wait_for_function(f"() => {FILL_ROWS}.some(r => r[3] === 'rebalance')", timeout=60_000)
        row = next(r for r in page.evaluate(f"() => {FILL_ROWS}") if r[3] == "rebalance")
        assert row[1:3] == ["BTCUSDT", "BUY"] and row[7] == "no"  # it bought, as a taker
        assert row[4].endswith(" USDT") and row[5].endswith(" BTC") and row[6].endswith(" USDT"), row
        # its cost on the PnL line of its own
        page.wait_for_function(f"() => {PNL_ROWS}.some(r => r[0] === 'BTCUSDT' && parseFloat(r[5]) > 0)",
                               timeout=30_000)  # fmt: skip
        pnl = next(r for r in page.evaluate(f"() => {PNL_ROWS}") if r[0] == "BTCUSDT")
        assert pnl[1].endswith(" USDT") and pnl[8].endswith(" BTC"), pnl
        # the equity chart: its traces, drawn with the engine's data, the parts adding up to the equity
        traces = f"{TRACES}.filter(t => {list(EQUITY)!r}.includes(t.name))"
        page.wait_for_function(f"() => {traces}.length === 5 && {traces}.every(t => t.x?.length >= 3)",
                               timeout=60_000)  # fmt: skip
        drawn = page.evaluate(f"() => {traces}.map(t => ({{name: t.name, y: t.y}}))")
        assert [t["name"] for t in drawn] == list(EQUITY)
        eq, parts = drawn[0]["y"], [t["y"] for t in drawn[1:]]
        for i in range(len(eq)):
            assert sum(p[i] for p in parts) == pytest.approx(eq[i], abs=1e-9)
        assert min(drawn[4]["y"]) < 0  # the rebalance's cost, below zero
        axis = page.evaluate("() => document.querySelector('.lq-chart .y4title')?.textContent")
        assert axis == "PnL (USDT)", axis
        # the orders table: units, what each order is for, when it was placed and last changed
        page.wait_for_function(f"() => {ROWS}.length > 0", timeout=30_000)
        for r in page.evaluate(f"() => {ROWS}"):
            assert r[2].endswith(" USDT") and r[3].endswith(" BTC") and r[4].endswith(" BTC"), r
            assert r[6] in ("quote", "rebalance", "exit") and len(r[7]) == len(r[8]) == 8 and r[7] <= r[8], r
        head = page.evaluate("() => Array.from(document.querySelectorAll('.lq-orders span'), s => s.textContent)")
        assert head[:10] == ["pair", "side", "price", "qty", "filled", "status", "for", "placed", "updated",
                             "client id"]  # fmt: skip
        balances = {r[0]: r for r in page.evaluate(f"() => {BALANCE_ROWS}")}
        assert all(c.endswith(" BTC") for c in balances["BTC"][1:5]), balances
        assert all(c.endswith(" USDT") for c in balances["USDT"][1:5]), balances
        page.screenshot(path=str(tmp_path / "rebalance.png"), full_page=True)
        assert not errors, errors
    finally:
        page.close()
        dash.send_signal(signal.SIGINT)
        out, _ = dash.communicate(timeout=90)
        SHOTS.mkdir(exist_ok=True)
        for f in tmp_path.glob("*.png"):
            shutil.copy(f, SHOTS / f.name)
    assert dash.returncode == 0 and "0 liqkit orders left open" in out
