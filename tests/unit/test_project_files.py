"""Project files stay honest: environment.yml in step with pyproject, CI calls the README's test command."""

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _req(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(>=\s*[0-9][^\s;,#]*)?", spec)
    assert m, spec
    return m.group(1).lower(), (m.group(2) or "").replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_req(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = dict(_req(s) for s in env["dependencies"] if isinstance(s, str))
    conda.pop("python"), conda.pop("pip"), conda.pop("gcc")
    assert conda == wanted
    assert {"pip": ["-e ."]} in env["dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make dashboard" in first_block and "make test" in first_block and "make backtest" in first_block
    assert "make test" in (REPO / ".ci/run").read_text()


def test_no_package_registry_host_is_named():
    hosts = ["pypi" + ".org", "files." + "pythonhosted.org", "registry." + "npmjs.org", "deb." + "debian.org"]
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert files, "git lists no files"
    for name in files:
        p = REPO / name
        if p.suffix in (".gz", ".so", ".zip") or not p.is_file():
            continue
        text = p.read_text(errors="ignore")
        for h in hosts:
            assert h not in text, f"{name} names {h}"


def test_shipped_data_has_its_notices():
    notice = (REPO / "liqkit/data/samples/NOTICE.md").read_text()
    assert "MIT License" in notice and "Bryant Moscon (http://www.bryantmoscon.com/)" in notice
    assert "Bryant Moscon (http://www.bryantmoscon.com/)" in (REPO / "README.md").read_text()
