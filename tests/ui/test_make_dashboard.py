"""`make dashboard` installs what the dashboard needs (the notebook extra), shows pip's progress and says why
it takes a while; the dev install (`make install`/`make test`) is a superset and satisfies it.

The Makefile is read by make itself in dry-run mode (`make -n`: commands printed, none run) on a real,
empty virtual environment made for the test.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from packaging.requirements import Requirement
from uihelpers import REPO

from liqkit.dashboard import NEEDS


def dry_run(venv_dir: Path, target: str) -> list[str]:
    """The commands `make` would run for ``target`` with ``VENV=venv_dir`` (nothing is run)."""
    cmd = ["make", "-n", "--no-print-directory", "-C", str(REPO), target, f"VENV={venv_dir}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line.strip()]


def test_make_dashboard_installs_the_notebook_extra_with_progress_and_says_why(tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)  # a real interpreter for make's order-only prerequisite
    lines = dry_run(env, "dashboard")
    installs = [line for line in lines if "pip install" in line]
    assert installs == [f"{env}/bin/python -m pip install -e '.[notebook]'"]  # pip's progress shows (no --quiet)
    assert not [line for line in lines if "[dev" in line]
    says = [line for line in lines if line.startswith("echo ") and "notebook extra" in line]
    assert len(says) == 1 and "mypyc" in says[0] and "minutes" in says[0]
    assert lines.index(says[0]) < lines.index(installs[0])  # said before pip starts
    assert lines[-1] == f"{env}/bin/liqkit dashboard"

    # installed: nothing more to do
    (env / ".dashboard").touch()
    assert dry_run(env, "dashboard") == [f"{env}/bin/liqkit dashboard"]


def test_the_dev_install_stamps_the_dashboard_too(tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)
    lines = dry_run(env, "install")
    assert f"{env}/bin/python -m pip install --quiet -e '.[dev]'" in lines  # make install/test: unchanged
    assert f"touch {env}/.installed {env}/.dashboard" in lines
    for stamp in (".installed", ".dashboard"):  # as that recipe leaves them
        (env / stamp).touch()
    assert dry_run(env, "dashboard") == [f"{env}/bin/liqkit dashboard"]
    assert not [line for line in dry_run(env, "test") if "pip install" in line]


def _name(s: str) -> str:
    return re.sub(r"[-_.]+", "-", s).lower()


def _extras() -> tuple[list[Requirement], dict[str, list[Requirement]]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = {k: [Requirement(r) for r in v] for k, v in project["optional-dependencies"].items()}
    return [Requirement(r) for r in project["dependencies"]], extras


def test_dev_is_a_superset_of_the_notebook_extra():
    _, extras = _extras()
    dev = {_name(r.name): r.specifier for r in extras["dev"]}
    for r in extras["notebook"]:
        assert _name(r.name) in dev and dev[_name(r.name)] == r.specifier, r


def _closure(reqs: list[Requirement]) -> set[str]:
    """The distributions ``reqs`` bring in, with what they require in turn (as installed here)."""
    todo, seen = [_name(r.name) for r in reqs], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for spec in requires:
            r = Requirement(spec)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(_name(r.name))
    return seen


def _imports(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (in functions too)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_the_notebook_extra_covers_what_liqkit_dashboard_runs_and_imports():
    # the liqkit modules `liqkit dashboard` and the operations notebook load (found by loading them)
    code = "import json, sys, liqkit.dashboard, liqkit.ui; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    sources = []
    for name in loaded:
        if name == "liqkit" or name.startswith("liqkit."):  # the source, also of a module loaded compiled
            base = REPO / name.replace(".", "/")
            path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
            sources.append(path.read_text())
    assert len(sources) > 20
    nb = json.loads((REPO / "notebooks" / "operations.ipynb").read_text())
    sources += ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    third_party = set().union(*map(_imports, sources)) - set(sys.stdlib_module_names) - {"liqkit"}
    assert {"ipywidgets", "plotly", "anywidget", "nbformat"} <= third_party | set(NEEDS)

    core, extras = _extras()
    provided = _closure(core + extras["notebook"])
    dists = md.packages_distributions()
    for module in third_party | set(NEEDS):
        owners = {_name(d) for d in dists.get(module, [])}
        assert owners, f"{module} is imported but no installed distribution provides it"
        assert owners & provided, f"{module} ({owners}) is not brought in by liqkit's dependencies + [notebook]"
    # the two programs the dashboard runs are asked for by name, not left to other packages' choices
    assert {"voila", "ipykernel"} <= {_name(r.name) for r in extras["notebook"]}
