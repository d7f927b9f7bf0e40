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

Distances are written ``"<number>bps"`` or ``"<number>ticks"``. Every bad value raises
``ConfigError`` with a message that names the field, the value and the rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

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


def _parse_distance(v: Any) -> Any:
    if isinstance(v, (Distance, Mapping)):
        return v
    if isinstance(v, str):
        m = _DIST_RE.match(v)
        if not m:
            if v.strip().startswith("-"):
                raise ValueError(f"{v!r} is negative: a distance must be >= 0 (e.g. '10bps' or '2ticks')")
            raise ValueError(f"{v!r} is not a distance: write e.g. '10bps' or '2ticks'")
        unit = m.group(2).lower()
        return {"value": Decimal(m.group(1)), "unit": "bps" if unit.startswith("bp") else "ticks"}
    raise ValueError(f"{v!r} is not a distance: write a string such as '10bps' or '2ticks'")


Dist = Annotated[Distance, BeforeValidator(_parse_distance), PlainSerializer(str, return_type=str)]
PosDecimal = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT)]

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


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

    venue: Literal["sim", "binance-testnet", "binance-live"] = "sim"
    state_dir: Path = Field(default=Path("liqkit-state"), description="Journal, token and lock live here.")
    allow_live: bool = Field(default=False, description="Mainnet needs this and LIQKIT_ALLOW_LIVE=1.")
    base_url: str | None = Field(
        default=None, description="Point every REST/stream/WS API URL at this server (e.g. a liqkit sim-server)."
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
    latency_ms: float = Field(default=0.0, ge=0, description="One-way latency of order entry and of its answer.")
    seed: int = 7
    balances: dict[str, Decimal] = Field(
        default_factory=lambda: {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(20)},
        description="Starting balances per asset.",
    )

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
    max_inventory: PosDecimal | None = Field(default=None, description="Never buy past this base quantity.")
    price_ceiling: PosDecimal | None = Field(default=None, description="Above it only sell orders are placed.")
    price_floor: PosDecimal | None = Field(default=None, description="Below it only buy orders are placed.")
    cleanup: Literal["own", "all"] = Field(default="own", description="Which open orders to cancel on start/stop.")
    max_loss: PosDecimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _expand_spread(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "spread" in data:
            data = dict(data)
            both = data.pop("spread")
            for key in ("bid_spread", "ask_spread"):
                data.setdefault(key, both)
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


def format_validation_error(e: ValidationError, prefix: str = "") -> str:
    """Render pydantic errors as ``field: value -> rule`` lines."""
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after", "function-before"))
        loc = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key: remove it or check its spelling"
        val = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(val, Mapping) else f" = {val!r}"
        if len(shown) > 80:  # an excerpt of a long value, never the whole of it
            shown = f"{shown[:60]}... ({len(repr(val)):,} characters)"
        lines.append(f"{loc}{shown}: {msg}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _wrap(fn: Any, prefix: str = "") -> Any:
    try:
        return fn()
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, prefix)) from None


def parse_config(data: Mapping[str, Any]) -> LiqkitConfig:
    """Validate a config mapping (as read from TOML)."""
    return _wrap(lambda: LiqkitConfig.model_validate(data))  # type: ignore[no-any-return]


def load_config(path: str | Path) -> LiqkitConfig:
    """Load and validate a TOML config file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
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


def pair_config(data: Mapping[str, Any]) -> PairConfig:
    """Validate one pair's settings."""
    return _wrap(lambda: PairConfig.model_validate(data), "pairs.")  # type: ignore[no-any-return]


def update_pair(cfg: PairConfig, changes: Mapping[str, Any]) -> PairConfig:
    """Return ``cfg`` with ``changes`` applied and re-validated (the original is left untouched)."""
    if "symbol" in changes and str(changes["symbol"]).upper() != cfg.symbol:
        raise ConfigError(f"symbol: cannot change a pair's symbol ({cfg.symbol} -> {changes['symbol']})")
    merged = cfg.model_dump(mode="json")
    if "spread" in changes:  # "spread" sets both sides, unless a side is given too
        for side in ("bid_spread", "ask_spread"):
            if side not in changes:
                merged.pop(side, None)
    merged.update(changes)
    return _wrap(lambda: PairConfig.model_validate(merged), f"pairs.{cfg.symbol}.")  # type: ignore[no-any-return]


def _changes_model() -> type[BaseModel]:
    """A partial ``PairConfig`` for config changes (every field optional, ``spread`` for both sides,
    unknown keys refused): the shape the control API documents and checks before ``update_pair``."""
    pattern = r"^\s*[0-9]+(\.[0-9]+)?\s*([bB][pP][sS]?|[tT][iI][cC][kK][sS]?)\s*$"  # _DIST_RE, for JSON Schema
    dist_text = Annotated[str, Field(pattern=pattern, examples=["10bps", "2ticks"])]
    fields: dict[str, Any] = {"spread": (dist_text | None, Field(default=None, description="Both sides at once."))}
    for name, f in PairConfig.model_fields.items():
        if name == "symbol":
            continue
        if f.annotation is Distance:
            ann: Any = dist_text
        else:
            ann = Annotated[f.annotation, *f.metadata] if f.metadata else f.annotation
        fields[name] = (ann, Field(default=None, description=f.description))
    return create_model(  # type: ignore[no-any-return,call-overload]
        "PairChanges", __config__=ConfigDict(extra="forbid"), **fields
    )


PairChanges = _changes_model()
