"""Shared fixtures: the real recording shipped with liqkit, real REST answers from ../shared."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def sample_data():
    """The real 10 min 51 s BTCUSDT recording shipped in the package."""
    from liqkit.data.capture import load_sample

    return load_sample()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository (CI puts it there); its absence is a failure, not a skip."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared is missing: expected {SHARED}")
    return SHARED
