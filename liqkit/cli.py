"""The ``liqkit`` command line.

``liqkit backtest --data PATH [--config FILE] [--json]`` runs the engine on recorded or synthetic data
on the simulated exchange and prints its metrics; ``trade``, ``sim-server``, ``serve`` and
``dashboard`` run things; the commands that talk to a running service are in ``liqkit.cli_service``,
``latency export|feed`` in ``liqkit.cli_latency``.
Arguments are checked by argparse before anything starts (``liqkit.cli_args``). Any user error (a
bad argument, a missing file, a malformed config or data file, a value the service refuses) prints
one line on stderr and exits with status 2 (``main``); nothing is half-done.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

# liqkit does no heavy linear algebra: one BLAS thread (unless the user sets another count) spares a
# 2-core machine the pool of threads OpenBLAS would start and keep spinning next to the engine
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# liqkit's config models use no pydantic plugin; looking for them scans every installed package's
# metadata (about 40 ms a start). Set PYDANTIC_DISABLE_PLUGINS yourself to choose otherwise.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from liqkit import cli_args
from liqkit.cli_preflight import register as register_preflight
from liqkit.cli_service import parse_assignments, register_service_commands
from liqkit.domain.errors import LiqkitError

__all__ = ["build_parser", "main", "one_line", "parse_assignments"]

EXIT_BAD_INPUT = 2
SPEED_HELP = f"market speed of the simulated exchange: above 0, at most {cli_args.MAX_SPEED:g} (default 1: real time)"
HOST_HELP = "the address to listen on (default 127.0.0.1; another one needs --allow-remote)"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run a backtest and print its metrics.

    The cyclic garbage collector is paused meanwhile: a backtest makes next to no garbage cycles, and with
    the collector on, the first pass after the loop walks every record the loop kept (about 0.1 s on
    the 1.2 M-event benchmark) to find nothing. Reference counting still frees everything.
    """
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _backtest(args)
    finally:  # _backtest's tables and logs are gone by now: re-enabling walks nothing big
        if was_enabled:
            gc.enable()


def _backtest(args: argparse.Namespace) -> int:
    from liqkit.backtest import run_backtest
    from liqkit.data.loader import load_market_data
    from liqkit.domain.config import LiqkitConfig, load_config

    cfg = load_config(args.config) if args.config else LiqkitConfig()
    data = load_market_data(args.data, symbol=args.symbol)
    progress = None
    bar = None
    if not args.json and not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        start = int(data.book["ts_local"][0]) if len(data.book["ts_local"]) else 0
        end = int(data.book["ts_local"][-1]) if len(data.book["ts_local"]) else 0
        bar = tqdm(total=max(1, (end - start) // 10**9), unit="s", desc=f"backtest {data.symbol}", file=sys.stderr)

        def progress(ts: int) -> None:
            bar.n = (ts - start) // 10**9
            bar.refresh()

    result = run_backtest(data, cfg, progress=progress)
    if bar is not None:
        bar.close()
    _print_metrics(result.metrics, f"backtest of {data.symbol} on {data.source or args.data}", args.json)
    _print_notes(result, cfg, data.symbol)
    return 0


def _print_notes(result: Any, cfg: Any, symbol: str) -> None:
    """Why a pair did not quote as configured, or had no fills: on stderr (the metrics keep their keys)."""
    from liqkit.backtest.notes import quoting_notes
    from liqkit.domain.config import PairConfig

    configs = cfg.pairs or {symbol: PairConfig(symbol=symbol)}
    for line in quoting_notes(result.per_pair, result.state_rows, configs):
        print(f"liqkit: {line}", file=sys.stderr)


def _print_metrics(metrics: dict[str, Any], heading: str, as_json: bool) -> None:
    """A run's metrics: one JSON object, or one aligned line each."""
    metrics = {k: _jsonable(v) for k, v in metrics.items()}
    if as_json:
        print(json.dumps(metrics, sort_keys=True))
        return
    width = max(len(k) for k in metrics)
    print(heading)
    for k, v in metrics.items():
        shown = f"{v:,.6g}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else v)
        print(f"  {k:<{width}}  {shown}")


def cmd_trade_virtual(args: argparse.Namespace) -> int:
    """The live runner on recorded data in virtual time (``--data PATH --clock virtual``)."""
    import tempfile

    from liqkit.backtest.replay import run_replay
    from liqkit.data.loader import load_market_data
    from liqkit.domain.config import LiqkitConfig, load_config

    cfg = load_config(args.config) if args.config else LiqkitConfig()
    data = load_market_data(args.data, symbol=args.symbol)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="liqkit-replay-"))
    result = run_replay(data, cfg, state_dir=state_dir)
    print(f"liqkit: replayed {data.symbol} in virtual time; journal in {state_dir}", file=sys.stderr)
    _print_metrics(
        result.metrics, f"live runner on {data.symbol} ({data.source or args.data}), virtual time", args.json
    )
    _print_notes(result, cfg, data.symbol)
    return 0


