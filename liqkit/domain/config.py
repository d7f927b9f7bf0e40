"""Configuration models: strict (unknown keys rejected), frozen, loaded from TOML.

A file has an ``[engine]`` table (venue, state directory, risk limits), an optional ``[sim]`` table
(the simulated exchange) and one ``[pairs.SYMBOL]`` table per pair::

    [engine]
    venue = "sim"

    [pairs.BTCUSDT]
    reference = "mid"
    spread = "10bps"            # both sides; or bid_spread / ask_spread
    levels = 2
    level_spacing = "5bps"
    size = "0.001"              # base quantity; size_unit = "quote" for a notional
    max_order_notional = "1000" # one order's value at most (quote asset; the default)
    refresh_tolerance = "2bps"
    iceberg_visible = "25%"     # optional: each quote an iceberg showing this (base quantity or % of it)

Distances are written ``"<number>bps"`` or ``"<number>ticks"``; the rates of a quoting model
(``model = "glft"`` or ``"as"``: ``intensity_a``, ``intensity_k``) ``"<number>/s"``, ``"<number>/bps"``
or ``"<number>/tick"``. Every bad value raises
``ConfigError`` with a message that names the field, the value (a short excerpt) and the rule: an
unknown key lists the valid keys of its table, NaN/inf and absurdly long strings are refused, and
``spread`` together with ``bid_spread``/``ask_spread`` is refused rather than merged.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from liqkit.domain.budget import DEFAULT_MAX_ORDER_NOTIONAL, MAX_AMOUNT, check_static
from liqkit.domain.errors import ConfigError

_DIST_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(bps|bp|ticks|tick)\s*$", re.IGNORECASE)


class Distance(BaseModel):
    """A price distance: ``value`` basis points or ticks (always >= 0)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: Decimal = Field(ge=0)
    unit: Literal["bps", "ticks"]

    def __str__(self) -> str:
        return f"{self.value.normalize():f}{self.unit}"


DISTANCE_FORMS = "a string: a number >= 0 then bps or ticks, e.g. '10bps', '2.5bps' or '3ticks'"
MAX_NUMBER_TEXT = 64  # characters: longer text in a number or distance field is refused, never parsed
_MAX_FREE_TEXT = 4096  # paths and URLs
_FREE_TEXT_FIELDS = frozenset({"state_dir", "base_url", "latency_file"})
_LATENCY_HINTS = {
    "latency_p50_ms": "the median one-way delay in ms, e.g. 5",
    "latency_p99_ms": "the 99th percentile of the one-way delay in ms, e.g. 40",
    "latency_file": "a round-trip file `liqkit latency export` wrote, .csv or .parquet",
}
_NUMBER_ISH = re.compile(r"^\s*[-+]?[0-9.]+\s*([^\s0-9.]*)\s*$")


def excerpt(v: Any, limit: int = 40) -> str:
    """``repr(v)``, cut to about ``limit`` characters: error messages never echo a whole huge input."""
    text = repr(v)
    return text if len(text) <= limit else f"{text[: limit - 12]}... ({len(text)} chars)"


def distance_problem(v: Any) -> str | None:
    """Why ``v`` is not a distance (a message naming the accepted forms), or None when it is one."""
    if isinstance(v, (Distance, Mapping)):
        return None
    if isinstance(v, str):
        if len(v) > MAX_NUMBER_TEXT:
            return f"is {len(v)} characters long: write {DISTANCE_FORMS}"
        if _DIST_RE.match(v):
            return None
        if v.strip().startswith("-"):
            return f"{excerpt(v)} is negative: a distance must be >= 0; write {DISTANCE_FORMS}"
        m = _NUMBER_ISH.match(v)
        if m and m.group(1):
            return f"{excerpt(v)}: unit {m.group(1)!r} is not bps or ticks; write {DISTANCE_FORMS}"
        if m:
            return f"{excerpt(v)} has no unit: write {DISTANCE_FORMS}"
        return f"{excerpt(v)} is not a distance: write e.g. '10bps' or '2ticks' ({DISTANCE_FORMS})"
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return f"{excerpt(v)} is a bare number: give its unit, as a string ('{v}bps' or '{v}ticks')"
    return f"{excerpt(v)} is not a distance: write {DISTANCE_FORMS}"


def _parse_distance(v: Any) -> Any:
    problem = distance_problem(v)
    if problem:
        raise ValueError(problem)
    if isinstance(v, str):
        m = _DIST_RE.match(v)
        assert m is not None  # distance_problem checked it
        unit = m.group(2).lower()
        return {"value": Decimal(m.group(1)), "unit": "bps" if unit.startswith("bp") else "ticks"}
    return v


def _field_error(field: str, value: Any, msg: str) -> PydanticCustomError:
    """An error about ``field`` of the table being validated (``format_validation_error`` adds it to the path)."""
    return PydanticCustomError("liqkit_field", "{msg}", {"msg": msg, "field": field, "value": value})


