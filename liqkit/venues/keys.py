"""API keys: from the environment or a ``.env`` file, never printed, logged or journaled."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from liqkit.domain.errors import ConfigError


@dataclass(frozen=True)
class ApiKeys:
    """A key pair whose repr hides both values."""

    key: str = field(repr=False)
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "ApiKeys(key=***, secret=***)"


def load_api_keys(env_file: str | Path | None = ".env", prefix: str = "BINANCE") -> ApiKeys:
    """``<prefix>_API_KEY`` and ``<prefix>_API_SECRET`` from the environment, else from ``env_file``."""
    names = (f"{prefix}_API_KEY", f"{prefix}_API_SECRET")
    values = {n: os.environ.get(n, "") for n in names}
    if not all(values.values()) and env_file is not None and Path(env_file).is_file():
        file_values = dotenv_values(env_file)
        for n in names:
            values[n] = values[n] or (file_values.get(n) or "")
    missing = [n for n in names if not values[n]]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set: export them or put them in a .env file beside where you run liqkit "
            "(for the testnet, create keys at the Binance spot testnet site)"
        )
    return ApiKeys(values[names[0]], values[names[1]])
