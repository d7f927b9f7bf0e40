"""``liqkit preflight``: the pre-flight table of a config on its venue, before anything is sent.

``liqkit preflight [--config FILE] [--venue VENUE] [--data PATH] [--speed X] [--json]`` gathers the
venue's rules, balances, recent market and declared rate limits (``liqkit.venues.survey``: without a
config, the simulated exchange with BTCUSDT and ETHUSDT, as ``liqkit serve`` starts; no keys, no
network), computes the table (``liqkit.preflight``) and prints it, or one JSON object with ``--json``.
Exit status 0 when every quote would go out as configured and no rate limit nears, 1 when something
would be refused or a limit warns, 2 for bad input (one line on stderr, ``liqkit.cli.main``).

``plan_lines`` words a rate plan; ``liqkit status`` prints the engine's with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liqkit import cli_args
from liqkit.domain.errors import DataError, LiqkitError

if TYPE_CHECKING:
    from liqkit.preflight import PairPreflight, Preflight
    from liqkit.rateplan import RatePlan

EXIT_REFUSED = 1


def plan_lines(plan: RatePlan, indent: str = "  ") -> list[str]:
    """A rate plan as lines: one per declared limit, then its warnings."""
    if not plan.limits:
        return [f"{indent}the venue declares no rate limits (exchangeInfo rateLimits): nothing to plan against"]
    width = max(len(lp.limit) for lp in plan.limits)
    out = []
    for lp in plan.limits:
        figures = f"{lp.predicted:>9,} of {lp.allowed:<9,} {lp.share:>5.0%}"
        out.append(f"{indent}{lp.limit:<{width}}  {figures}  {lp.level:<7}  {lp.basis}")
    out += [f"{indent}warning: {w}" for w in plan.warnings]
    return out


def _pair_lines(p: PairPreflight) -> list[str]:
    q, b = p.quote_asset, p.base_asset
    market = f"{p.bid} / {p.ask} {q}" if p.bid else "no market"
    out = [f"{p.symbol:<10} market {market}" + (f" ({p.market})" if p.market else "")]
    f = p.filters
    if f is not None:
        qty = f"qty {f.min_qty} to {f.max_qty} {b}" if f.max_qty else f"qty from {f.min_qty} {b}"
        parts = [f"tick {f.tick} {q}", f"step {f.step} {b}", qty]
        if f.min_notional:
            parts.append(f"min notional {f.min_notional} {q}")
        if f.max_notional:
            parts.append(f"max notional {f.max_notional} {q}")
        if f.max_orders:
            parts.append(f"max {f.max_orders} open orders")
        if f.iceberg_parts:
            parts.append(f"iceberg parts at most {f.iceberg_parts}")
        out.append("  filters  " + " · ".join(parts))
        if f.percent_price:
            bb, ab = f.bid_band, f.ask_band
            band = f" (now bids {bb[0]} to {bb[1]}, asks {ab[0]} to {ab[1]})" if bb and ab else ""
            out.append("           " + f.percent_price + band)
    out.append(f"  size     {p.size} a quote")
    if p.quotes:
        ice = any(c.iceberg_qty for c in p.quotes)
        head = f"{'price (' + q + ')':>16}  {'qty (' + b + ')':>14}  {'value (' + q + ')':>14}"
        if ice:
            head += f"  {'shown (' + b + ')':>14}  parts"
        out.append(f"  side  level  {head}  sent")
        for c in p.quotes:
            sent = "yes" if c.funded and not c.refusals else (f"{c.placed_qty} {b}" if c.placed_qty != "0" else "no")
            row = f"  {c.side:<4}  {c.level:>5}  {c.price:>16}  {c.qty:>14}  {c.notional:>14}"
            if ice:
                row += f"  {c.iceberg_qty or 'all':>14}  {c.iceberg_parts or 1:>5}"
            out.append(f"{row}  {sent}")
    for s in (p.bids, p.asks):
        if s is not None:
            out.append(
                f"  funded   {'bids' if s.side == 'BUY' else 'asks'}: {s.funded} of {s.levels} levels in full "
                f"({s.available} {s.asset} pays for {s.fundable:,} orders of level 0's size); {s.placed} placed"
            )
    r = p.rate
    if r is not None:
        out.append(
            f"  rate     refresh_tolerance on {r.sample_s:,.0f} s of {r.source}: {r.refreshes:,} refreshes, "
            f"{r.touches:,} touches, {r.orders:,} orders, {r.cancels:,} cancels = {r.orders_per_min:,.1f} "
            f"orders a minute, busiest 10 s {r.busiest_10s:,}, {r.orders_per_day:,} a day"
        )
    why = [(f"{c.side} {c.level}: ", w) for c in p.quotes for w in c.refusals]
    why = [("", w) for w in p.refusals] + why
    if not why:
        out.append("  refused  nothing: every level goes out as configured")
    for where, w in why:
        out.append(f"  refused  {where}{w.code}: {w.message} [{w.field}]")
    return out


def report_lines(report: Preflight) -> list[str]:
    """The whole table as text."""
    n = len(report.pairs)
    out = [f"liqkit preflight: {n} pair{'' if n == 1 else 's'} on {report.venue} (nothing is sent)", ""]
    for p in report.pairs.values():
        out += [*_pair_lines(p), ""]
    out.append(f"rate limits (the venue's exchangeInfo), from {report.rate_plan.source}:")
    out += plan_lines(report.rate_plan)
    if report.observed is not None:
        out += [f"rate limits, from {report.observed.source}:", *plan_lines(report.observed)]
    n_refused = sum(len(p.refusals) + sum(len(c.refusals) for c in p.quotes) for p in report.pairs.values())
    n_warn = len(report.rate_plan.warnings)
    out.append(
        "result: ok: every quote goes out as configured, no rate limit near"
        if report.ok
        else f"result: not ok: {n_refused} refusals, {n_warn} rate-limit warnings"
    )
    return out


def cmd_preflight(args: argparse.Namespace) -> int:
    """Print the pre-flight table of the config (or the default) on its venue."""
    import asyncio
    import json

    from liqkit.domain.config import load_config
    from liqkit.preflight import preflight
    from liqkit.service.defaults import default_config
    from liqkit.venues.survey import survey

    cfg = load_config(args.config) if args.config else default_config()
    if args.venue:
        cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update=cli_args.venue_override(args.venue))})
    if not cfg.pairs:
        raise LiqkitError(f"{args.config}: no [pairs.SYMBOL] table: configure at least one pair")
    data = None
    if args.data:
        from liqkit.data.loader import load_market_data

        try:
            data = load_market_data(args.data, symbol=args.symbol)
        except DataError as e:
            raise DataError(f"--data: {e}") from None
    pairs = list(cfg.pairs.values())
    found = asyncio.run(survey(cfg, [p.symbol for p in pairs], data, args.speed))
    report = preflight(pairs, found.rules, found.balances, found.markets, found.limits, found.venue,
                       cfg.engine.risk.max_loss)  # fmt: skip
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), sort_keys=True))
    else:
        print("\n".join(report_lines(report)))
    return 0 if report.ok else EXIT_REFUSED


def register(sub: Any) -> None:
    """Add ``preflight`` to liqkit's subcommands."""
    pf = sub.add_parser(
        "preflight",
        help="the pre-flight table: what a config would quote, what the balances fund, the order rate and "
        "every reason a quote would be refused, before anything is sent",
        epilog="exit status: 0 when every quote goes out as configured and no rate limit nears; 1 when something "
        "would be refused or a rate limit warns; 2 for bad input",
    )
    pf.add_argument(
        "--config", type=Path, help="TOML config; without one, the simulated exchange with BTCUSDT, ETHUSDT"
    )
    pf.add_argument(
        "--venue", type=cli_args.venue, help="sim, binance-testnet, binance-demo, binance-live, or a sim-server URL"
    )
    pf.add_argument("--data", type=Path, help="measure the market's movement on this recording (as backtest reads)")
    pf.add_argument("--symbol", help="symbol of --data when it cannot be told from the file")
    pf.add_argument(
        "--speed", type=cli_args.speed, default=1.0, help="the simulated market's speed, as `liqkit serve --speed`"
    )
    pf.add_argument("--json", action="store_true", help="print one JSON object")
    pf.set_defaults(func=cmd_preflight)