class Visible(BaseModel):
    """An iceberg's visible part: a base quantity, or (``percent``) that percentage of each quote's size."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: Decimal = Field(gt=0)
    percent: bool = False

    def __str__(self) -> str:
        return f"{self.value.normalize():f}{'%' if self.percent else ''}"


VISIBLE_FORMS = "a base quantity (e.g. '0.0005') or a percentage of each quote's size (e.g. '25%')"
_VISIBLE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$")


def _parse_visible(v: Any) -> Any:
    """``iceberg_visible``'s text (or a plain number, a base quantity) as a ``Visible``'s fields."""
    if isinstance(v, (Visible, Mapping)) or v is None:
        return v
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        v = format(d, "f") if d.is_finite() else str(v)  # 1e-05 as written in TOML: 0.00001
    if not isinstance(v, str):
        raise ValueError(f"{excerpt(v)} is not a quantity: write {VISIBLE_FORMS}")
    m = _VISIBLE_RE.match(v)
    if not m:
        if v.strip().startswith("-"):
            raise ValueError(f"{excerpt(v)} is negative: the visible part must be > 0; write {VISIBLE_FORMS}")
        raise ValueError(f"{excerpt(v)} is not a quantity (NaN and infinity are not): write {VISIBLE_FORMS}")
    value = Decimal(m.group(1))
    if value == 0:
        raise ValueError(f"{excerpt(v)}: the visible part must be > 0 (leave iceberg_visible out for plain orders)")
    return {"value": value, "percent": bool(m.group(2))}


Dist = Annotated[Distance, BeforeValidator(_parse_distance), PlainSerializer(str, return_type=str)]
PosDecimal = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT)]
VisibleQty = Annotated[Visible, BeforeValidator(_parse_visible), PlainSerializer(str, return_type=str)]

_RATE_RE = re.compile(
    r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*/\s*(s|sec|second|bps|bp|ticks|tick)\s*$", re.IGNORECASE
)
MAX_RATE = Decimal("1e9")  # no intensity, decay or risk aversion liqkit takes is larger


class Rate(BaseModel):
    """A rate written with its unit: ``value`` per second (``"2.5/s"``), per bps (``"1.3/bps"``) or per
    tick (``"0.002/tick"``); always > 0."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: Decimal = Field(gt=0, le=MAX_RATE)
    per: Literal["s", "bps", "tick"]

    def __str__(self) -> str:
        return f"{self.value.normalize():f}/{self.per}"


def _rate_parser(units: tuple[str, ...], example: str) -> Any:
    """A before-validator reading ``"<number>/<unit>"`` for one of ``units`` (``example`` in messages)."""
    forms = " or ".join(f"'{example.split('/')[0]}/{u}'" for u in units)

    def parse(v: Any) -> Any:
        if isinstance(v, (Rate, Mapping)):
            return v
        if isinstance(v, bool) or not isinstance(v, (str, int, float, Decimal)):
            raise ValueError(f"{excerpt(v)} is not a rate: write {forms}")
        if not isinstance(v, str):
            if not math.isfinite(v):
                raise ValueError("must be a finite number (not NaN or infinity)")
            given = " or ".join(f"'{v}/{u}'" for u in units)
            raise ValueError(f"{excerpt(v)} is a bare number: give its unit, as a string ({given})")
        if len(v) > MAX_NUMBER_TEXT:
            raise ValueError(f"is {len(v)} characters long: write {forms}")
        m = _RATE_RE.match(v)
        if m is None:
            if v.strip().startswith("-"):
                raise ValueError(f"{excerpt(v)} is negative: it must be > 0; write {forms}")
            raise ValueError(f"{excerpt(v)} is not a rate: write {forms}")
        unit = m.group(2).lower()
        per = "s" if unit.startswith("s") else "bps" if unit.startswith("bp") else "tick"
        if per not in units:
            raise ValueError(f"{excerpt(v)}: per {per} is the wrong unit here; write {forms}")
        try:  # an exponent past Decimal's range does not convert; one past the context's cannot be compared
            value = Decimal(m.group(1))
            ok = not value.is_zero() and -30 <= value.adjusted() <= MAX_RATE.adjusted() and value <= MAX_RATE
        except ArithmeticError:
            ok = False
        if not ok:
            raise ValueError(f"{excerpt(v)}: must be above 0 and at most {MAX_RATE:f} (not below 1e-30); write {forms}")
        return {"value": value, "per": per}

    return parse


_NUMBER = r"^\s*[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\s*/\s*"  # _RATE_RE's number, for JSON Schema
PerSecond = Annotated[
    Rate,
    BeforeValidator(_rate_parser(("s",), "2.5/s")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _NUMBER + r"([sS]|sec|second)\s*$", "examples": ["2.5/s"]}),
]
PerDistance = Annotated[
    Rate,
    BeforeValidator(_rate_parser(("bps", "tick"), "1.3/bps")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": _NUMBER + r"([bB][pP][sS]?|[tT][iI][cC][kK][sS]?)\s*$", "examples": ["1.3/bps"]}
    ),
]


def _plain_number(v: Any) -> Any:
    """gamma is a plain number (its unit is intensity_k's): a unit written with it is refused, explained."""
    if isinstance(v, str) and "/" in v:
        raise ValueError(
            f"{excerpt(v)}: write a plain number, e.g. 0.1: gamma is per the distance unit of intensity_k "
            "(per bps with intensity_k = '1.3/bps', per tick with '0.002/tick')"
        )
    return v


