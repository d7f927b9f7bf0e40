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
            out[row[1]].append(float(row[2]))
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
        assert quoted_spread_bps(page) is not None and quoted_spread_bps(page) > 12
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
