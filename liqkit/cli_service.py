"""The ``liqkit`` commands that talk to a running ``liqkit serve``: status, pairs, run, stop, config.

``liqkit status`` also prints the rate-limit plan of the engine's recent orders (``liqkit.rateplan``)
and each pair's PnL split: spread capture, inventory, fees, and the active rebalance's cost.

They find the service through its state directory (``service.json`` and ``token``) or take ``--url``
and ``--token``. A symbol is checked for Binance's form before anything is sent (``BTC/USDT`` is
answered with the configured pairs), config assignments before they leave (``nan``, unknown keys),
and sizes, positions and prices print with their asset.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liqkit import cli_args
from liqkit.cli_preflight import plan_lines
from liqkit.domain.errors import LiqkitError

if TYPE_CHECKING:
    from liqkit.engine.views import PairPnl, PairView, Snapshot

__all__ = ["parse_assignments", "register_service_commands"]


def _client(args: argparse.Namespace) -> Any:
    import os

    from liqkit.client import EngineClient

    if args.url:
        token = args.token or os.environ.get("LIQKIT_TOKEN")
        if not token:
            raise LiqkitError("--url needs --token (or LIQKIT_TOKEN in the environment)")
        return EngineClient(args.url, token)
    return EngineClient.from_state_dir(args.state_dir or Path("liqkit-state"))


def _call(args: argparse.Namespace, fn: Any) -> Any:
    import asyncio

    async def main() -> Any:
        async with _client(args) as c:
            return await fn(c)

    return asyncio.run(main())


def _assets(symbol: str, known: Collection[str]) -> tuple[str, str]:
    """(base, quote) of ``symbol``: split at an asset the account holds, else at a common quote asset."""
    for quote in sorted(known, key=len, reverse=True):
        if symbol.endswith(quote) and symbol[: -len(quote)] in known:
            return symbol[: -len(quote)], quote
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return "base", "quote"


_QUOTES = ("FDUSD", "USDT", "USDC", "TUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY", "DAI")


def _print_pairs(pairs: Mapping[str, PairView], assets: Collection[str] = ()) -> None:
    """One line per pair; sizes and positions in their asset, prices in the quote asset."""
    for sym, p in pairs.items():
        cfg = p.config
        base, quote = _assets(sym, assets)
        market = f"{p.bid} / {p.ask} {quote}" if p.bid else "no market yet"
        size = f"{cfg.size} {quote if cfg.size_unit == 'quote' else base}"
        spread = (
            f"spread {cfg.bid_spread}/{cfg.ask_spread}"
            if cfg.model == "fixed"
            else f"model {cfg.model} gamma {cfg.gamma:g}"  # its spreads move with the volatility and inventory
        )
        print(
            f"{sym:<10} {p.state:<8} {p.reason[:40]:<40} {market:<28} orders {p.open_orders}  "
            f"fills {p.fills}  position {p.position} {base}  {spread} size {size} levels {cfg.levels}"
        )
        if len(p.reason) > 40:  # the table cuts it: the whole reason, which says why the pair does not quote
            print(f"{'':<10} why: {p.reason}")


def _print_pnl(pnl: Mapping[str, PairPnl]) -> None:
    """One line per pair that has traded: its PnL and the parts it adds up from, in its quote asset."""
    for sym, p in pnl.items():
        if not p.fills:
            continue
        q = p.quote_asset
        rebalance = f" ({p.rebalance_fills} rebalance fills)" if p.rebalance_fills else ""
        print(
            f"PnL {sym:<10} {p.pnl:,.4f} {q} = spread capture {p.spread_capture:,.4f} + inventory "
            f"{p.inventory_pnl:,.4f} - fees {p.fees:,.4f} - rebalance cost {p.rebalance_cost:,.4f}{rebalance}"
        )


def cmd_status(args: argparse.Namespace) -> int:
    """Print the service's engine state and its pairs."""
    snap: Snapshot = _call(args, lambda c: c.snapshot())
    st = snap.status
    print(f"engine {st.state} on {st.venue}; {st.events} events, {st.reconnects} reconnects")
    for header, use in st.rate_limits.items():
        print(f"  {header}: {use.used}/{use.limit}")
    if st.rate_plan is not None:
        print(f"rate limits (the venue's exchangeInfo), from {st.rate_plan.source}:")
        for line in plan_lines(st.rate_plan):
            print(line)
    _print_pairs(snap.pairs, snap.balances)
    _print_pnl(snap.pnl)
    for asset, b in snap.balances.items():
        print(f"  {asset:<6} free {b.free}  locked {b.locked}")
    for err in st.errors[-5:]:
        print(f"  error: {err}")
    return 0


def _pair_call(args: argparse.Namespace, fn: Any) -> tuple[PairView, dict[str, Any]]:
    """``fn(client, symbol)`` on a pair named as Binance writes it (checked first: ``BTC/USDT`` is
    refused with the configured pairs named), with the account's assets (for units)."""
    import asyncio

    symbol = args.symbol.strip().upper()

    async def main() -> tuple[PairView, dict[str, Any]]:
        async with _client(args) as c:
            if not _SYMBOL_RE.fullmatch(symbol):
                known = ", ".join(sorted(await c.pairs())) or "none"
                raise LiqkitError(
                    f"symbol {args.symbol!r}: write it as Binance does, letters and digits only, e.g. BTCUSDT "
                    f"(configured: {known})"
                )
            view, balances = await asyncio.gather(fn(c, symbol), c.balances())
            return view, balances

    return asyncio.run(main())