MODELS = ("glft", "as")  # the model-based quoting options beside "fixed"
_MODEL_NEEDS = {
    "gamma": "the risk aversion, a number per the distance unit of intensity_k, e.g. 0.1",
    "intensity_a": "trades per second reaching the mid, e.g. '2.5/s': the A of liqkit.research.stats.fit_intensity",
    "intensity_k": "the decay with the distance from the mid, e.g. '1.3/bps' or '0.002/tick': fit_intensity's k",
    "horizon": "the horizon of Avellaneda-Stoikov in seconds, e.g. 60",
}

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _short_text(cls, data: Any) -> Any:
        """Refuse absurdly long strings before any field parses them (a 10 MB string of digits as a size)."""
        if not isinstance(data, Mapping):
            return data
        for key, value in data.items():
            f = cls.model_fields.get(str(key))
            in_dict = f is not None and getattr(f.annotation, "__origin__", None) is dict  # sim.balances
            items = [(f"{key}.{k}", v) for k, v in value.items()] if isinstance(value, Mapping) and in_dict else []
            limit = _MAX_FREE_TEXT if key in _FREE_TEXT_FIELDS else MAX_NUMBER_TEXT
            for name, v in items or [(str(key), value)]:
                if isinstance(v, str) and len(v) > limit:
                    raise _field_error(name, v, f"is {len(v)} characters long; at most {limit} are read here")
        return data


class RiskConfig(_Strict):
    """Engine-wide risk limits (a pair may override ``max_loss``)."""

    stale_feed_s: float = Field(
        default=5.0, gt=0, description="Pause a pair after this many seconds without a book update."
    )
    max_loss: Decimal | None = Field(
        default=None,
        gt=0,
        le=MAX_AMOUNT,
        description="Kill switch: halt a pair whose PnL falls below -max_loss (quote asset).",
    )


class EngineConfig(_Strict):
    """Where the engine trades and keeps its state."""

    venue: Literal["sim", "binance-testnet", "binance-demo", "binance-live"] = Field(
        default="sim",
        description=(
            "sim: the embedded simulated exchange; binance-testnet; binance-demo: Binance's Demo Mode (live "
            "filters and limits, realistic market, no real money); binance-live: mainnet (needs allow_live)."
        ),
    )
    state_dir: Path = Field(default=Path("liqkit-state"), description="Journal, token and lock live here.")
    allow_live: bool = Field(default=False, description="Mainnet needs this and LIQKIT_ALLOW_LIVE=1.")
    base_url: str | None = Field(
        default=None, description="Point every REST/stream/WS API URL at this server (e.g. a liqkit sim-server)."
    )
    replace_mode: Literal["cancel-replace", "cancel-then-place"] = Field(
        default="cancel-replace",
        description="How a quote moves: one cancel-replace request (Binance's order.cancelReplace), or a cancel "
        "and, once it is confirmed, a new order. Backtests and the simulated exchange do the same.",
    )
    order_entry: Literal["ws-api", "rest"] = Field(
        default="ws-api",
        description="Binance venues: send orders over the WebSocket API (REST while it is down), or REST only.",
    )
    risk: RiskConfig = RiskConfig()

    @model_validator(mode="after")
    def _live_needs_opt_in(self) -> EngineConfig:
        if self.venue == "binance-live" and not self.allow_live:
            raise ValueError(
                "venue 'binance-live' needs allow_live = true (and LIQKIT_ALLOW_LIVE=1 in the environment)"
            )
        return self