def cmd_trade(args: argparse.Namespace) -> int:
    """Run the engine in wall-clock time on the configured venue until Ctrl-C or ``--duration``;
    with ``--data PATH --clock virtual``, on that data in virtual time."""
    import asyncio

    if args.clock == "virtual" or args.data is not None:
        if args.data is None or args.clock != "virtual":
            print(
                "error: --data PATH and --clock virtual go together (a replay of PATH in virtual time)", file=sys.stderr
            )
            return EXIT_BAD_INPUT
        return cmd_trade_virtual(args)

    from liqkit.domain.config import LiqkitConfig, PairConfig, load_config
    from liqkit.engine.runner import EngineRunner
    from liqkit.journal import Journal
    from liqkit.venues.factory import make_venue

    cfg = load_config(args.config) if args.config else LiqkitConfig()
    pairs = list(cfg.pairs.values()) or [PairConfig(symbol="BTCUSDT")]
    state_dir = args.state_dir or cfg.engine.state_dir
    journal = Journal.in_state_dir(state_dir)
    venue = make_venue(cfg, [p.symbol for p in pairs], speed=args.speed)
    runner = EngineRunner(venue, pairs, journal, cfg.engine.risk)

    async def main() -> None:
        await runner.start(run=[p.symbol for p in pairs])
        print(
            f"liqkit: quoting {', '.join(p.symbol for p in pairs)} on {venue.name} "
            f"(speed x{args.speed:g}); journal {journal.path}; Ctrl-C stops",
            flush=True,
        )
        loop = asyncio.get_running_loop()
        end = loop.time() + args.duration if args.duration else None
        try:
            while end is None or loop.time() < end:
                await asyncio.sleep(min(2.0, max(0.0, end - loop.time())) if end else 2.0)
                for sym, p in runner.status()["pairs"].items():
                    print(
                        f"  {sym}: {p['state']:<8} open orders {p['open_orders']}  fills {p['fills']}  "
                        f"position {p['position']}",
                        flush=True,
                    )
        finally:
            await runner.stop()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: main() stopped the runner on its way out
        asyncio.run(main())
    left = runner.core.open_orders()
    fills = journal.fills()
    print(f"stopped: {len(left)} liqkit orders left open; {len(fills)} fills journaled in {journal.path}")
    journal.close()
    return 0 if not left else 1


def cmd_sim_server(args: argparse.Namespace) -> int:
    """Serve the simulated exchange through Binance's protocol on 127.0.0.1 until Ctrl-C."""
    from aiohttp import web

    from liqkit.domain.config import LiqkitConfig, load_config
    from liqkit.venues.binance_server.server import BinanceServer

    cfg = load_config(args.config) if args.config else LiqkitConfig()
    data = {}
    if args.data:
        from liqkit.data.loader import load_market_data

        md = load_market_data(args.data)
        data[md.symbol] = md
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if args.symbols
        else list(data) or ["BTCUSDT", "ETHUSDT"]
    )
    sim = _sim_server_matching(cfg.sim, args)  # checked before anything is written
    keys = _sim_server_keys(args.credentials or [], args.state_dir)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.allow_remote:
        raise LiqkitError(f"--host {args.host}: the server binds to 127.0.0.1 unless --allow-remote is given")
    faults = None
    if args.faults:
        from liqkit.venues.binance_server.faults import load_faults

        faults = load_faults(args.faults)
    server = BinanceServer(
        symbols, keys, sim, data, speed=args.speed, faults=faults, enforce_limits=not args.no_rate_limits
    )
    print(f"liqkit sim-server: matching: {_matching_text(sim)}", flush=True)
    print(
        f"liqkit sim-server: Binance spot API for {', '.join(symbols)} on http://{args.host}:{args.port} "
        f"(REST /api/v3, streams /stream and /ws, WebSocket API /ws-api/v3); Ctrl-C stops",
        flush=True,
    )
    web.run_app(server.app, host=args.host, port=args.port, print=None, handle_signals=True)
    return 0


