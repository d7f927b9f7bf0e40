"""The compiled hot path is listed in three places (the build, the Makefile, the stale-build check): they agree."""

import re
from pathlib import Path

from liqkit._compiled import HOT

ROOT = Path(__file__).resolve().parents[2]


def test_setup_makefile_and_compiled_list_the_same_hot_modules() -> None:
    setup = re.findall(r'"(liqkit/[^"]+\.py)"', (ROOT / "setup.py").read_text())
    block = re.search(r"^HOT :=(.*?)\n\n", (ROOT / "Makefile").read_text(), re.S | re.M)
    assert block is not None, "Makefile has no HOT := list"
    make = block.group(1).replace("\\\n", " ").split()
    modules = [m.replace(".", "/") + ".py" for m in HOT]
    assert sorted(setup) == sorted(make) == sorted(modules)
    assert all((ROOT / p).is_file() for p in setup)