_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,30}")


def cmd_pairs(args: argparse.Namespace) -> int:
    """Print the configured pairs."""
    import asyncio

    async def main() -> tuple[dict[str, PairView], dict[str, Any]]:
        async with _client(args) as c:
            pairs, balances = await asyncio.gather(c.pairs(), c.balances())
            return pairs, balances

    pairs, balances = asyncio.run(main())
    _print_pairs(pairs, balances)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start quoting a pair in the service."""
    view, balances = _pair_call(args, lambda c, s: c.run(s))
    _print_pairs({view.symbol: view}, balances)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop quoting a pair in the service and wait (up to ``--wait`` seconds) until its orders are cancelled."""
    import asyncio
    import time

    async def stop_and_wait(c: Any, symbol: str) -> PairView:
        view: PairView = await c.stop(symbol)
        end = time.monotonic() + args.wait
        while view.open_orders and time.monotonic() < end:
            await asyncio.sleep(0.2)
            view = await c.pair(symbol)
        return view

    view, balances = _pair_call(args, stop_and_wait)
    _print_pairs({view.symbol: view}, balances)
    if view.open_orders:
        print(f"{view.symbol}: stopped; {view.open_orders} orders still being cancelled (see `liqkit status`)")
    else:
        print(f"{view.symbol}: stopped; every order cancelled, 0 left open")
    return 0


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values read as TOML (2, 0.5, true, "x"), else as plain strings (5bps).

    A key that is not a pair setting is refused with the valid keys listed; an empty value, or a number
    that is not finite (nan, inf), with the key named: nothing is sent to the service then.
    """
    import tomllib

    keys = _pair_keys()
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise LiqkitError(f"{item!r}: write key=value, e.g. spread=5bps levels=2")
        if key not in keys:
            raise LiqkitError(f"{key}: not a pair setting; valid keys: {', '.join(keys)}")
        if not raw:
            raise LiqkitError(f"{key}: no value after '=': write {key}=VALUE, e.g. levels=2 or spread=5bps")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except ValueError:  # TOMLDecodeError, or an integer too long to convert: the service judges the text
            value = raw
        if isinstance(value, float) and not math.isfinite(value):
            raise LiqkitError(f"{key} = {raw}: not a finite number: give a plain number such as 0.5")
        if isinstance(value, str) and value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise LiqkitError(f"{key} = {raw}: not a finite number: give a plain number such as 0.5")
        if isinstance(value, (dict, list)) or hasattr(value, "isoformat"):
            raise LiqkitError(f"{key} = {raw}: give one number, word or distance (e.g. 0.5, true, 5bps)")
        out[key] = value
    return out


def _pair_keys() -> tuple[str, ...]:
    from liqkit.domain.config import PairConfig

    return ("spread", *sorted(k for k in PairConfig.model_fields if k != "symbol"))


def cmd_config(args: argparse.Namespace) -> int:
    """Change a pair's config in the service without stopping it; without changes, print all of it."""
    changes = parse_assignments(args.changes)
    if changes:
        view, balances = _pair_call(args, lambda c, s: c.configure(s, changes))
        _print_pairs({view.symbol: view}, balances)
        return 0
    view, balances = _pair_call(args, lambda c, s: c.pair(s))
    _print_pairs({view.symbol: view}, balances)
    settings = view.config.model_dump(mode="json")
    width = max(len(k) for k in settings)
    for key, value in settings.items():
        print(f"  {key:<{width}} = {'(none)' if value is None else value}")
    return 0


def register_service_commands(sub: Any) -> None:
    """Add status, pairs, run, stop and config to liqkit's subcommands."""
    for name, func, text in (
        ("status", cmd_status, "the running service's engine, pairs and balances"),
        ("pairs", cmd_pairs, "the running service's pairs"),
        ("run", cmd_run, "start quoting a pair in the running service"),
        ("stop", cmd_stop, "stop quoting a pair and wait until its orders are cancelled"),
        ("config", cmd_config, "change a pair's config without stopping it, or print all of it"),
    ):
        c = sub.add_parser(name, help=text)
        if name in ("run", "stop", "config"):
            c.add_argument("symbol", help="a configured pair, as Binance writes it: BTCUSDT (not BTC/USDT)")
        if name == "stop":
            c.add_argument(
                "--wait",
                type=cli_args.seconds,
                default=15.0,
                help="seconds to wait for the venue to confirm the cancels (default 15; 0: do not wait)",
            )
        if name == "config":
            c.add_argument(
                "changes",
                nargs="*",
                metavar="KEY=VALUE",
                help="settings of a [pairs.SYMBOL] table, e.g. spread=5bps levels=2 skew=0.5 "
                "(none: print every setting of the pair)",
            )
        c.add_argument(
            "--state-dir", type=cli_args.folder, help="the service's state directory (default: liqkit-state)"
        )
        c.add_argument("--url", help="the service's URL instead of a state directory")
        c.add_argument("--token", help="with --url (or LIQKIT_TOKEN)")
        c.set_defaults(func=func)
