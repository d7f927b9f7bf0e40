"""Tell whether the hot path runs compiled, and catch a stale build.

A compiled module (``.so``) shadows its ``.py`` source: after editing a hot module without
re-installing, Python would silently keep running the old code. ``check_fresh`` compares times.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from pathlib import Path

HOT = (
    "liqkit.domain.filters",
    "liqkit.quoting",
    "liqkit.risk",
    "liqkit.engine.core",
    "liqkit.engine.state",
    "liqkit.engine.intents",
    "liqkit.engine.ids",
    "liqkit.engine.records",
    "liqkit.engine.execution",
    "liqkit.engine.latency",
    "liqkit.venues.sim.exchange",
    "liqkit.venues.sim.timeline",
    "liqkit.backtest.driver",
)


def compiled_modules() -> dict[str, bool]:
    """For each hot module, whether it was loaded from a compiled extension."""
    out = {}
    for name in HOT:
        mod = importlib.import_module(name)
        out[name] = not str(getattr(mod, "__file__", "")).endswith(".py")
    return out


def is_compiled() -> bool:
    """Whether the whole hot path is compiled."""
    return all(compiled_modules().values())


def check_fresh() -> list[str]:
    """Warn about (and return) compiled modules older than their source: re-install to rebuild."""
    stale = []
    for name in HOT:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or spec.origin.endswith(".py"):
            continue
        so = Path(spec.origin)
        src = so.parent / (name.rsplit(".", 1)[-1] + ".py")
        if src.exists() and src.stat().st_mtime > so.stat().st_mtime + 1:
            stale.append(name)
    if stale:
        warnings.warn(
            f"liqkit: compiled modules older than their source: {', '.join(stale)}; "
            "run `make` (or `pip install -e .`) to rebuild, or remove the .so files",
            stacklevel=2,
        )
    return stale
