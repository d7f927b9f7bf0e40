"""The liqkit exception tree, in one place.

Every exception liqkit raises on purpose is a ``LiqkitError``; the command line prints any of them as
one line and exits with status 2 (``liqkit.cli.main``). The classes are defined here, except those of
higher layers (defined where they are raised, so imports keep pointing down), listed here all the same::

    LiqkitError                      root of everything liqkit raises on purpose
    ├── ConfigError                  a config value breaks a rule (names field, value, rule)
    │   ├── UnknownPairError         a command named a symbol that is not a configured pair
    │   └── BudgetError              a size or notional no sane user means (liqkit.domain.budget)
    ├── DataError                    a data file is malformed (names file, line, problem)
    ├── RulesError                   exchangeInfo is unusable, or a symbol is unknown/not trading
    ├── FilterError                  an order breaks a symbol filter (names filter, value, limit)
    ├── LiveTradingRefused           live venue asked for without both opt-ins
    ├── VenueError                   a venue answered with an error
    │   ├── RetryableError           transient: try again later (429/418/-1003/-1015, with retry_after)
    │   ├── UnknownOutcomeError      the order's fate is unknown (timeout, -1007, -1006, 5xx)
    │   ├── OrderRejected            the venue refused an order (-2010, -1013, ...)
    │   ├── UnknownOrderError        cancel/query of an order that is not open (-2011, -2013)
    │   ├── ReplaceFailed            a cancel-replace half failed (-2021, -2022): which, and why
    │   └── NotSent                  a WebSocket API request never written: safe over REST (venues.binance)
    ├── EventFormatError             an engine event record does not fit (liqkit.engine.events)
    ├── JournalError                 the journal file cannot be used (liqkit.journal)
    ├── ApiError                     the local Binance server refuses a request (venues.binance_server.auth)
    │   ├── AuthError                it refuses the request's auth: key, signature, timestamp
    │   └── RateLimitError           it refuses for a rate limit, 429 -1003/-1015 (venues.binance_server.limits)
    ├── StateDirBusy                 another service holds the state directory (liqkit.service.host)
    └── ServiceError                 the control API refused a call or cannot be reached (liqkit.client)

Outside the tree on purpose: ``ValueError``/``TypeError`` for a Python caller's programming mistake
(a wrong argument type, an empty list), and the OS's own ``OSError`` for a file or port (the command
line prints those as one line too).

Venue adapters translate third-party exceptions into this tree at the boundary (``raise ... from e``),
so the engine classifies failures without knowing which library produced them.
"""

from __future__ import annotations

from liqkit.domain.types import RejectReason


class LiqkitError(Exception):
    """Root of every error liqkit raises on purpose."""


class ConfigError(LiqkitError, ValueError):
    """A configuration value breaks a rule; the message names the field, the value and the rule."""


class UnknownPairError(ConfigError):
    """A command named a symbol that is not one of the engine's configured pairs."""


class DataError(LiqkitError, ValueError):
    """A data file or record is malformed; the message names where and what."""


class RulesError(LiqkitError):
    """Symbol rules cannot be built (unknown symbol, not trading, unusable exchangeInfo)."""


class FilterError(LiqkitError, ValueError):
    """An order parameter breaks a symbol filter (PRICE_FILTER, LOT_SIZE, NOTIONAL, ...)."""

    def __init__(self, filter_name: str, message: str) -> None:
        super().__init__(f"Filter failure: {filter_name}: {message}")
        self.filter_name = filter_name


class LiveTradingRefused(LiqkitError):
    """Live (mainnet) trading was requested without both explicit opt-ins."""


class VenueError(LiqkitError):
    """A venue answered with an error. ``code`` is the venue's code (Binance: negative ints) if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"[{code}] {message}")
        self.code = code


class RetryableError(VenueError):
    """Transient refusal: wait ``retry_after`` seconds (if known) and try again."""

    def __init__(self, message: str, code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class UnknownOutcomeError(VenueError):
    """The request may or may not have been executed: resolve through the user stream or a query."""


class OrderRejected(VenueError):
    """The venue refused a new order, for a ``reason`` the engine acts on (``RejectReason``)."""

    def __init__(self, message: str, code: int | None = None, reason: RejectReason = RejectReason.OTHER) -> None:
        super().__init__(message, code)
        self.reason = reason

    @property
    def would_cross(self) -> bool:
        """Whether it was a post-only order that would have taken liquidity."""
        return self.reason is RejectReason.WOULD_CROSS


class UnknownOrderError(VenueError):
    """The order named in a cancel or query is not open (or never existed)."""


class ReplaceFailed(VenueError):
    """A cancel-replace (cancel one order, then place another) did not fully succeed. ``cancel`` is why the
    cancel failed (then the new order was not attempted) or None (the cancel was done); ``place`` is why
    the new order failed after a done cancel. A request refused as a whole, or of unknown outcome, raises
    the plain error instead."""

    def __init__(self, cancel: VenueError | None, place: VenueError | None) -> None:
        what = f"cancel failed: {cancel}" if cancel is not None else f"cancelled, new order failed: {place}"
        super().__init__(f"cancel-replace: {what}", -2022 if cancel is not None else -2021)
        self.cancel = cancel
        self.place = place