def _sim_server_matching(sim: Any, args: argparse.Namespace) -> Any:
    """The ``[sim]`` table with what ``--queue-model``, ``--queue-param``, ``--latency-p50-ms``,
    ``--latency-p99-ms`` and ``--latency-seed`` set: the server's matching, hidden from its clients.
    The latency flags make the order latency lognormal (for order entry and cancels alike), replacing
    the table's latency settings."""
    from pydantic import ValidationError

    from liqkit.domain.config import SimConfig, format_validation_error
    from liqkit.domain.errors import ConfigError

    given = sim.model_dump(exclude_unset=True)
    if args.queue_model is not None:
        given["queue_model"] = args.queue_model
        if args.queue_model != "prob-power":
            given.pop("queue_param", None)
    if args.queue_param is not None:
        model = given.get("queue_model", "risk-averse")
        if model != "prob-power":
            raise LiqkitError(
                f"--queue-param {args.queue_param:g}: is the exponent of --queue-model prob-power, but the queue "
                f"model is {model}: add --queue-model prob-power, or leave --queue-param out"
            )
        given["queue_param"] = args.queue_param
    p50, p99 = args.latency_p50_ms, args.latency_p99_ms
    if (p50 is None) != (p99 is None):
        have, missing = (
            ("--latency-p50-ms", "--latency-p99-ms") if p99 is None else ("--latency-p99-ms", "--latency-p50-ms")
        )
        raise LiqkitError(
            f"{missing}: missing: give it with {have} (the median and the 99th percentile of the order latency, ms)"
        )
    if p50 is not None and p99 is not None:
        if p99 < p50:
            raise LiqkitError(
                f"--latency-p99-ms {p99:g}: is below --latency-p50-ms {p50:g}: the 99th percentile must be at "
                "least the median"
            )
        for key in ("latency_ms", "latency_file", "latency_cancel_p50_ms", "latency_cancel_p99_ms", "latency_seed"):
            given.pop(key, None)
        given.update(latency="lognormal", latency_p50_ms=p50, latency_p99_ms=p99)
    if args.latency_seed is not None:
        if given.get("latency", "constant") != "lognormal":
            raise LiqkitError(
                f"--latency-seed {args.latency_seed}: seeds the lognormal order latency: give --latency-p50-ms "
                'and --latency-p99-ms with it (or [sim] latency = "lognormal" in --config)'
            )
        given["latency_seed"] = args.latency_seed
    try:
        return SimConfig.model_validate(given)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, "sim.", SimConfig, given)) from None


def _matching_text(sim: Any) -> str:
    """The server's matching in words: fill model, queue model, the latency before an order reaches it."""
    text = f"{sim.fill_model} fills"
    if sim.fill_model == "realistic":
        text += f", queue model {sim.queue_model}"
        if sim.queue_model == "prob-power":
            text += f" (exponent {sim.queue_exponent:g})"
    if sim.latency == "lognormal":
        seed = sim.seed if sim.latency_seed is None else sim.latency_seed
        text += f"; order latency lognormal, p50 {sim.latency_p50_ms:g} ms, p99 {sim.latency_p99_ms:g} ms (seed {seed})"
    elif sim.latency == "measured":
        text += f"; order latency the round trips of {sim.latency_file}"
    elif sim.latency_ms:
        text += f"; order latency {sim.latency_ms:g} ms"
    return text


