"""Build hook: compile the hot path with mypyc (the same typed source, as C extensions).

The engine core, quoting pipeline, simulated exchange and backtest loop run per market event;
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
    "liqkit/venues/sim/exchange.py",
    "liqkit/backtest/driver.py",
]

ext_modules = []
if os.environ.get("LIQKIT_PURE_PYTHON", "") != "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(HOT_MODULES, opt_level="3", verbose=False)

setup(ext_modules=ext_modules)
