"""Recorded latencies: round-trip files (what ``liqkit latency export`` writes from a journal, what
``[sim] latency = "measured"`` replays), and the feed's latency in recorded market data.

A round-trip file is a CSV or Parquet table, one row per order request, with the columns
``ts_sent`` and ``ts_answer`` (integer ns since the epoch, the engine's clock), ``kind`` (``place``,
``cancel``, ``amend``, ``replace``, ``cancel_all``, ``query``, ``place_oco``, ``cancel_list``) and
optionally ``outcome`` (``ok``, ``refused``, ``not_open``, ``retry``: the venue answered; ``unknown``,
``failed``: no answer, e.g. a timeout). The
export adds ``round_trip_ms``, ``symbol``, ``client_id``, ``engine_id`` and ``session`` for people;
the reader ignores them. Only answered order entries (``place``, ``replace``, ``place_oco``) and cancels
(``cancel``, ``cancel_list``) make the measured model.

Feed latency: where the data has both the exchange's event time and the local receive time (trades'
``T``, depth updates' ``E``; bookTicker carries none), local minus exchange time is the feed's
latency plus the offset between the local clock and Binance's. Only an NTP-synced clock makes the
level meaningful; the spread (p99 minus p50) holds either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from liqkit.domain.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from liqkit.data.frames import MarketFrames

KINDS = ("place", "cancel", "amend", "replace", "cancel_all", "query", "place_oco", "cancel_list")
OUTCOMES = ("ok", "refused", "not_open", "unknown", "retry", "failed")
ANSWERED = ("ok", "refused", "not_open", "retry")  # the venue answered: a round trip to replay
REQUIRED = ("ts_sent", "ts_answer", "kind")
EXPORT_COLUMNS = (
    "ts_sent",
    "ts_answer",
    "round_trip_ms",
    "kind",
    "outcome",
    "symbol",
    "client_id",
    "engine_id",
    "session",
)
FORMAT = (
    "a round-trip file has the columns ts_sent and ts_answer (integer ns), kind (place, cancel, ...) and "
    "optionally outcome; `liqkit latency export --state-dir DIR --out FILE.csv` writes one"
)


@dataclass(frozen=True)
class RoundTrips:
    """Answered round trips by kind: send times and round trips, int64 ns, in file order."""

    place_ts: np.ndarray
    place_rtt: np.ndarray
    cancel_ts: np.ndarray
    cancel_rtt: np.ndarray
    source: str = ""

    def span(self) -> tuple[int, int]:
        """The first and last send time."""
        ts = np.concatenate([self.place_ts, self.cancel_ts])
        return int(ts.min()), int(ts.max())

    def summary(self) -> dict[str, dict[str, float]]:
        """Per kind: how many, and the median and 99th percentile of the round trip, ms."""
        out = {}
        for kind, rtt in (("place", self.place_rtt), ("cancel", self.cancel_rtt)):
            if len(rtt):
                p50, p99 = np.percentile(rtt, [50, 99]) / 1e6
                out[kind] = {"n": float(len(rtt)), "p50_ms": float(p50), "p99_ms": float(p99)}
        return out


def _read_table(p: Path, where: str) -> pd.DataFrame:
    import pandas as pd

    if not p.exists():
        raise DataError(f"{where}: no such file; {FORMAT}")
    if p.is_dir():
        raise DataError(f"{where}: is a folder; give a .csv or .parquet file ({FORMAT})")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(p, dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(p)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{where}: cannot read it as {suffix[1:]}: {first[:160]}") from None
    raise DataError(f"{where}: unknown format {suffix or '(no suffix)'!r}; give a .csv or .parquet file")


def _integers(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    """A column as int64 ns; DataError naming the first row that is not a whole number >= 0."""
    values = df[col].tolist()
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        try:
            n = int(v) if not isinstance(v, str) else int(v.strip())
            if isinstance(v, float) and v != n:
                raise ValueError
        except (ValueError, TypeError, OverflowError):
            raise DataError(
                f"{where}: row {i + 1}: {col} = {str(v)[:40]!r} is not a whole number of ns; {FORMAT}"
            ) from None
        if n < 0:
            raise DataError(f"{where}: row {i + 1}: {col} = {n} is negative: times are ns since the epoch, >= 0")
        if n >= 1 << 63:
            raise DataError(f"{where}: row {i + 1}: {col} = {n} is too large for ns since the epoch")
        out[i] = n
    return out


def read_round_trips(path: str | Path, where: str | None = None) -> RoundTrips:
    """Read and check a round-trip file; ``where`` names it in errors (e.g. ``sim.latency_file = '...'``).

    DataError, naming the file, the row and the column, for a missing file, an unreadable one, a
    missing column, a value that is not a whole number of ns, a negative one, an answer before its
    request, an unknown kind or outcome, or no answered order entry at all."""
    p = Path(path)
    where = where or str(p)
    df = _read_table(p, where)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        has = ", ".join(map(str, df.columns[:8])) or "none"
        raise DataError(f"{where}: missing column {', '.join(missing)} (it has {has}); {FORMAT}")
    sent = _integers(df, "ts_sent", where)
    answer = _integers(df, "ts_answer", where)
    early = np.flatnonzero(answer < sent)
    if len(early):
        i = int(early[0])
        raise DataError(
            f"{where}: row {i + 1}: ts_answer {answer[i]} is before ts_sent {sent[i]} "
            f"(a round trip of {answer[i] - sent[i]} ns): an answer comes after its request"
        )
    kinds = np.array([str(k).strip().lower() for k in df["kind"].tolist()], dtype=object)
    bad = [i for i, k in enumerate(kinds) if k not in KINDS]
    if bad:
        raise DataError(
            f"{where}: row {bad[0] + 1}: kind = {str(df['kind'].iloc[bad[0]])[:40]!r} is not one of {', '.join(KINDS)}"
        )
    answered = np.ones(len(df), bool)
    if "outcome" in df.columns:
        outcomes = [str(o).strip().lower() for o in df["outcome"].tolist()]
        bad = [i for i, o in enumerate(outcomes) if o not in OUTCOMES]
        if bad:
            raise DataError(
                f"{where}: row {bad[0] + 1}: outcome = {outcomes[bad[0]][:40]!r} is not one of {', '.join(OUTCOMES)}"
            )
        answered = np.array([o in ANSWERED for o in outcomes], bool)
    # a cancel-replace and an OCO are order entry too; an order list's cancel is a cancel
    place = answered & ((kinds == "place") | (kinds == "replace") | (kinds == "place_oco"))
    cancel = answered & ((kinds == "cancel") | (kinds == "cancel_list"))
    if not place.any():
        raise DataError(
            f"{where}: no answered order entry (kind place, outcome {', '.join(ANSWERED)}) among its {len(df)} rows: "
            "the measured model needs at least one"
        )
    rtt = answer - sent
    return RoundTrips(sent[place], rtt[place], sent[cancel], rtt[cancel], str(p))


def export_frame(requests: pd.DataFrame) -> pd.DataFrame:
    """The journal's requests (``Journal.requests()``) as a round-trip table (``EXPORT_COLUMNS``)."""
    df = requests.reset_index(drop=True)
    out = df.reindex(columns=list(EXPORT_COLUMNS))
    out["round_trip_ms"] = (df["ts_answer"] - df["ts_sent"]) / 1e6
    return out


