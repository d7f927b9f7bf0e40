"""Calibrate the backtest against live: ``liqkit calibrate --config FILE --venue V --duration S --out DIR``.

1. **Live.** The engine trades the config's pairs on the venue (a ``liqkit sim-server`` URL, Binance's
   testnet or Demo Mode) for ``duration`` seconds, journaling every order, fill and request round trip
   into ``DIR/journal``, while ``liqkit record``'s recorder writes the venue's market streams
   (bookTicker, trade, depth@100ms with REST snapshots) into ``DIR/recording``. The recorder is up
   (streaming, with a snapshot taken after its streams came up) before the engine sends anything, and
   goes on ``tail`` seconds after the engine stopped, so that the markouts of the last fills have a mid.
2. **Latency.** The session's round trips (``liqkit latency export``) go to ``DIR/latency.csv``; the
   backtests replay them (``[sim] latency = "measured"``: order entry and cancels apart, interpolated
   over time).
3. **Backtests.** The recording, from the engine's start to its stop, with our own orders taken out of
   its depth (``liqkit.research.footprint``), is backtested with the same config, the live account's
   starting balances and the measured latency, once per queue model (``[sim] queue_model``) and inbound
   share of the round trips (``INBOUND_SHARES``: how much of each is spent on the way to the matching,
   which a client cannot see; ``fit_models`` keeps each model at its closest share).
4. **Report** (``liqkit.research.calibration_report``): live beside each model, and the model closest
   to live.

``calibrate`` does all of it from Python; ``liqkit calibrate`` prints the report (``--json``: one object).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liqkit.domain.errors import ConfigError

if TYPE_CHECKING:
    from liqkit.backtest.result import BacktestResult
    from liqkit.data.feed import MarketData
    from liqkit.domain.config import LiqkitConfig
    from liqkit.research.calibration_report import CalibrationReport

QUEUE_MODELS = ("risk-averse", "prob-power", "prob-log")
DEFAULT_MODELS = "risk-averse,prob-log,prob-power:1,prob-power:2,prob-power:3,prob-power:4"
INBOUND_SHARES = (0.5, 0.75, 1.0)  # the shares of a measured round trip spent on the way in, fitted per model
_MODEL = re.compile(r"^(risk-averse|prob-log|prob-power)(?::([0-9]*\.?[0-9]+))?$")


@dataclass(frozen=True)
class QueueModelSpec:
    """One queue model to backtest: its ``[sim] queue_model`` name and ``queue_param`` (prob-power's)."""

    name: str
    param: float | None = None

    @property
    def label(self) -> str:
        """``prob-power:3``, ``prob-log`` ..."""
        return self.name if self.param is None else f"{self.name}:{self.param:g}"


def parse_models(text: str | Sequence[str]) -> list[QueueModelSpec]:
    """``"risk-averse,prob-power:3,prob-log"`` as specs (prob-power without a number: exponent 3)."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    if not items:
        raise ConfigError(f"--models: give at least one queue model, e.g. {DEFAULT_MODELS}")
    out: list[QueueModelSpec] = []
    for item in items:
        m = _MODEL.match(item)
        if m is None:
            raise ConfigError(
                f"--models: {item!r} is not a queue model; use {', '.join(QUEUE_MODELS)} "
                "(prob-power with its exponent: prob-power:3)"
            )
        name, param = m.group(1), m.group(2)
        if param is not None and name != "prob-power":
            raise ConfigError(f"--models: {item!r}: only prob-power takes a parameter (prob-power:3)")
        value = float(param) if param is not None else (3.0 if name == "prob-power" else None)
        if value is not None and value <= 0:
            raise ConfigError(f"--models: {item!r}: prob-power's exponent must be > 0")
        spec = QueueModelSpec(name, value)
        if spec not in out:
            out.append(spec)
    return out


@dataclass
class LiveSession:
    """What the live part left in ``out``: the journal, the recording, the round trips, and when."""

    out: Path
    venue: str
    symbols: list[str]
    start_ns: int  # just before the engine's first request
    end_ns: int  # once the engine stopped (every order cancelled)
    balances: dict[str, Decimal]  # the account's (free + locked) when the engine started
    recorded: dict[str, int] = field(default_factory=dict)  # frames per "SYMBOL kind"
    record_errors: list[str] = field(default_factory=list)
    left_open: int = 0  # liqkit orders still open after the stop (0 unless the venue failed us)
    feed_ms: dict[str, float] = field(default_factory=dict)  # the feed's lag behind the venue: p50, p90, max

    @property
    def journal_path(self) -> Path:
        from liqkit.journal import FILE_NAME

        return self.out / "journal" / FILE_NAME

    @property
    def recording(self) -> Path:
        return self.out / "recording"

    @property
    def latency_file(self) -> Path:
        return self.out / "latency.csv"


def _venue_label(cfg: LiqkitConfig) -> str:
    e = cfg.engine
    return e.base_url if e.base_url else e.venue


async def live_session(
    cfg: LiqkitConfig,
    out: Path,
    duration: float,
    tail_s: float = 10.0,
    say: Callable[[str], None] | None = None,
    keys_file: str | Path | None = None,
) -> LiveSession:
    """Trade ``cfg``'s pairs on its venue for ``duration`` seconds while recording the venue's market."""
    import asyncio
    import contextlib
    import time

    from liqkit.domain.config import PairConfig
    from liqkit.engine.runner import EngineRunner
    from liqkit.journal import Journal
    from liqkit.research.record import Recorder
    from liqkit.venues.factory import make_venue

    say = say or (lambda _m: None)
    if cfg.engine.venue == "sim":
        raise ConfigError(
            "--venue: calibrate against a venue with its own matching (a liqkit sim-server URL, "
            "binance-testnet or binance-demo), not the in-process simulated exchange the backtest already is"
        )
    pairs = list(cfg.pairs.values()) or [PairConfig(symbol="BTCUSDT")]
    symbols = [p.symbol for p in pairs]
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal.in_state_dir(out / "journal")
    recorder = Recorder(symbols, out / "recording", venue=_recorder_venue(cfg), rotate_s=10 * 86_400)
    rec_task = asyncio.create_task(recorder.run(), name="liqkit-calibrate-record")
    ready = asyncio.create_task(recorder.ready.wait())
    await asyncio.wait({rec_task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if rec_task.done():  # the recorder could not start: its error says why
        ready.cancel()
        journal.close()
        rec_task.result()
        raise ConfigError(f"--venue {_venue_label(cfg)}: the recorder stopped before streaming")
    say(f"recording {', '.join(symbols)} from {_venue_label(cfg)} into {out / 'recording'}")
    venue = make_venue(cfg, symbols, keys_file=keys_file)
    runner = EngineRunner(venue, pairs, journal, cfg.engine.risk)
    start_ns = time.time_ns()
    session = LiveSession(out, _venue_label(cfg), symbols, start_ns, start_ns, {})
    try:
        await runner.start(run=symbols)
        session.balances = {a: free + locked for a, (free, locked) in (await venue.balances()).items()}
        say(f"trading {', '.join(symbols)} on {venue.name} for {duration:g} s; journal {journal.path}")
        await asyncio.sleep(duration)
    finally:
        with contextlib.suppress(Exception):
            await runner.stop()
        session.end_ns = time.time_ns()
        session.left_open = len(runner.core.open_orders())
        journal.flush()
        try:
            await asyncio.sleep(tail_s)
        finally:
            recorder.stop()
            stats = await rec_task
            session.recorded = {k: int(v) for k, v in stats.frames.items()}
            session.record_errors = list(stats.errors) + [f"gap: {g}" for g in stats.gaps]
            _export_latency(journal, session.latency_file)
            journal.close()
    return session


def _recorder_venue(cfg: LiqkitConfig) -> str:
    e = cfg.engine
    if e.base_url:
        return e.base_url
    if e.venue in ("binance-testnet", "binance-demo"):
        return e.venue
    raise ConfigError(f"--venue {e.venue}: calibrate trades on a sim-server URL, binance-testnet or binance-demo")


def _export_latency(journal: Any, path: Path) -> None:
    from liqkit.data.latency import export_frame, write_round_trips

    sessions = journal.sessions()
    if not sessions:
        return
    df = export_frame(journal.requests(sessions[-1]))
    if len(df):
        write_round_trips(df, path)


def recorded_market(session: LiveSession, symbol: str) -> MarketData:
    """The recording of ``symbol`` from the engine's start on (the tail after its stop included), our
    own orders taken out of its depth."""
    from liqkit.data.loader import load_market_data
    from liqkit.journal import Journal
    from liqkit.research.footprint import remove_footprint

    md = load_market_data(session.recording / symbol.lower(), symbol=symbol)
    with Journal(session.journal_path, engine_id="reader") as j:
        orders = j.orders(symbol)
    md, _removed = remove_footprint(md, orders)
    return md.slice_time(session.start_ns, None)


def model_config(
    cfg: LiqkitConfig, spec: QueueModelSpec, session: LiveSession, inbound_share: float = 0.5
) -> LiqkitConfig:
    """``cfg`` for the backtest of the session under ``spec``: realistic fills, that queue model, the
    session's measured latency (constant 0 if it sent nothing) split ``inbound_share`` on the way in, the
    account's starting balances."""
    sim: dict[str, Any] = {"fill_model": "realistic", "queue_model": spec.name}
    if spec.param is not None:
        sim["queue_param"] = spec.param
    if session.latency_file.exists():
        sim.update(
            latency="measured",
            latency_file=session.latency_file,
            latency_ms=0.0,
            latency_inbound_share=inbound_share,
        )
    if session.balances:
        sim["balances"] = {a: v for a, v in session.balances.items() if v > 0} or cfg.sim.balances
    data = cfg.model_dump(mode="python")
    data["sim"] = {**{k: v for k, v in data["sim"].items() if not k.startswith("latency")}, **sim}
    data["engine"] = {**data["engine"], "venue": "sim", "base_url": None}
    from liqkit.domain.config import LiqkitConfig

    return LiqkitConfig.model_validate(data)


def backtest_models(
    cfg: LiqkitConfig, session: LiveSession, specs: Sequence[QueueModelSpec], inbound_share: float = 0.5
) -> tuple[dict[str, BacktestResult], dict[str, MarketData]]:
    """One backtest of the recorded session (from the engine's start to its stop) per queue model; and
    each symbol's recording from the start, its tail included (the mids the markouts look ahead to).

    The venue is ahead of the recording by the feed's lag as its trades measured it (``VenueAhead``):
    our orders meet the book the venue had, not the one we had heard of."""
    import numpy as np

    from liqkit.backtest import run_backtest
    from liqkit.data.latency import feed_lags
    from liqkit.engine.latency import VenueAhead
    from liqkit.venues.sim.latency import latency_model

    markets = {s: recorded_market(session, s) for s in session.symbols}
    datas = [md.slice_time(None, session.end_ns) for md in markets.values()]
    lag_ts: list[int] = []
    lag_ns: list[int] = []
    for md in datas:  # one venue, one feed: every symbol's trades measure it
        t, lag = feed_lags(md.trades)
        lag_ts += t
        lag_ns += lag
    if lag_ns:
        session.feed_ms = {
            "p50": float(np.percentile(lag_ns, 50)) / 1e6,
            "p90": float(np.percentile(lag_ns, 90)) / 1e6,
            "max": max(lag_ns) / 1e6,
        }
    results = {}
    for spec in specs:
        c = model_config(cfg, spec, session, inbound_share)
        base = latency_model(c.sim, session.start_ns, session.end_ns)
        latency = VenueAhead(base, lag_ts=lag_ts, lag_ns=lag_ns) if lag_ts else base
        results[spec.label] = run_backtest(datas, c, latency=latency)
    return results, markets


def calibrate(
    cfg: LiqkitConfig,
    out: str | Path,
    duration: float,
    models: str | Sequence[str] = DEFAULT_MODELS,
    *,
    tail_s: float = 10.0,
    say: Callable[[str], None] | None = None,
    keys_file: str | Path | None = None,
) -> CalibrationReport:
    """Trade live, record, backtest the recording under each queue model, compare (see the module).
    API keys from the environment or ``.env``, or from ``keys_file`` alone (the one a local
    ``liqkit sim-server`` wrote, ``SimServerProcess.keys_file``)."""

    if not duration > 0:
        raise ConfigError(f"--duration: {duration} must be > 0 seconds")
    if not tail_s >= 0:
        raise ConfigError(f"--tail: {tail_s} must be >= 0 seconds")
    specs = parse_models(models)
    if keys_file is not None and not Path(keys_file).is_file():
        raise ConfigError(f"keys_file: {keys_file} is not a file (a .env file with BINANCE_API_KEY and its secret)")
    out = Path(out)
    session = _run(live_session(cfg, out, duration, tail_s, say, keys_file))
    if say:
        say(f"backtesting the recording under {len(specs)} queue models: {', '.join(s.label for s in specs)}")
    report = fit_models(cfg, session, specs)
    report.write(out)
    return report


def fit_models(
    cfg: LiqkitConfig,
    session: LiveSession,
    specs: Sequence[QueueModelSpec],
    shares: Sequence[float] = INBOUND_SHARES,
) -> CalibrationReport:
    """Backtest the session under each queue model at each inbound share of the measured round trips, and
    keep each model at the share that brings it closest to live (its ``inbound_share`` in the report):
    a venue spends a round trip's time on the way in (matching) and on the way back in proportions the
    client cannot see; the calibration measures them. The report's ``latency.inbound_share`` is the
    closest model's, with the inbound p50 and p99 it implies."""
    from liqkit.research.calibration_report import build_report

    runs = {s: backtest_models(cfg, session, specs, s) for s in shares}
    scored = {s: build_report(session, res, datas) for s, (res, datas) in runs.items()}

    chosen: dict[str, float] = {}
    for spec in specs:  # each model at its closest share (the first of equals; no score: the first share)
        best_score = float("inf")
        chosen[spec.label] = shares[0]
        for share in shares:
            v = scored[share].models[spec.label].get("score")
            if v is not None and float(v) < best_score:
                best_score, chosen[spec.label] = float(v), share
    results = {label: runs[s][0][label] for label, s in chosen.items()}
    report = build_report(session, results, runs[shares[0]][1])
    for label, s in chosen.items():
        report.models[label]["inbound_share"] = s
    if report.best is not None:
        share = chosen[report.best]
        report.latency["inbound_share"] = share
        place = report.latency.get("place")
        if isinstance(place, dict) and place.get("n"):
            place["inbound_p50_ms"] = place["p50_ms"] * share
            place["inbound_p99_ms"] = place["p99_ms"] * share
    return report


def _run(coro: Any) -> Any:
    """Run ``coro`` to its end: on a new event loop, in a thread of its own when this one already runs a
    loop (a notebook's)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="liqkit-calibrate") as pool:
        return pool.submit(asyncio.run, coro).result()


def calibrate_local(
    cfg: LiqkitConfig,
    duration: float,
    *,
    data: str | Path | None = None,
    server_args: Sequence[str] = (),
    models: str | Sequence[str] = DEFAULT_MODELS,
    out: str | Path | None = None,
    speed: float = 1.0,
    tail_s: float = 2.0,
    say: Callable[[str], None] | None = None,
) -> CalibrationReport:
    """``calibrate`` against a ``liqkit sim-server`` started for it on 127.0.0.1 (replaying ``data``, with
    ``server_args`` such as ``["--queue-model", "prob-power", "--queue-param", "3"]``), with the keys it
    generated; stopped after. ``out``: a new temporary folder if not given."""
    import tempfile

    from liqkit.venues.binance_server.process import SimServerProcess

    args = [*(["--data", str(data)] if data is not None else []), *server_args]
    symbols = ",".join(cfg.pairs) or "BTCUSDT"
    where = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="liqkit-calibrate-"))
    with SimServerProcess(args, symbols=symbols, speed=speed, state_dir=where / "sim-server") as srv:
        local = cfg.model_copy(
            update={"engine": cfg.engine.model_copy(update={"venue": "binance-testnet", "base_url": srv.url})}
        )
        return calibrate(local, where, duration, models, tail_s=tail_s, say=say, keys_file=srv.keys_file)
