"""Build hook: compile the hot path with mypyc (the same typed source, as C extensions).

The engine core and its execution, the quoting pipeline, the simulated exchange and its timeline,
and the backtest loop run per market event or order;
compiled they run several times faster (see ``make bench``). ``LIQKIT_PURE_PYTHON=1`` skips
compilation and installs the plain Python modules, which behave identically.
"""

import os

from setuptools import setup

HOT_MODULES = [
    "liqkit/domain/filters.py",
    "liqkit/quoting.py",
    "liqkit/risk.py",
    "liqkit/engine/core.py",
    "liqkit/engine/state.py",
    "liqkit/engine/intents.py",
    "liqkit/engine/ids.py",
    "liqkit/engine/records.py",
    "liqkit/engine/execution.py",
    "liqkit/engine/latency.py",
    "liqkit/venues/sim/exchange.py",
    "liqkit/venues/sim/timeline.py",
    "liqkit/backtest/driver.py",
]

ext_modules = []
if os.environ.get("LIQKIT_PURE_PYTHON", "") != "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(HOT_MODULES, opt_level="3", verbose=False)

setup(ext_modules=ext_modules)