def write_round_trips(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a round-trip table as .csv or .parquet (by the suffix); DataError for another suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        df.to_csv(p, index=False)
    elif suffix == ".parquet":
        df.to_parquet(p, index=False)
    else:
        raise DataError(f"--out {p}: give a .csv or .parquet file")
    return p


def feed_latency(frames: MarketFrames) -> dict[str, dict[str, Any]]:
    """Local receive minus exchange time, ms, per source (``trade``: trades' T; ``depth``: depth
    updates' E): count, median, 99th percentile, min and max. Empty without such data (bookTicker
    only, or data-portal files without local times). The clock offset is in every figure."""
    from liqkit.data.frames import clock_skew

    skew = clock_skew(frames)
    out: dict[str, dict[str, Any]] = {}
    for source in ("trade", "depth"):
        lat = -skew.loc[skew["source"] == source, "skew_ms"].to_numpy(float)
        if len(lat):
            p50, p99 = np.percentile(lat, [50, 99])
            out[source] = {
                "n": len(lat),
                "p50_ms": float(p50),
                "p99_ms": float(p99),
                "min_ms": float(lat.min()),
                "max_ms": float(lat.max()),
            }
    return out


def feed_lags(trades: dict[str, np.ndarray]) -> tuple[list[int], list[int]]:
    """How far behind the venue the feed was over time, from a ``MarketData.trades`` table: for each
    trade with an exchange time, (its local receive time, local minus exchange time minus the smallest
    such difference), in ns. Taking off the smallest difference takes off the clocks' offset (and the
    quickest delivery, so a lag is a lower bound); ``VenueAhead`` replays them. Empty without
    exchange times."""
    local = np.asarray(trades["ts_local"], np.int64)
    exch = np.asarray(trades["ts_exchange"], np.int64)
    known = exch > 0
    if not known.any():
        return [], []
    lag = local[known] - exch[known]
    return local[known].tolist(), (lag - lag.min()).tolist()