def _sim_server_keys(credentials: list[tuple[str, str]], state_dir: Path) -> dict[str, Any]:
    """The sim-server's API keys from ``--api-key``, ``--api-secret`` and ``--public-key`` in the order
    given: each ``--api-key K`` with the ``--api-secret S`` (HMAC) or ``--public-key FILE`` (Ed25519 or
    RSA, PEM) next to it. One key without a credential, or a secret without a key, is completed from
    LIQKIT_SIM_API_KEY / LIQKIT_SIM_API_SECRET or generated; generated HMAC keys are written to
    ``state_dir/sim-server-keys.env`` (mode 0600), never printed."""
    import os
    import secrets

    from liqkit.venues.binance_server.auth import load_public_key

    names = [v for flag, v in credentials if flag == "--api-key"]
    creds = [(flag, v) for flag, v in credentials if flag != "--api-key"]
    if len(names) > 1 or len(creds) > 1:  # several keys: each --api-key needs its own credential next to it
        keys: dict[str, Any] = {}
        pending: str | None = None  # an --api-key waiting for its credential
        waiting: tuple[str, str] | None = None  # a credential waiting for its --api-key
        unpaired = "each --api-key needs one --api-secret S or --public-key FILE next to it"
        for flag, value in credentials:
            if flag == "--api-key":
                if pending is not None:
                    raise LiqkitError(f"an --api-key has no credential: {unpaired}")
                if value in keys:
                    raise LiqkitError("an --api-key is given twice: give each key once, with its own credential")
                pending = value
                if waiting is not None:
                    keys[pending], pending, waiting = _credential(*waiting, load_public_key), None, None
            elif pending is not None:
                keys[pending], pending = _credential(flag, value, load_public_key), None
            elif waiting is None:
                waiting = (flag, value)
            else:
                raise LiqkitError(f"{flag} has no --api-key: {unpaired}")
        if pending is not None or waiting is not None:
            raise LiqkitError(f"{waiting[0] if waiting else 'an --api-key'} is left without its pair: {unpaired}")
        return keys
    key = names[0] if names else os.environ.get("LIQKIT_SIM_API_KEY")
    if creds and creds[0][0] == "--public-key":
        if key is None:
            raise LiqkitError("--public-key: give the key's name with --api-key K (the name clients send)")
        return {key: load_public_key(creds[0][1])}
    secret = creds[0][1] if creds else os.environ.get("LIQKIT_SIM_API_SECRET") or secrets.token_hex(32)
    if key is None:
        key = secrets.token_hex(16)
        state_dir.mkdir(parents=True, exist_ok=True)
        keyfile = state_dir / "sim-server-keys.env"
        keyfile.touch(mode=0o600)
        keyfile.write_text(f"BINANCE_API_KEY={key}\nBINANCE_API_SECRET={secret}\n")
        print(f"liqkit sim-server: generated keys written to {keyfile} (mode 0600)")
    return {key: secret}


def _credential(flag: str, value: str, load: Any) -> Any:
    """An HMAC secret as given, or the public key read from its file."""
    return value if flag == "--api-secret" else load(value)


