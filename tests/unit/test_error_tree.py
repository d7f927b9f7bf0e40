"""One error tree: every exception liqkit raises on purpose is a LiqkitError, listed in errors.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from decimal import Decimal

import pytest

import liqkit
import liqkit.domain.errors as errors
from liqkit.domain.config import LiqkitConfig, PairConfig
from liqkit.domain.errors import ConfigError, LiqkitError
from liqkit.service.host import ServiceHost
from liqkit.service.serve import serve


def liqkit_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a liqkit module (by its name)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(liqkit.__path__, "liqkit."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[name] = obj
    return found


def test_every_liqkit_exception_is_in_the_tree_and_documented():
    classes = liqkit_exception_classes()
    for name in ("ServiceError", "StateDirBusy", "JournalError", "AuthError", "EventFormatError", "ConfigError"):
        assert name in classes, name  # the walk found the classes the issue names
    for name, cls in classes.items():
        assert issubclass(cls, LiqkitError), f"{cls.__module__}.{name} is outside the LiqkitError tree"
        assert f" {name} " in errors.__doc__, f"{name} is not in liqkit/domain/errors.py's tree"


def test_the_service_refuses_a_bad_speed_port_or_state_dir_before_touching_anything(tmp_path):
    cfg = LiqkitConfig(pairs={"BTCUSDT": PairConfig(symbol="BTCUSDT", size=Decimal("0.001"))})
    for speed in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=r"speed = .*: give a finite number above 0"):
            ServiceHost(cfg, tmp_path / "s", speed=speed)
    assert not (tmp_path / "s").exists()
    (tmp_path / "file").write_text("x")
    for where in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(LiqkitError, match=r"is a file|cannot be created"):
            ServiceHost(cfg, where)
    assert (tmp_path / "file").read_text() == "x"
    for port in (-5, 65536, 99999):
        with pytest.raises(LiqkitError, match=f"--port {port}: give a whole number from 1 to 65535"):
            serve(cfg, tmp_path / "p", port=port)
    assert not (tmp_path / "p").exists()