class SimConfig(_Strict):
    """The simulated exchange."""

    fill_model: Literal["trade-through", "realistic"] = "realistic"
    maker_fee_bps: Decimal = Field(default=Decimal("1"), ge=0)
    taker_fee_bps: Decimal = Field(default=Decimal("1"), ge=0)
    queue_model: Literal["risk-averse", "prob-power", "prob-log"] = Field(
        default="risk-averse",
        description=(
            "realistic fills: how the queue ahead of a resting order moves. risk-averse: only trades at its "
            "price advance it; prob-power / prob-log: a decrease at its price that trades do not explain is "
            "taken from ahead of it with probability f(front) / (f(front) + f(back)), f(x) = x ** queue_param "
            "or ln(1 + x)."
        ),
    )
    queue_param: float | None = Field(
        default=None, gt=0, description="prob-power: the exponent n of f(x) = x ** n (default 3)."
    )
    latency: Literal["constant", "lognormal", "measured"] = Field(
        default="constant",
        description=(
            "constant: latency_ms each way; lognormal: each way drawn from latency_p50_ms/latency_p99_ms "
            "(cancels from latency_cancel_p50_ms/latency_cancel_p99_ms if given), seeded by latency_seed; "
            "measured: the round trips of latency_file (liqkit latency export), interpolated over time."
        ),
    )
    latency_ms: float = Field(default=0.0, ge=0, description="One-way latency of order entry and of its answer.")
    latency_p50_ms: float | None = Field(
        default=None, gt=0, description="lognormal: median one-way delay of order entry and of its answer, ms."
    )
    latency_p99_ms: float | None = Field(
        default=None, gt=0, description="lognormal: 99th percentile of that delay, ms (>= latency_p50_ms)."
    )
    latency_cancel_p50_ms: float | None = Field(
        default=None, gt=0, description="lognormal: median one-way delay of a cancel, ms (default: order entry's)."
    )
    latency_cancel_p99_ms: float | None = Field(
        default=None, gt=0, description="lognormal: 99th percentile of a cancel's delay, ms."
    )
    latency_seed: int | None = Field(
        default=None, ge=0, description="lognormal: seed of the draws (default: seed); the same seed, the same run."
    )
    latency_file: Path | None = Field(
        default=None, description="measured: round trips as `liqkit latency export` writes them (.csv or .parquet)."
    )
    latency_inbound_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "measured: the share of each round trip spent on the way to the exchange (0.5: half each way; "
            "`liqkit calibrate` fits it); the rest is the answer's way back."
        ),
    )
    feed_latency_ms: float = Field(
        default=0.0,
        ge=0,
        le=60_000,
        description=(
            "How far the venue is ahead of the recorded market, ms (the feed's latency: `liqkit latency feed` "
            "measures it): orders meet the book the venue had then, not the one the data shows."
        ),
    )
    seed: int = Field(default=7, ge=0, description="Seed of the simulated exchange's randomness.")
    balances: dict[str, Decimal] = Field(
        default_factory=lambda: {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(20)},
        description="Starting balances per asset.",
    )

    @model_validator(mode="after")
    def _queue_settings_fit_the_model(self) -> SimConfig:
        """A queue model needs the realistic fill model; ``queue_param`` is prob-power's alone."""
        if self.fill_model == "trade-through" and self.queue_model != "risk-averse":
            raise _field_error(
                "queue_model",
                self.queue_model,
                'needs fill_model = "realistic": the trade-through model fills whole on any trade through '
                'the price and has no queue; remove queue_model, or set fill_model = "realistic"',
            )
        if self.queue_param is not None and self.queue_model != "prob-power":
            raise _field_error(
                "queue_param",
                self.queue_param,
                f'is the exponent of queue_model = "prob-power", but queue_model is "{self.queue_model}": '
                'remove it, or set queue_model = "prob-power"',
            )
        return self

    @property
    def queue_exponent(self) -> float:
        """prob-power's exponent: ``queue_param``, 3 unless given."""
        return 3.0 if self.queue_param is None else self.queue_param

    @model_validator(mode="after")
    def _latency_settings_fit_the_model(self) -> SimConfig:
        """Each latency model's settings: present when it needs them, refused when another model is named."""
        need = {"constant": (), "lognormal": ("latency_p50_ms", "latency_p99_ms"), "measured": ("latency_file",)}
        own = {
            "constant": ("latency_ms",),
            "lognormal": (
                "latency_p50_ms",
                "latency_p99_ms",
                "latency_cancel_p50_ms",
                "latency_cancel_p99_ms",
                "latency_seed",
            ),
            "measured": ("latency_file", "latency_inbound_share"),
        }
        model = self.latency
        for name in need[model]:
            if getattr(self, name) is None:
                raise _field_error(name, None, f'missing: latency = "{model}" needs {name} ({_LATENCY_HINTS[name]})')
        for other, names in own.items():
            for name in names if other != model else ():
                value = getattr(self, name)
                default = (name == "latency_ms" and value == 0) or (name == "latency_inbound_share" and value == 0.5)
                if name in self.model_fields_set and value is not None and not default:
                    raise _field_error(
                        name,
                        value,
                        f'is a setting of latency = "{other}", but latency is "{model}": remove it, '
                        f'or set latency = "{other}"',
                    )
        for what in ("", "cancel_"):
            p50, p99 = getattr(self, f"latency_{what}p50_ms"), getattr(self, f"latency_{what}p99_ms")
            if (p50 is None) != (p99 is None):
                given, missing = (f"latency_{what}p50_ms", f"latency_{what}p99_ms")[:: 1 if p99 is None else -1]
                raise _field_error(missing, None, f"missing: give it with {given} (both, or neither)")
            if p50 is not None and p99 is not None and p99 < p50:
                raise _field_error(
                    f"latency_{what}p99_ms",
                    p99,
                    f"is below latency_{what}p50_ms = {p50:g}: the 99th percentile must be >= the median",
                )
        return self

    @field_validator("balances")
    @classmethod
    def _non_negative(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in v.items():
            if amount < 0:
                raise ValueError(f"balance of {asset} is {amount}: must be >= 0")
            if amount > MAX_AMOUNT:
                raise ValueError(
                    f"balance of {asset} is {amount}: above the largest amount liqkit accepts, {MAX_AMOUNT}"
                )
        return v


class PairConfig(_Strict):
    """How one pair is quoted. Distances are measured from the reference price."""

    symbol: str = Field(description="Binance symbol, e.g. BTCUSDT.")
    reference: Literal["mid", "touch"] = Field(
        default="mid", description="mid: (bid+ask)/2; touch: own side's best price."
    )
    # 2bps a side: close enough to BTCUSDT's touch to fill on the shipped recording (10bps never does)
    bid_spread: Dist = Field(default=Distance(value=Decimal(2), unit="bps"))
    ask_spread: Dist = Field(default=Distance(value=Decimal(2), unit="bps"))
    min_spread: Dist = Field(
        default=Distance(value=Decimal(0), unit="ticks"),
        description="No quote closer to the reference than this, even after skew.",
    )
    levels: int = Field(default=1, ge=1, le=20)
    level_spacing: Dist = Field(default=Distance(value=Decimal(5), unit="bps"))
    size: PosDecimal = Field(default=Decimal("0.001"))
    size_unit: Literal["base", "quote"] = "base"
    max_order_notional: PosDecimal = Field(
        default=DEFAULT_MAX_ORDER_NOTIONAL,
        description="Largest value of one order, in the quote asset (e.g. USDT): a bigger size is refused, "
        "and the engine never places an order worth more.",
    )
    refresh_tolerance: Dist = Field(
        default=Distance(value=Decimal(2), unit="bps"),
        description="Keep an order while within this of its wanted price.",
    )
    post_only: bool = True
    inventory_target: Decimal = Field(
        default=Decimal("0.5"), ge=0, le=1, description="Wanted base share of the pair's value."
    )
    skew: Decimal = Field(
        default=Decimal(0), ge=0, le=10, description="0 = off; 1 shifts quotes by a full spread at full deviation."
    )
    rebalance_band: Decimal | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Active rebalance (off when unset): keep the base share of the pair's value within "
        "inventory_target ± this fraction (e.g. 0.1); past it a rebalancing order goes out for the excess back to "
        "the target, until the share is back in the band.",
    )
    rebalance_mode: Literal["maker", "taker"] = Field(
        default="maker",
        description="maker: the rebalancing order is post-only at the touch, re-placed as the touch moves; "
        "taker: a marketable limit order (IOC) that takes the book up to rebalance_max_slippage from the mid.",
    )
    rebalance_max_slippage: Dist = Field(
        default=Distance(value=Decimal(10), unit="bps"),
        description="taker: the IOC's limit is at most this far from the mid; a touch farther away is not taken.",
    )
    max_inventory: PosDecimal | None = Field(default=None, description="Never buy past this base quantity.")
    price_ceiling: PosDecimal | None = Field(default=None, description="Above it only sell orders are placed.")
    price_floor: PosDecimal | None = Field(default=None, description="Below it only buy orders are placed.")
    exit_inventory: PosDecimal | None = Field(
        default=None,
        description="OCO exits: when the base held passes inventory_target's base amount (at the mid) by more "
        "than this base quantity, the whole excess gets one OCO order list (a LIMIT_MAKER take-profit and a "
        "STOP_LOSS); unset: no exits.",
    )
    exit_take_profit: Dist | None = Field(
        default=None, description="The exit's take-profit distance from the mid when the exit is placed."
    )
    exit_stop_loss: Dist | None = Field(
        default=None, description="The exit's stop-loss (stopPrice) distance from the mid when the exit is placed."
    )
    cleanup: Literal["own", "all"] = Field(default="own", description="Which open orders to cancel on start/stop.")
    max_loss: PosDecimal | None = None
    stp_mode: Literal["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"] | None = Field(
        default=None,
        description="Binance self-trade prevention mode sent with every order (unset: the symbol's default).",
    )
    # ---- model-based quoting (liqkit.quoting.model_depths): the spreads and the skew from a model ----
    model: Literal["fixed", "glft", "as"] = Field(
        default="fixed",
        description="fixed: bid_spread/ask_spread and skew as configured; glft: Gueant-Lehalle-Fernandez-Tapia's "
        "closed-form spreads and inventory skew from gamma, intensity_a, intensity_k and the realised "
        "volatility over vol_window (bid_spread, ask_spread unused); as: Avellaneda-Stoikov's, over horizon.",
    )
    gamma: Annotated[float, BeforeValidator(_plain_number)] | None = Field(
        default=None,
        gt=0,
        le=float(MAX_RATE),
        description="glft/as: risk aversion, per the distance unit of intensity_k (per bps or per tick) and per "
        "lot of size; larger skews harder with the inventory.",
    )
    intensity_a: PerSecond | None = Field(
        default=None,
        description="glft/as: trades per second reaching the mid, A of A*exp(-k*d), written '2.5/s' "
        "(liqkit.research.stats.fit_intensity's A).",
    )
    intensity_k: PerDistance | None = Field(
        default=None,
        description="glft/as: decay k of A*exp(-k*d) with the distance d from the mid, per bps ('1.3/bps', "
        "fit_intensity's k) or per tick ('0.002/tick').",
    )
    vol_window: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="glft/as: seconds of mids (sampled each engine timer tick, once a second) whose realised "
        "volatility the model uses.",
    )
    max_spread: Dist = Field(
        default=Distance(value=Decimal(50), unit="bps"),
        description="glft/as: no quote farther from the mid than this (min_spread bounds it from below).",
    )
    horizon: float | None = Field(
        default=None, gt=0, le=86_400 * 365, description="as: the horizon T-t of Avellaneda-Stoikov, seconds."
    )
    iceberg_visible: VisibleQty | None = Field(
        default=None,
        description="Send each quote as an iceberg (icebergQty) showing this much: a base quantity, e.g. "
        "'0.0005', or a percentage of the quote's size, e.g. '25%' (unset: plain orders).",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_spread(cls, data: Any) -> Any:
        """``spread`` sets both sides; given with a side it is refused (which one should win is unclear)."""
        if isinstance(data, Mapping) and "spread" in data:
            data = dict(data)
            both = data.pop("spread")
            sides = [k for k in ("bid_spread", "ask_spread") if k in data]
            if sides:
                raise _field_error(
                    "spread",
                    both,
                    f"given together with {' and '.join(sides)}: write spread (both sides) "
                    "or bid_spread/ask_spread, not both",
                )
            data["bid_spread"] = data["ask_spread"] = both  # a bad value is named "spread" in the message
        return data

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().upper()
            if not _SYMBOL_RE.match(v):
                raise ValueError(f"{v!r} is not a Binance symbol: use letters and digits, e.g. BTCUSDT")
        return v

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> PairConfig:
        if self.price_floor is not None and self.price_ceiling is not None and self.price_floor >= self.price_ceiling:
            raise ValueError(f"price_floor {self.price_floor} must be below price_ceiling {self.price_ceiling}")
        return self

    @model_validator(mode="after")
    def _exits_complete(self) -> PairConfig:
        """``exit_inventory`` turns exits on and needs both distances (> 0); a distance without it is refused."""
        names = ("exit_take_profit", "exit_stop_loss")
        if self.exit_inventory is None:
            given = [n for n in names if getattr(self, n) is not None]
            if given:
                raise ValueError(
                    f"{' and '.join(given)} set without exit_inventory: set exit_inventory (a base quantity, "
                    f"e.g. 0.01) to turn OCO exits on, or remove {' and '.join(given)}"
                )
            return self
        for n in names:
            d = getattr(self, n)
            if d is None:
                raise ValueError(f"exit_inventory is set but {n} is not: give {n} as a distance, e.g. '50bps'")
            if d.value <= 0:
                raise ValueError(f"{n} = {d}: an exit's distance must be above 0, e.g. '50bps'")
        return self

    @model_validator(mode="after")
    def _model_settings(self) -> PairConfig:
        """A model names what it needs; the model's skew replaces ``skew``; max_spread above min_spread."""
        if self.model == "fixed":
            return self  # the model settings are unused (a sweep may vary model over one base)
        needs = ["gamma", "intensity_a", "intensity_k"] + (["horizon"] if self.model == "as" else [])
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            name, also = missing[0], f"; also missing: {', '.join(missing[1:])}" if missing[1:] else ""
            raise _field_error(name, None, f'missing: model = "{self.model}" needs {name} ({_MODEL_NEEDS[name]}){also}')
        if self.reference != "mid":
            raise _field_error(
                "reference",
                self.reference,
                f'model = "{self.model}" measures its spreads from the mid: set reference = "mid", or model = "fixed"',
            )
        if self.skew:
            raise _field_error(
                "skew",
                float(self.skew),
                f'model = "{self.model}" skews with the inventory itself (gamma, the volatility): '
                'set skew = 0, or model = "fixed"',
            )
        mx, mn = self.max_spread, self.min_spread
        if mx.value <= 0 or (mx.unit == mn.unit and mx.value <= mn.value):
            raise _field_error(
                "max_spread", str(mx), f"must be above min_spread ({mn}): the model's spreads are clamped between them"
            )
        return self

    @model_validator(mode="after")
    def _visible_below_size(self) -> PairConfig:
        v = self.iceberg_visible
        if v is None:
            return self
        if v.percent and v.value >= 100:
            raise _field_error(
                "iceberg_visible", str(v), "must be below 100%: an iceberg hides part of the order; use e.g. '25%'"
            )
        if not v.percent and v.value > MAX_AMOUNT:
            raise _field_error("iceberg_visible", str(v), f"above the largest amount liqkit accepts, {MAX_AMOUNT}")
        if not v.percent and self.size_unit == "base" and v.value >= self.size:
            raise _field_error(
                "iceberg_visible",
                str(v),
                f"must be below size {self.size.normalize():f}: Binance refuses an icebergQty that is not "
                "less than the quantity; show less, or a percentage such as '25%'",
            )
        return self

    @model_validator(mode="after")
    def _rebalance_acts(self) -> PairConfig:
        """A band that covers every share would never act; a slippage of 0 (or past 1000bps) never fits a taker."""
        band, target = self.rebalance_band, self.inventory_target
        if band is not None and target - band <= 0 and target + band >= 1:
            room = max(target, 1 - target)
            raise _field_error(
                "rebalance_band",
                band,
                f"with inventory_target {target} the band {target - band} to {target + band} covers every share "
                f"(0 to 1): the rebalance would never act; use a band below {room}",
            )
        slip = self.rebalance_max_slippage
        if slip.value <= 0:
            raise _field_error(
                "rebalance_max_slippage", str(slip), "must be above 0: a taker order at the mid takes nothing"
            )
        if slip.unit == "bps" and slip.value > 1000:
            raise _field_error(
                "rebalance_max_slippage",
                str(slip),
                "is above 1000bps (10%): a rebalancing order may pay at most that much; use e.g. '10bps'",
            )
        if slip.unit == "ticks" and slip.value != slip.value.to_integral_value():
            raise _field_error("rebalance_max_slippage", str(slip), "a distance in ticks must be a whole number")
        return self

    @model_validator(mode="after")
    def _within_budget(self) -> PairConfig:
        check_static(self.size, self.size_unit, self.max_order_notional)  # the rest needs the symbol's rules
        return self


class LiqkitConfig(_Strict):
    """A whole liqkit configuration file."""

    engine: EngineConfig = EngineConfig()
    sim: SimConfig = SimConfig()
    pairs: dict[str, PairConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _symbols_from_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("pairs"), Mapping):
            data = dict(data)
            pairs = {}
            for key, body in data["pairs"].items():
                if isinstance(body, Mapping):
                    body = dict(body)
                    body.setdefault("symbol", key)
                pairs[str(key).upper()] = body
            data["pairs"] = pairs
        return data

    @model_validator(mode="after")
    def _keys_match(self) -> LiqkitConfig:
        for key, pair in self.pairs.items():
            if key != pair.symbol:
                raise ValueError(f"pairs.{key}.symbol is {pair.symbol!r}: it must match the table name {key!r}")
        return self


def _table_model(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the table at ``loc`` (a path of keys from ``root``), or None when it is not one."""
    model: Any = root
    i = 0
    while i < len(loc):
        fields: Any = getattr(model, "model_fields", None) if isinstance(model, type) else None
        f = fields.get(str(loc[i])) if isinstance(fields, dict) else None
        if f is None:
            return None
        ann: Any = f.annotation
        if getattr(ann, "__origin__", None) is dict:  # pairs.SYMBOL: skip the key
            ann = ann.__args__[1]
            i += 1
        model = ann
        i += 1
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def valid_keys(model: type[BaseModel]) -> list[str]:
    """The keys a table of ``model`` accepts (``spread`` too, for a pair)."""
    keys = list(model.model_fields)
    if model is PairConfig:
        keys.insert(keys.index("bid_spread"), "spread")
    return keys


def _pair_table(root: type[BaseModel] | None, written: Mapping[str, Any] | None, parts: tuple[Any, ...]) -> Any:
    """The pair table the user wrote that ``parts`` (a path from ``root``) points into, if any."""
    if written is None or root is None:
        return None
    if root is PairConfig:
        return written
    pairs = written.get("pairs") if root is LiqkitConfig else None
    if len(parts) < 2 or parts[0] != "pairs" or not isinstance(pairs, Mapping):
        return None
    return next((body for key, body in pairs.items() if str(key).upper() == parts[1]), None)


def format_validation_error(
    e: ValidationError, prefix: str = "", root: type[BaseModel] | None = None, written: Mapping[str, Any] | None = None
) -> str:
    """Render pydantic errors as ``field = value: rule`` lines (values cut to a short excerpt).

    ``root`` is the model validated and ``written`` what the user gave it: an unknown key lists the
    valid keys of its table, and a side's error is named ``spread`` when the user wrote ``spread``.
    """
    lines: list[str] = []
    for err in e.errors():
        parts = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        ctx = err.get("ctx") or {}
        val = err.get("input")
        if err["type"] == "liqkit_field":
            parts = (*parts, ctx["field"])
            val = ctx.get("value")
        if parts and parts[-1] in ("bid_spread", "ask_spread"):
            table = _pair_table(root, written, parts[:-1])
            if isinstance(table, Mapping) and "spread" in table and parts[-1] not in table:
                parts = (*parts[:-1], "spread")
        loc = ".".join(str(p) for p in parts)
        loc = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            table = _table_model(root, parts[:-1]) if root is not None else None
            msg = "unknown key: remove it or check its spelling"
            if table is not None:
                msg += f"; valid keys here: {', '.join(valid_keys(table))}"
        elif err["type"] == "finite_number":
            msg = "must be a finite number (not NaN or infinity)"
        absent = err["type"] in ("missing", "extra_forbidden") or (err["type"] == "liqkit_field" and val is None)
        shown = "" if absent or isinstance(val, Mapping) else f" = {excerpt(val)}"
        line = f"{loc}{shown}: {msg}"
        if line not in lines:  # "spread" for both sides: once
            lines.append(line)
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _validate(model: type[BaseModel], data: Mapping[str, Any], prefix: str = "") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, prefix, model, data)) from None


def parse_config(data: Mapping[str, Any]) -> LiqkitConfig:
    """Validate a config mapping (as read from TOML)."""
    return _validate(LiqkitConfig, data)  # type: ignore[no-any-return]


def load_config(path: str | Path) -> LiqkitConfig:
    """Load and validate a TOML config file (ConfigError naming the file and what is wrong)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"cannot read config file {p}: it is a folder; give a .toml file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"cannot read config file {p}: {e.strerror}: give the path of an existing TOML file (--config FILE)"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        kind = "gzip data" if raw[:2] == b"\x1f\x8b" else "a binary file"
        raise ConfigError(
            f"{p}: not UTF-8 TOML (byte 0x{raw[e.start]:02x} at offset {e.start}; is it {kind}?)"
        ) from None
    if "\x00" in text:
        raise ConfigError(f"{p}: not UTF-8 TOML (a NUL byte at offset {text.index(chr(0))}; is it a binary file?)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p} is not valid TOML: {e}") from None
    except ValueError as e:  # an integer of thousands of digits (Python's int conversion limit)
        raise ConfigError(
            f"{p}: a number is too long to be an amount ({str(e)[:60]}): write at most 30 digits"
        ) from None
    try:
        return parse_config(data)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


def defaults_note(cfg: LiqkitConfig, symbols: Sequence[str], where: str | None = "the config") -> str | None:
    """One line saying which symbols run on ``PairConfig`` defaults (no section for them), and what
    those defaults are; None when every symbol has its section. ``where`` names the config (None:
    no config was given). The backtest logs it; the CLI shows it on stderr."""
    missing = [s for s in symbols if s not in cfg.pairs]
    if not missing:
        return None
    d = PairConfig(symbol=missing[0])
    spread = str(d.bid_spread) if d.bid_spread == d.ask_spread else f"bid {d.bid_spread}, ask {d.ask_spread}"
    what = "has no pairs" if not cfg.pairs else "has no " + ", ".join(f"[pairs.{s}]" for s in missing)
    head = "no config given" if where is None else f"{where} {what}"
    return (
        f"{head}: {', '.join(missing)} quoted on the defaults (reference {d.reference}, spread {spread}, "
        f"levels {d.levels}, size {d.size} {d.size_unit}, refresh_tolerance {d.refresh_tolerance}, "
        f"post_only {str(d.post_only).lower()})"
    )


def pair_config(data: Mapping[str, Any]) -> PairConfig:
    """Validate one pair's settings."""
    return _validate(PairConfig, data, "pairs.")  # type: ignore[no-any-return]


def update_pair(cfg: PairConfig, changes: Mapping[str, Any]) -> PairConfig:
    """Return ``cfg`` with ``changes`` applied and re-validated (the original is left untouched).

    ``spread`` sets both sides; with ``bid_spread`` or ``ask_spread`` in the same changes it is refused.
    """
    if "symbol" in changes and str(changes["symbol"]).upper() != cfg.symbol:
        raise ConfigError(f"symbol: cannot change a pair's symbol ({cfg.symbol} -> {changes['symbol']})")
    merged = cfg.model_dump(mode="json")
    if "spread" in changes:  # "spread" sets both sides: the old sides go (a side in changes too is refused)
        for side in ("bid_spread", "ask_spread"):
            merged.pop(side, None)
    merged.update(changes)
    return _validate(PairConfig, merged, f"pairs.{cfg.symbol}.")  # type: ignore[no-any-return]


def _distance_text(v: Any) -> Any:
    problem = distance_problem(v)
    if problem or not isinstance(v, str):
        raise ValueError(problem or f"{excerpt(v)} is not a distance: write {DISTANCE_FORMS}")
    return v


def _visible_text(v: Any) -> Any:
    """``iceberg_visible`` as a change carries it: its text or a number (what the schema says), parsed."""
    if isinstance(v, (Visible, Mapping)):
        raise ValueError(f"{excerpt(v)} is not a quantity: write {VISIBLE_FORMS}")
    return _parse_visible(v)


def _changes_model() -> type[BaseModel]:
    """A partial ``PairConfig`` for config changes (every field optional, ``spread`` for both sides,
    unknown keys refused): the shape the control API documents and checks before ``update_pair``."""
    pattern = r"^\s*[0-9]+(\.[0-9]+)?\s*([bB][pP][sS]?|[tT][iI][cC][kK][sS]?)\s*$"  # _DIST_RE, for JSON Schema
    schema = {"type": "string", "pattern": pattern, "examples": ["10bps", "2ticks"], "description": DISTANCE_FORMS}
    dist_text = Annotated[str, BeforeValidator(_distance_text), WithJsonSchema(schema)]  # messages, not the regex
    visible_schema = {
        "anyOf": [
            {"type": "string", "pattern": _VISIBLE_RE.pattern, "examples": ["0.0005", "25%"]},
            {"type": "number", "exclusiveMinimum": 0},
        ],
        "description": VISIBLE_FORMS,
    }
    visible = Annotated[Visible, BeforeValidator(_visible_text), WithJsonSchema(visible_schema)]
    fields: dict[str, Any] = {"spread": (dist_text | None, Field(default=None, description="Both sides at once."))}
    for name, f in PairConfig.model_fields.items():
        if name == "symbol":
            continue
        inner = {get_args(a)[0] if get_origin(a) is Annotated else a for a in get_args(f.annotation)} - {type(None)}
        if f.annotation is Distance:
            ann: Any = dist_text
        elif inner == {Distance}:  # an optional distance (the exits'): the same text, or null
            ann = dist_text | None
        elif inner == {Visible}:  # iceberg_visible: its text or a number, or null (the schema says which)
            ann = visible | None
        else:
            ann = Annotated[f.annotation, *f.metadata] if f.metadata else f.annotation
        fields[name] = (ann, Field(default=None, description=f.description))
    return create_model(  # type: ignore[no-any-return,call-overload]
        "PairChanges", __config__=ConfigDict(extra="forbid"), **fields
    )


PairChanges = _changes_model()