def cmd_serve(args: argparse.Namespace) -> int:
    """Host one engine with its journal and control API until SIGINT/SIGTERM."""
    from liqkit.domain.config import load_config
    from liqkit.service.host import default_config
    from liqkit.service.serve import serve

    cfg = load_config(args.config) if args.config else default_config()
    if args.venue:
        cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update=cli_args.venue_override(args.venue))})
    if not cfg.pairs:
        raise LiqkitError(f"{args.config}: no [pairs.SYMBOL] table: configure at least one pair")
    state_dir = args.state_dir or cfg.engine.state_dir
    run = [s.strip().upper() for s in args.run.split(",") if s.strip()] if args.run else []
    return serve(cfg, Path(state_dir), args.host, args.port, args.token, args.allow_remote, args.speed, run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = cli_args.LiqkitParser(
        prog="liqkit",
        description="Provide liquidity on Binance spot pairs. Errors in input print one line and exit with status 2.",
    )
    sub = p.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    bt = sub.add_parser("backtest", help="run the engine on recorded or synthetic data (simulated exchange)")
    bt.add_argument(
        "--data",
        required=True,
        type=Path,
        help="a capture .gz file or folder, a data-portal .csv/.zip, a Parquet folder, or bench data",
    )
    bt.add_argument("--config", type=Path, help="TOML config ([engine], [sim], [pairs.SYMBOL])")
    bt.add_argument("--symbol", help="symbol of the data when it cannot be told from the file")
    bt.add_argument("--json", action="store_true", help="print one JSON object of the metrics")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.set_defaults(func=cmd_backtest)
    tr = sub.add_parser("trade", help="run the engine in wall-clock time on the simulated exchange (Ctrl-C stops)")
    tr.add_argument("--config", type=Path, help="TOML config; without one, BTCUSDT with defaults")
    tr.add_argument(
        "--duration", type=cli_args.seconds, default=0, help="stop after this many seconds (default 0: until Ctrl-C)"
    )
    tr.add_argument("--speed", type=cli_args.speed, default=1.0, help=SPEED_HELP)
    tr.add_argument(
        "--state-dir",
        type=cli_args.state_dir,
        help="where the journal goes (default: engine.state_dir; a replay: a new temp dir)",
    )
    tr.add_argument(
        "--data",
        type=Path,
        help="replay this data (as `backtest --data` reads) instead of trading live: needs --clock virtual",
    )
    tr.add_argument(
        "--clock",
        choices=("wall", "virtual"),
        default="wall",
        help="wall: trade in real time; virtual: replay --data as fast as it goes, with the live runner",
    )
    tr.add_argument("--symbol", help="symbol of --data when it cannot be told from the file")
    tr.add_argument("--json", action="store_true", help="with --clock virtual: one JSON object of the metrics")
    tr.set_defaults(func=cmd_trade)
    sv = sub.add_parser("sim-server", help="serve the simulated exchange through Binance's own protocol on 127.0.0.1")
    sv.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    sv.add_argument(
        "--port", type=cli_args.port, default=8790, help="the port to listen on (default 8790; 0: a free one)"
    )
    sv.add_argument("--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT (default: both, or the data's symbol)")
    sv.add_argument("--data", type=Path, help="replay recorded data instead of a synthetic feed")
    sv.add_argument("--config", type=Path, help="TOML config whose [sim] section sets fees, fill model, balances")
    sv.add_argument("--speed", type=cli_args.speed, default=1.0, help=SPEED_HELP)
    sv.add_argument(
        "--api-key",
        metavar="KEY",
        help="an API key clients may send (default: LIQKIT_SIM_API_KEY or generated); repeat it, each with "
        "its --api-secret or --public-key next to it, for several keys",
        dest="credentials",
        action=cli_args.InOrder,
    )
    sv.add_argument(
        "--api-secret",
        metavar="SECRET",
        help="its HMAC secret (default: LIQKIT_SIM_API_SECRET or generated)",
        dest="credentials",
        action=cli_args.InOrder,
    )
    sv.add_argument(
        "--public-key",
        metavar="FILE",
        help="instead of a secret: its Ed25519 or RSA public key (PEM), for clients that sign with the private key",
        dest="credentials",
        action=cli_args.InOrder,
    )
    sv.add_argument(
        "--state-dir",
        type=cli_args.state_dir,
        default=Path("liqkit-state"),
        help="where generated keys are written (default: liqkit-state)",
    )
    sv.add_argument("--allow-remote", action="store_true", help="allow binding to an address other than 127.0.0.1")
    sv.add_argument("--faults", type=Path, help="TOML file of faults to inject (see README: Fault injection)")
    sv.add_argument("--no-rate-limits", action="store_true", help="report usage in headers but never refuse with 429")
    sv.add_argument(
        "--queue-model",
        choices=("risk-averse", "prob-power", "prob-log"),
        help="how the queue ahead of a resting order moves (default: [sim] queue_model, risk-averse): only "
        "trades advance it, or a decrease at its price is taken from ahead of it with probability "
        "f(front) / (f(front) + f(back)), f(x) = x ** n (prob-power) or ln(1 + x) (prob-log)",
    )
    sv.add_argument(
        "--queue-param",
        type=cli_args.positive_number,
        metavar="N",
        help="prob-power's exponent n (default 3)",
    )
    sv.add_argument(
        "--latency-p50-ms",
        type=cli_args.positive_ms,
        metavar="MS",
        help="an order latency of the server's own: each order request (new order, amend, cancel, "
        "cancelReplace) waits a lognormal draw with this median (ms) before it reaches the matching; give "
        "--latency-p99-ms with it",
    )
    sv.add_argument(
        "--latency-p99-ms", type=cli_args.positive_ms, metavar="MS", help="that latency's 99th percentile (ms)"
    )
    sv.add_argument(
        "--latency-seed",
        type=cli_args.seed,
        metavar="SEED",
        help="seed of the latency draws (default: [sim] seed, 7); the same seed, the same draws at the same times",
    )
    sv.set_defaults(func=cmd_sim_server)
    se = sub.add_parser("serve", help="host one engine, its journal and a control API on 127.0.0.1 (token required)")
    se.add_argument(
        "--config", type=Path, help="TOML config; without one, the simulated exchange with BTCUSDT, ETHUSDT"
    )
    se.add_argument("--state-dir", type=cli_args.state_dir, help="journal, token and lock (default: engine.state_dir)")
    se.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    se.add_argument(
        "--port", type=cli_args.port, default=8765, help="the control API's port (default 8765; 0: a free one)"
    )
    se.add_argument("--token", help="the token clients must send (default: a random one, written to <state-dir>/token)")
    se.add_argument(
        "--venue",
        type=cli_args.venue,
        help="sim, binance-testnet, binance-demo, binance-live, or a liqkit sim-server URL",
    )
    se.add_argument("--run", help="comma-separated pairs to start quoting at once")
    se.add_argument("--speed", type=cli_args.speed, default=1.0, help=SPEED_HELP)
    se.add_argument("--allow-remote", action="store_true", help="allow binding to an address other than 127.0.0.1")
    se.set_defaults(func=cmd_serve)
    from liqkit.dashboard import register as register_dashboard

    register_dashboard(sub)
    register_service_commands(sub)  # status, pairs, run, stop, config
    register_preflight(sub)
    from liqkit.research.commands import register as register_research

    register_research(sub)  # record, convert
    from liqkit.cli_latency import register as register_latency

    register_latency(sub)  # latency export, latency feed
    _polish_help(sub)
    return p


_METAVARS = {
    "state_dir": "DIR",
    "config": "FILE",
    "faults": "FILE",
    "notebook": "FILE",
    "data": "PATH",
    "out": "PATH",
    "port": "PORT",
    "host": "ADDRESS",
    "speed": "X",
    "duration": "SECONDS",
    "wait": "SECONDS",
    "rotate": "SECONDS",
    "token": "TOKEN",
    "url": "URL",
    "run": "SYMBOLS",
    "symbols": "SYMBOLS",
    "symbol": "SYMBOL",
    "venue": "VENUE",
    "api_key": "KEY",
    "api_secret": "SECRET",
}


def _polish_help(sub: Any) -> None:
    """Each command's ``--help`` opens with what it does, and names its values (DIR, PORT, X ...)."""
    for choice in sub._choices_actions:
        parser = sub.choices[choice.dest]
        if parser.description is None and choice.help:
            parser.description = choice.help[0].upper() + choice.help[1:] + "."
        for action in parser._actions:
            takes_value = action.nargs != 0 and (action.option_strings or action.nargs is None)
            if action.metavar is None and action.dest in _METAVARS and takes_value:
                action.metavar = _METAVARS[action.dest]


def one_line(message: object) -> str:
    """An error's text as one line, in the CLI's words: newlines joined with "; ", and the Python API's
    keyword arguments named as the flags that set them (``pass symbol=`` is ``--symbol`` here)."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    text = text.replace(":;", ":")
    for keyword, flag in _FLAGS_OF_KEYWORDS.items():
        text = text.replace(f"pass {keyword}=", f"pass {flag}")
    return text


_FLAGS_OF_KEYWORDS = {"symbol": "--symbol SYMBOL"}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``liqkit`` console script: a user error is one line on stderr and status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)  # bad arguments: one line and status 2 (cli_args.LiqkitParser)
    try:
        return int(args.func(args))
    except LiqkitError as e:
        print(f"liqkit {args.command}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # a file, folder or port the user named: the OS says what is wrong with it
        where = f"{e.filename}: " if e.filename else ""
        print(f"liqkit {args.command}: error: {where}{e.strerror or one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
