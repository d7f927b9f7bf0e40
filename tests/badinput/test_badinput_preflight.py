"""Bad input to ``liqkit preflight``, table-driven (issue 15: the pre-flight slice; the table is
TABLE_preflight.md beside this file).

Each row runs a real ``liqkit preflight`` process (in an empty folder: no ``.env``) and asserts: exit status
2, one line on stderr naming the field or flag and the fix, no traceback, nothing on stdout, nothing written.
The venue rows use a real ``liqkit sim-server`` process on 127.0.0.1.

``python tests/badinput/test_badinput_preflight.py`` prints the rows' answers as the table's cells.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

if __name__ == "__main__":  # run as a script: the helpers beside the tests
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest
from processes import ProcessOutput, accepts, free_port, wait_for

SAMPLE = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples" / "btcusdt_20240808.gz"
KEY, SECRET = "k" * 24, "s" * 48
NO_KEYS = {k: v for k, v in os.environ.items() if k not in ("BINANCE_API_KEY", "BINANCE_API_SECRET")}

# (row name, config file text or None, extra arguments, words the one line must hold); {dir} is the row's folder,
# {url} the local Binance's URL
ROWS: list[tuple[str, str | None, list[str], list[str]]] = [
    ("a config path that does not exist", None, ["--config", "{dir}/missing.toml"],
     ["cannot read config file", "missing.toml", "No such file or directory", "give the path of an existing TOML"]),
    ("a config path that is a folder", None, ["--config", "{dir}"], ["is a folder", "give a .toml file"]),
    ("malformed TOML", "[pairs.BTCUSDT\nsize = 1\n", [], ["is not valid TOML", "line 1"]),
    ("a bad value", '[pairs.BTCUSDT]\nspread = "-2bps"\n', [],
     ["pairs.BTCUSDT.spread", "'-2bps'", "negative", "e.g. '10bps'"]),
    ("an unknown key", '[pairs.BTCUSDT]\nsprad = "2bps"\n', [], ["pairs.BTCUSDT.sprad", "unknown key", "valid keys"]),
    ("a pair the simulated exchange does not list", "[pairs.NOPEUSDT]\n", [],
     ["pairs.NOPEUSDT", "the simulated exchange does not list it", "e.g. BTCUSDT", "remove its [pairs.NOPEUSDT]"]),
    ("a pair the local Binance does not list", "[pairs.BTCUSDT]\n[pairs.NOPEUSDT]\n", ["--venue", "{url}"],
     ["pairs.NOPEUSDT", "not in the venue's exchangeInfo", "remove its [pairs.NOPEUSDT] table"]),
    ("no pair at all", '[engine]\nvenue = "sim"\n', [], ["no [pairs.SYMBOL] table", "configure at least one pair"]),
    ("a recording that does not exist", None, ["--data", "{dir}/nope.gz"],
     ["--data", "nope.gz", "no such file or folder"]),
    ("a recording of a pair the config does not quote", "[pairs.ETHUSDT]\n", ["--data", str(SAMPLE)],
     ["--data", "of BTCUSDT", "add [pairs.BTCUSDT]"]),
    ("a speed of 0", None, ["--speed", "0"], ["--speed", "above 0"]),
    ("an unknown venue", None, ["--venue", "binance"], ["--venue", "'binance'", "server URL"]),
    ("a Binance venue without API keys", None, ["--venue", "binance-testnet"],
     ["BINANCE_API_KEY and BINANCE_PRIVATE_KEY_PATH (an Ed25519 or RSA private key file) or "
            "BINANCE_API_SECRET (HMAC) not set", ".env"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def local_binance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `liqkit sim-server` (BTCUSDT) on 127.0.0.1; its URL."""
    yield from _local_binance(tmp_path_factory.mktemp("binance"))


def _local_binance(folder: Path) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--symbols", "BTCUSDT",
           "--api-key", KEY, "--api-secret", SECRET]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder)
    out = ProcessOutput(server)
    try:
        out.wait_for_line(lambda ln: "Binance spot API" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        out.finish()


def run_row(folder: Path, config: str | None, extra: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """``liqkit preflight`` in ``folder`` with the row's config (if any) and arguments."""
    args = [a.format(dir=folder, url=url) for a in extra]
    if config is not None:
        (folder / "c.toml").write_text(config)
        args = ["--config", str(folder / "c.toml"), *args]
    env = dict(NO_KEYS)
    if "--venue" in extra and "{url}" in extra:
        env.update(BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET)
    cmd = [sys.executable, "-m", "liqkit.cli", "preflight", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=folder, env=env)


@pytest.mark.parametrize(("name", "config", "extra", "words"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_naming_the_field_and_the_fix(name, config, extra, words, tmp_path, request):
    url = request.getfixturevalue("local_binance") if "{url}" in extra else ""
    before = {p.name for p in tmp_path.iterdir()}
    p = run_row(tmp_path, config, extra, url)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("liqkit preflight: error: "), p.stderr
    for w in words:
        assert w in p.stderr, (w, p.stderr)
    assert {x.name for x in tmp_path.iterdir()} <= before | {"c.toml"}  # nothing written


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as top:
        server = _local_binance(Path(top))
        url = next(server)
        for i, (name, config, extra, _) in enumerate(ROWS):
            folder = Path(top) / f"row{i}"
            folder.mkdir()
            p = run_row(folder, config, extra, url)
            shown = p.stderr.strip().replace(str(folder), "DIR").replace(url, "URL").replace(str(SAMPLE), "SAMPLE")
            print(f"| {name} | exit {p.returncode}: `{shown}` |")
        server.close()
