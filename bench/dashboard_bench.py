"""Dashboard figures: time to interactive (two pairs) and CPU with 10 pairs updating at 2 Hz.

    .venv/bin/python bench/dashboard_bench.py [--loads 3] [--seconds 20]

Runs `liqkit dashboard` (as ``python -m liqkit.dashboard``) on the simulated exchange and drives the
page in Debian's headless Chromium (/usr/bin/chromium). Time to interactive: from navigation until the
pair panel's Run button, the chart and a live connection are on the page. CPU: utime+stime of the
page's kernel, of the preheated (unwatched) kernel, of Voila and of the service over a window, in %
of one core. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procstat import cpu_seconds

from liqkit.dashboard import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TEN = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT", "LINKUSDT", "TRXUSDT"]
READY = (
    "() => document.querySelector('.lq-run') && document.querySelector('.lq-chart .main-svg')"
    " && document.querySelector('.lq-conn-state')?.textContent === 'live'"
)


def start(state: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "liqkit.dashboard", "--state-dir", str(state), "--port", str(free_port()), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for _ in range(5):
        line = proc.stdout.readline()
        if line.startswith("liqkit dashboard: http"):
            proc.stdout.readline()
            return proc, line.split(": ", 1)[1].strip()
    proc.kill()
    raise SystemExit("the dashboard did not start")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=90)


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def time_to_interactive(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    t0 = time.perf_counter()
    page.goto(url, timeout=60_000)
    page.wait_for_function(READY, timeout=60_000)
    t = time.perf_counter() - t0
    page.close()
    return t


def bench_tti(browser, loads: int, preheat: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as d:
        proc, url = start(Path(d), *([] if preheat else ["--no-preheat"]))
        try:
            time.sleep(3 if preheat else 0.5)  # let the preheated kernel run the notebook
            out = []
            for _ in range(loads):
                out.append(time_to_interactive(browser, url))
                time.sleep(3)  # the pool refills
            return out
        finally:
            stop(proc)


def bench_cpu(browser, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "ten.toml"
        conf.write_text("".join(f'[pairs.{s}]\nsize = "20"\nsize_unit = "quote"\n\n' for s in TEN))
        proc, url = start(Path(d) / "state", "--config", str(conf), "--run", ",".join(TEN))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(url, timeout=60_000)
            page.wait_for_function(READY, timeout=60_000)
            time.sleep(5)
            kids = children(proc.pid)
            voila = next(p for p in kids if "voila" in cmdline(p))
            service = next(p for p in kids if "serve" in cmdline(p))
            kernels = children(voila)
            procs = {"voila": voila, "service": service, **{f"kernel {k}": k for k in kernels}}
            t0 = time.monotonic()
            c0 = {n: cpu_seconds(p) for n, p in procs.items()}
            time.sleep(seconds)
            dt = time.monotonic() - t0
            usage = {n: 100 * (cpu_seconds(p) - c0[n]) / dt for n, p in procs.items()}
            page.close()
            return usage
        finally:
            stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        warm = bench_tti(browser, args.loads, preheat=True)
        cold = bench_tti(browser, 1, preheat=False)
        print(f"dashboard time to interactive, 2 pairs, preheated kernel: {', '.join(f'{t:.2f} s' for t in warm)}")
        print(f"dashboard time to interactive, 2 pairs, no preheat:       {cold[0]:.2f} s")
        usage = bench_cpu(browser, args.seconds)
        print(f"CPU over {args.seconds:g} s, 10 pairs quoting, tickers at 2 Hz each, one page open (% of a core):")
        for name, pct in sorted(usage.items()):
            print(f"  {name:<16} {pct:5.1f} %")
        browser.close()


if __name__ == "__main__":
    main()
