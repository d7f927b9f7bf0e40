"""Fixtures of the UI tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from processes import start_service, stop_service


@pytest.fixture
def service(tmp_path: Path):
    """A `liqkit serve` on the simulated exchange at speed 10; (process, url, state dir)."""
    state = tmp_path / "svc"
    proc, url = start_service(state, "--speed", "10")
    assert json.loads((state / "service.json").read_text())["url"] == url
    yield proc, url, state
    stop_service(proc)
