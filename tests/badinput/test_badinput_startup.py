"""Bad input and faults at start-up, table-driven (issue 11: the start-up slice, h8's faults during start-up and
the restart after a crash; the table is TABLE_startup.md beside this file).

Every row runs a real ``liqkit serve`` process whose ``--venue`` is a real ``liqkit sim-server`` process on
127.0.0.1 (the local Binance), a closed port of 127.0.0.1, or a host under ``.invalid`` that cannot resolve
(``tests/nodns``: the lookup fails in the process, no DNS query leaves the machine). What each row asserts:

- a permanent error (keys, symbol, state directory): exit status 2, one line on stderr naming the cause and
  what to set or fix, no retry, no traceback, no banner; a service already quoting on the same local Binance
  keeps the very same orders;
- a transient one (a host that cannot be resolved, a connection refused, -1003 too much weight, a 502): the
  process keeps running and retrying with backoff, says the cause once and then a short line an attempt,
  ``liqkit status`` says what it waits for; a SIGTERM then ends it with status 2 and one closing line; once
  the fault is gone it starts, quotes, and a SIGTERM ends it with status 0 and nothing left open.

``python tests/badinput/test_badinput_startup.py`` prints the rows as the Markdown table's "answer" cells (run
it from outside the checkout, since ``python -m liqkit.cli`` reads the current folder first, with another
checkout on PYTHONPATH for "before").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":  # run as a script: the helpers beside the tests
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest
from processes import ProcessOutput, accepts, free_port, no_dns_env, wait_for

KEY, SECRET = "k" * 24, "s" * 48  # the local Binance's account
BTC = '[pairs.BTCUSDT]\nsize = "0.002"\nsize_unit = "base"\n'
# quoted 200bps away with a 200bps refresh tolerance: its two orders stay put while a row runs
WIDE_BTC = BTC + 'spread = "200bps"\nrefresh_tolerance = "200bps"\n'
WAIT_S = 120.0  # generous bounds: a busy 2-core machine makes a wait longer, never a row red
RETRYING = re.compile(r"retrying in ([0-9.]+)s$")


@dataclass
class Outcome:
    """What a trader saw of one ``liqkit serve``."""

    code: int | None = None  # exit status
    out: str = ""
    err: list[str] = field(default_factory=list)  # stderr, line by line
    status: str = ""  # what `liqkit status` said while start-up waited ("" if not asked)
    note: str = ""  # what else the row found (orders, orphans, DNS lookups)

    def startup_lines(self) -> list[str]:
        return [ln for ln in self.err if ln.startswith("start-up:")]

    def delays(self) -> list[float]:
        return [float(m.group(1)) for ln in self.startup_lines() if (m := RETRYING.search(ln))]

    def summary(self) -> str:
        """One table cell: the exit status and the first and last stderr lines, cut."""
        lines = [cut(ln) for ln in self.err if ln.strip()]
        said = lines[0] if len(lines) <= 1 else f"{lines[0]} … ({len(lines)} lines) … {lines[-1]}"
        parts = [f"exit {self.code}" if self.code is not None else "still running", said or "(nothing on stderr)"]
        if self.status:
            parts.append(f"status: {cut(self.status)}")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def cut(text: str, n: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---- processes ----------------------------------------------------------------------------------------


def liqkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "liqkit.cli", *args]


@contextlib.contextmanager
def sim_server(tmp: Path, port: int | None = None, faults: str | None = None) -> Iterator[str]:
    """A ``liqkit sim-server`` process on 127.0.0.1 (BTCUSDT, KEY/SECRET; ``faults`` a faults file's text);
    its URL once it accepts connections."""
    port = port or free_port()
    cmd = liqkit("sim-server", "--port", str(port), "--symbols", "BTCUSDT")
    if faults is not None:
        path = tmp / f"faults-{port}.toml"
        path.write_text(faults)
        cmd += ["--faults", str(path)]
    env = dict(os.environ, LIQKIT_SIM_API_KEY=KEY, LIQKIT_SIM_API_SECRET=SECRET)
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = ProcessOutput(proc)
    try:
        served.wait_for_line(lambda ln: "Binance spot API" in ln, WAIT_S, "the sim-server's banner")
        wait_for(lambda: accepts(port), WAIT_S, "the sim-server to accept connections")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        served.finish(60)


def keys_env(**changes: str | None) -> dict[str, str]:
    """The environment with the local Binance's keys, then ``changes`` (None: unset)."""
    env = dict(os.environ, BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET)
    env.pop("LIQKIT_ALLOW_LIVE", None)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def serve(tmp: Path, args: list[str], env: dict[str, str]) -> ProcessOutput:
    """``liqkit serve ARGS`` in ``tmp`` (no .env there), its output read as it comes."""
    proc = subprocess.Popen(
        liqkit("serve", *args), env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return ProcessOutput(proc)


def serve_on(tmp: Path, venue: str, config: str, name: str, env: dict[str, str], *extra: str) -> ProcessOutput:
    cfg = tmp / f"{name}.toml"
    cfg.write_text(config)
    return serve(
        tmp, ["--venue", venue, "--config", str(cfg), "--state-dir", str(tmp / name), "--port", "0", *extra], env
    )


def finish(proc: ProcessOutput, timeout: float = WAIT_S) -> Outcome:
    """Wait for the exit (SIGTERM past ``timeout``: a row that never ends says so)."""
    note = ""
    try:
        proc.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        note = f"still running after {timeout:g} s, then SIGTERM"
        proc.proc.send_signal(signal.SIGTERM)
    code, out, err = proc.finish(60)
    return Outcome(code, out, err.splitlines(), note=note)


def stop(proc: ProcessOutput) -> Outcome:
    """SIGTERM, as a trader's Ctrl-C or a process manager stops it; what it said."""
    if proc.proc.poll() is None:
        proc.proc.send_signal(signal.SIGTERM)
    return finish(proc, 60)


def said_or_ended(proc: ProcessOutput, lines: int) -> bool:
    """Whether the process said ``lines`` start-up lines on stderr so far, or ended."""
    return sum(ln.startswith("start-up:") for ln in list(proc.err)) >= lines or proc.proc.poll() is not None


def api(state: Path, path: str) -> object:
    """GET ``path`` from the service on ``state`` (service.json and token)."""
    info = json.loads((state / "service.json").read_text())
    token = (state / "token").read_text().strip()
    req = urllib.request.Request(info["url"] + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def api_or_none(state: Path, path: str) -> object:
    try:
        return api(state, path)
    except (OSError, ValueError, KeyError):
        return None


def resting(state: Path) -> set[str]:
    """Client ids of the service's resting orders once both sides rest (else empty)."""
    orders = api_or_none(state, "/api/orders")
    if not isinstance(orders, list):
        return set()
    live = [o for o in orders if o["status"] in ("NEW", "PARTIALLY_FILLED")]
    return {o["client_id"] for o in live} if {o["side"] for o in live} == {"BUY", "SELL"} else set()


def status_line(state: Path) -> str:
    """What ``liqkit status`` (the real CLI) prints first, or its error."""
    p = subprocess.run(liqkit("status", "--state-dir", str(state)), capture_output=True, text=True, timeout=WAIT_S)
    return (p.stdout.splitlines() or p.stderr.splitlines() or [""])[0]


def open_at_server(url: str) -> list[str]:
    """liqkit's orders open at the local Binance, asked through python-binance."""
    from liqkit.venues.binance import client_class, close_client

    async def go() -> list[str]:
        client = await client_class(url).create(KEY, SECRET)
        try:
            return [o["clientOrderId"] for o in await client.get_open_orders(symbol="BTCUSDT")]
        finally:
            await close_client(client)

    return [c for c in asyncio.run(go()) if c.startswith("lq.")]


# ---- permanent errors: one line, exit 2, nothing retried ------------------------------------------------


@dataclass(frozen=True)
class Permanent:
    """A start-up that must stop at once: ``liqkit serve ARGS`` and the words its one line holds.

    In ``args``: {venue} the local Binance's URL, {config} a config file of ``config``'s text, {state} a
    fresh state directory, {file} a regular file."""

    name: str
    words: tuple[str, ...]
    env: tuple[tuple[str, str | None], ...] = ()
    config: str = BTC
    args: tuple[str, ...] = ("--venue", "{venue}", "--config", "{config}", "--state-dir", "{state}", "--port", "0")


PERMANENT = [
    Permanent(
        "wrong API key (BINANCE_API_KEY=wrong-key-0123456789abcdef)",
        ("[-2015]", "Binance refused the API key", "set BINANCE_API_KEY"),
        env=(("BINANCE_API_KEY", "wrong-key-0123456789abcdef"),),
    ),
    Permanent(
        "wrong API secret (BINANCE_API_SECRET of another key)",
        ("[-1022]", "BINANCE_API_SECRET (or the key in BINANCE_PRIVATE_KEY_PATH) does not belong to BINANCE_API_KEY"),
        env=(("BINANCE_API_SECRET", "wrong-secret-" + "0" * 40),),
    ),
    Permanent(
        "no API keys set (BINANCE_API_KEY, BINANCE_API_SECRET unset, no .env)",
        (
            "BINANCE_API_KEY and BINANCE_PRIVATE_KEY_PATH (an Ed25519 or RSA private key file) or "
            "BINANCE_API_SECRET (HMAC) not set",
            "export them",
        ),
        env=(("BINANCE_API_KEY", None), ("BINANCE_API_SECRET", None)),
    ),
    Permanent(
        "unknown symbol: [pairs.NOPEUSDT]",
        ("'NOPEUSDT'", "not in the venue's exchangeInfo", "check the pair's name"),
        config='[pairs.NOPEUSDT]\nsize = "0.002"\nsize_unit = "base"\n',
    ),
    Permanent(
        "--state-dir FILE",
        ("--state-dir", "is a file, not a directory", "give a folder"),
        args=("--venue", "{venue}", "--config", "{config}", "--state-dir", "{file}", "--port", "0"),
    ),
    Permanent(
        'engine.state_dir = "FILE" in the config',
        ("state directory", "is a file, not a directory", "engine.state_dir"),
        config='[engine]\nstate_dir = "{file}"\n' + BTC,
        args=("--venue", "{venue}", "--config", "{config}", "--port", "0"),
    ),
    Permanent(
        'engine.state_dir = "FILE/sub" in the config',
        ("state directory", "cannot be created (Not a directory)", "engine.state_dir"),
        config='[engine]\nstate_dir = "{file}/sub"\n' + BTC,
        args=("--venue", "{venue}", "--config", "{config}", "--port", "0"),
    ),
]


def observe_permanent(row: Permanent, tmp: Path, venue: str) -> Outcome:
    file = tmp / "a-file"
    file.write_text("not a folder\n")
    cfg = tmp / "c.toml"
    cfg.write_text(row.config.format(file=file))
    subst = {"venue": venue, "config": str(cfg), "state": str(tmp / "state"), "file": str(file)}
    return finish(serve(tmp, [a.format(**subst) for a in row.args], keys_env(**dict(row.env))))


@pytest.fixture(scope="module")
def local_binance(tmp_path_factory):
    """The local Binance, and a bystander service quoting BTCUSDT on it (its state directory)."""
    tmp = tmp_path_factory.mktemp("local-binance")
    with sim_server(tmp) as url:
        bystander = serve_on(tmp, url, WIDE_BTC, "bystander", keys_env(), "--run", "BTCUSDT")
        try:
            bystander.wait_for_line(lambda ln: "liqkit serve:" in ln, WAIT_S, "the bystander's banner")
            wait_for(lambda: resting(tmp / "bystander"), WAIT_S, "the bystander's two orders")
            yield url, tmp / "bystander"
        finally:
            done = stop(bystander)
            assert done.code == 0, done.err


@pytest.mark.parametrize("row", PERMANENT, ids=[r.name for r in PERMANENT])
def test_a_permanent_start_up_error_is_one_line_and_exit_2(row, local_binance, tmp_path):
    url, bystander = local_binance
    before = wait_for(lambda: resting(bystander), WAIT_S, "the bystander's two orders")
    seen = observe_permanent(row, tmp_path, url)
    assert seen.code == 2 and not seen.note, seen
    assert len(seen.err) == 1 and seen.err[0].startswith("liqkit serve: error: "), seen.err  # once, not retried
    for words in row.words:
        assert words in seen.err[0], (words, seen.err[0])
    assert seen.out == ""  # no banner: nothing claims to have started
    assert SECRET not in seen.err[0] and "signature=" not in seen.err[0]
    assert not (tmp_path / "state" / "service.json").exists()  # no service left for clients to find
    assert (tmp_path / "a-file").read_text() == "not a folder\n"
    assert resting(bystander) == before  # the service already running keeps the very same orders


# ---- transient network errors: retried with backoff until stopped ---------------------------------------


@dataclass(frozen=True)
class Unreachable:
    """A venue that cannot be reached; ``venue(tmp)`` gives its URL and the process's environment."""

    name: str
    venue: Callable[[Path], tuple[str, dict[str, str]]]
    cause: Callable[[str], tuple[str, ...]]  # the words of the cause, from the URL


def _unresolvable(tmp: Path) -> tuple[str, dict[str, str]]:
    return f"http://liqkit-test.invalid:{free_port()}", no_dns_env(keys_env(), tmp / "dns.log")


def _refused(tmp: Path) -> tuple[str, dict[str, str]]:
    return f"http://127.0.0.1:{free_port()}", keys_env()  # a free port: nothing listens there


UNREACHABLE = [
    Unreachable(
        "--venue http://liqkit-test.invalid:PORT (a host that cannot be resolved)",
        _unresolvable,
        lambda url: (
            "cannot resolve host liqkit-test.invalid (Name or service not known)",
            "check the network and DNS",
            "the venue's URL (--venue, or engine.base_url in the config)",
        ),
    ),
    Unreachable(
        "--venue http://127.0.0.1:PORT, nothing listening (connection refused)",
        _refused,
        lambda url: (
            f"cannot connect to {url.removeprefix('http://')}: connection refused",
            "check that the server runs",
            "the venue's URL (--venue, or engine.base_url in the config)",
        ),
    ),
]


def observe_unreachable(row: Unreachable, tmp: Path, lines: int = 4) -> tuple[Outcome, str, bool]:
    """Start against the venue, wait for ``lines`` start-up lines, ask ``liqkit status``, then SIGTERM;
    (what it said, the URL, whether it was still running when stopped)."""
    url, env = row.venue(tmp)
    proc = serve_on(tmp, url, BTC, "state", env)
    status, running = "", False
    try:
        wait_for(lambda: said_or_ended(proc, lines), WAIT_S, f"{lines} start-up lines")
        running = proc.proc.poll() is None
        if running:
            status = status_line(tmp / "state")
    finally:
        seen = stop(proc)
    seen.status = status
    log = tmp / "dns.log"
    if log.exists():
        seen.note = f"DNS lookups made in the process and failed there: {len(log.read_text().split())}"
    return seen, url, running


@pytest.mark.parametrize("row", UNREACHABLE, ids=[r.name for r in UNREACHABLE])
def test_an_unreachable_venue_is_said_once_retried_with_backoff_and_a_stop_exits_2(row, tmp_path):
    seen, url, running = observe_unreachable(row, tmp_path)
    cause = row.cause(url)
    assert running, seen  # a network error is transient: start-up waited instead of giving up
    assert seen.code == 2, seen  # stopped before it ran: one closing line, status 2
    assert "Traceback" not in "\n".join(seen.err) and seen.out == "", seen
    *said, closing = seen.err
    n = len(said)
    assert n >= 4 and said == seen.startup_lines(), seen.err  # nothing but start-up's lines, then the closing one
    assert all(w in said[0] for w in cause) and said[0].startswith("start-up: waiting for the venue (connect) ("), said[
        0
    ]
    assert sum(cause[0] in ln for ln in seen.err) == 1, seen.err  # the cause once: no log storm ...
    assert all(
        ln.startswith("start-up: still waiting for the venue (connect) (same cause), attempt ") for ln in said[1:]
    )
    delays = seen.delays()  # ... one short line an attempt, each wait at least as long as the last
    assert len(delays) == n and delays == sorted(delays) and delays[-1] >= 2 * delays[0], delays
    assert closing.startswith("liqkit serve: error: stopped during start-up while waiting for the venue (connect)")
    assert f"after {n} retries" in closing and "placed no order" in closing, closing
    assert seen.status.startswith("engine starting: waiting for the venue (connect) (") and cause[0] in seen.status
    if "invalid" in url:  # every lookup was made, and failed, inside the process: no DNS query left
        lookups = (tmp_path / "dns.log").read_text().split()
        assert set(lookups) == {"liqkit-test.invalid"} and n <= len(lookups) <= n + 1, lookups


def observe_venue_comes_up(tmp: Path) -> tuple[Outcome, bool]:
    """Start while nothing listens at the venue's port; start the local Binance there once start-up has
    retried twice; (what the service said after quoting and a SIGTERM, whether it quoted)."""
    port = free_port()
    proc = serve_on(tmp, f"http://127.0.0.1:{port}", WIDE_BTC, "state", keys_env(), "--run", "BTCUSDT")
    seen: Outcome | None = None
    quoted = False
    try:
        wait_for(lambda: said_or_ended(proc, 2), WAIT_S, "two start-up lines")
        if proc.proc.poll() is None:
            with sim_server(tmp, port):
                with contextlib.suppress(AssertionError):
                    proc.wait_for_line(lambda ln: "liqkit serve:" in ln, WAIT_S, "the banner")
                    quoted = bool(wait_for(lambda: resting(tmp / "state"), WAIT_S, "two orders"))
                seen = stop(proc)  # while the venue is up, so it can cancel what it placed
    finally:
        if seen is None:
            seen = stop(proc)
    seen.note = "quoted once the venue was up" if quoted else "never quoted"
    return seen, quoted


def test_a_venue_that_comes_up_later_is_waited_for_then_quoted_on(tmp_path):
    seen, quoted = observe_venue_comes_up(tmp_path)
    assert quoted, seen
    assert seen.code == 0 and "0 liqkit orders left open" in seen.out, seen
    said = seen.startup_lines()
    assert len(said) >= 2 and sum("connection refused" in ln for ln in seen.err) == 1, seen.err
    assert "Traceback" not in "\n".join(seen.err) and not any("error" in ln for ln in seen.err), seen.err


# ---- rate limits and 5xx at start-up and at the restart after a crash -----------------------------------

WEIGHT = """
seed = 1
[[fault]]
target = "GET /api/v3/exchangeInfo"
kind = "429"
at = [1, 2]
retry_after = 2
"""


def observe_too_much_weight(tmp: Path) -> tuple[Outcome, list[str]]:
    """-1003 (429 Retry-After 2) on the first two exchangeInfo calls; (outcome after quoting and a SIGTERM,
    the states the API showed while start-up waited)."""
    states: list[str] = []
    with sim_server(tmp, faults=WEIGHT) as url:
        proc = serve_on(tmp, url, WIDE_BTC, "state", keys_env(), "--run", "BTCUSDT")
        try:

            def banner() -> bool:
                st = api_or_none(tmp / "state", "/api/status")
                if isinstance(st, dict) and st["state"] not in states:
                    states.append(st["state"])
                return any("liqkit serve:" in ln for ln in proc.out) or proc.proc.poll() is not None

            wait_for(banner, WAIT_S, "the banner")
            with contextlib.suppress(AssertionError):
                wait_for(lambda: resting(tmp / "state"), WAIT_S, "two orders")
        finally:
            seen = stop(proc)
    seen.status = next((s for s in states if "waiting for" in s), "")
    return seen, states


def test_too_much_weight_at_start_up_is_waited_out_then_it_quotes(tmp_path):
    seen, states = observe_too_much_weight(tmp_path)
    assert seen.code == 0 and "liqkit serve: binance-local with BTCUSDT" in seen.out, seen
    assert "0 liqkit orders left open" in seen.out
    said = seen.startup_lines()
    assert said and said[0].startswith("start-up: waiting for exchangeInfo (symbol rules) ("), said
    assert "HTTP 429" in said[0] and "-1003" in said[0] and "liqkit waits as asked" in said[0], said[0]
    assert all(d >= 2.0 for d in seen.delays()), said  # never sooner than the Retry-After Binance asked for
    assert len(said) == 2, said  # two refusals, two retries: one line each
    waits = [s for s in states if s.startswith("starting: waiting for exchangeInfo")]
    assert waits and all("429" in s for s in waits), states  # the API said what start-up waited for
    assert "Traceback" not in "\n".join(seen.err)


# the first service makes one exchangeInfo call; the restart's first two are answered 502, then 429/-1003
RESTART = """
seed = 2
[[fault]]
target = "GET /api/v3/exchangeInfo"
kind = "http502"
at = [2]
[[fault]]
target = "GET /api/v3/exchangeInfo"
kind = "429"
at = [3]
retry_after = 1
"""


def observe_restart(tmp: Path) -> tuple[Outcome, list[str], set[str], list[str]]:
    """``serve`` quoting, SIGKILLed, started again while exchangeInfo answers 502 then 429; (outcome of the
    restart after quoting and a SIGTERM, the orphans, the restart's orders, what stays open at the end)."""
    with sim_server(tmp, faults=RESTART) as url:
        first = serve_on(tmp, url, WIDE_BTC, "state", keys_env(), "--run", "BTCUSDT")
        try:
            first.wait_for_line(lambda ln: "liqkit serve:" in ln, WAIT_S, "the first service's banner")
            wait_for(lambda: resting(tmp / "state"), WAIT_S, "the first service's orders")
        finally:
            first.proc.send_signal(signal.SIGKILL)
            first.finish(60)
        orphans = open_at_server(url)
        second = serve_on(tmp, url, WIDE_BTC, "state", keys_env(), "--run", "BTCUSDT")
        now: set[str] = set()
        try:
            with contextlib.suppress(AssertionError):
                second.wait_for_line(lambda ln: "liqkit serve:" in ln, WAIT_S, "the restart's banner")
                now = set(wait_for(lambda: resting(tmp / "state"), WAIT_S, "the restart's orders"))
                wait_for(lambda: set(open_at_server(url)) == now, WAIT_S, "only the restart's orders at the server")
        finally:
            seen = stop(second)
        left = open_at_server(url)
    seen.note = f"orphans {len(orphans)}; the restart quoted {len(now)} new orders; open at the end {len(left)}"
    return seen, orphans, now, left


def test_a_restart_after_a_crash_rides_out_a_502_and_too_much_weight_and_cancels_the_orphans(tmp_path):
    seen, orphans, now, left = observe_restart(tmp_path)
    assert len(orphans) == 2, orphans  # the crash left both orders open
    assert len(now) == 2 and not now & set(orphans), (now, orphans)  # the restart quotes anew, orphans gone
    assert seen.code == 0 and "0 liqkit orders left open" in seen.out, seen
    assert left == []
    said = seen.startup_lines()
    assert len(said) == 2, said  # one line each fault: what failed, the status, what liqkit does
    assert "HTTP 502 Bad Gateway (no JSON body); liqkit tries again" in said[0], said
    assert "HTTP 429" in said[1] and "-1003" in said[1], said
    assert "Traceback" not in "\n".join(seen.err) and "signature" not in "\n".join(seen.err)


if __name__ == "__main__":  # the table's answer cells, in the table's order
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as d, sim_server(Path(d)) as venue:
        for row in PERMANENT:
            with tempfile.TemporaryDirectory() as t:
                print(f"| {row.name} | {observe_permanent(row, Path(t), venue).summary()} |", flush=True)
    for urow in UNREACHABLE:
        with tempfile.TemporaryDirectory() as t:
            print(f"| {urow.name} | {observe_unreachable(urow, Path(t))[0].summary()} |", flush=True)
    with tempfile.TemporaryDirectory() as t:
        print(f"| venue down, then up | {observe_venue_comes_up(Path(t))[0].summary()} |", flush=True)
    with tempfile.TemporaryDirectory() as t:
        print(f"| -1003 at start | {observe_too_much_weight(Path(t))[0].summary()} |", flush=True)
    with tempfile.TemporaryDirectory() as t:
        print(f"| restart after kill -9 | {observe_restart(Path(t))[0].summary()} |", flush=True)
    print(f"({time.monotonic() - t0:.0f} s)", file=sys.stderr)
