"""notebooks/operations.ipynb passes nbval against a service this test starts, fails without one,
and is committed without outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from uihelpers import REPO

NOTEBOOK = REPO / "notebooks" / "operations.ipynb"


def nbval(state_dir, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIQKIT_STATE_DIR": str(state_dir)}
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", str(NOTEBOOK), "-p", "no:xdist", "-p", "no:cacheprovider",
           "-q", "--rootdir", str(NOTEBOOK.parent)]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=NOTEBOOK.parent)


def test_notebook_runs_under_nbval_against_a_service(service):
    _, _, state = service
    r = nbval(state)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "2 passed" in r.stdout


def test_notebook_fails_under_nbval_without_a_service(tmp_path):
    r = nbval(tmp_path / "nothing-here")
    assert r.returncode != 0
    assert "no liqkit service answered" in r.stdout


def test_notebook_is_committed_without_outputs_and_is_thin():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert sum(len("".join(c["source"]).splitlines()) for c in code) <= 10
