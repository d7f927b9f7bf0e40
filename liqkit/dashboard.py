"""``liqkit dashboard``: the operations notebook served by Voila, on a ``liqkit serve`` service.

It uses the service already running on the state directory (``service.json`` plus an ``/api/status``
call that answers with the directory's token), or starts one (the simulated exchange by default;
``--venue``/``--config`` for the Binance testnet), then starts Voila on 127.0.0.1 with a token (kept
in a 0600 config file, out of ``ps``), sources stripped, offline messages not buffered, two preheated
kernels, and prints the URL with the token. Ctrl-C (or SIGTERM) stops Voila and the service it started
(the service cancels its orders); a service it did not start is left running.

Voila's start-up is quiet unless something is wrong: the kernels' channels are encrypted (CurveZMQ,
where the kernel supports it, so ipykernel does not warn about plain TCP), the notebook is signed as
trusted in a notary of its own (``<state-dir>/voila``, so jupyter_server does not warn that it is
untrusted), no browser is opened, and one known false alarm is filtered from the log (``ExpectedNoise``).
Errors and every other warning still reach stderr.

It installs nothing: ``make dashboard`` installs the notebook extra first.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from liqkit import cli_args
from liqkit.domain.errors import LiqkitError

DEFAULT_PORT = 8866
# what the dashboard runs and imports beyond liqkit's own dependencies: the notebook extra provides them
NEEDS = ("voila", "ipykernel", "nbformat", "ipywidgets", "plotly", "anywidget")
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "operations.ipynb"
START_TIMEOUT_S = 60.0


def service_answering(state_dir: Path, timeout: float = 3.0) -> str | None:
    """The URL of the service running on ``state_dir`` if it answers ``/api/status`` with its token."""
    try:
        info = json.loads((state_dir / "service.json").read_text())
        token = (state_dir / "token").read_text().strip()
        url = str(info["url"]).rstrip("/")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    req = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return url if r.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def start_service(
    state_dir: Path, config: Path | None, venue: str | None, speed: float, run: str | None
) -> tuple[subprocess.Popen[str], str]:
    """Start ``liqkit serve`` on ``state_dir`` (a free port) in its own process group; (process, URL)."""
    cmd = [sys.executable, "-m", "liqkit.cli", "serve", "--state-dir", str(state_dir), "--port", "0"]
    cmd += ["--speed", str(speed)]
    if config is not None:
        cmd += ["--config", str(config)]
    if venue:
        cmd += ["--venue", venue]
    if run:
        cmd += ["--run", run]
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "service.log"
    with open(log, "w") as err:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the service's first line names its URL (or it failed)
    if "liqkit serve:" not in line or " on http" not in line:
        stop_process(proc, "liqkit serve")
        raise LiqkitError(f"liqkit serve did not start: {(line + log.read_text()).strip()[-800:] or 'no output'}")
    url = line.split(" on ", 1)[1].split(" ", 1)[0]
    return proc, url


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ExpectedNoise(logging.Filter):
    """Drops the log records of Voila's process that are expected here and alarm a trader for nothing.

    Only one: tornado (6.5 and later) warns, when the first page's kernel websocket opens, that
    jupyter_server's websocket ping timeout (90000) is longer than its interval (30000): jupyter_server
    passes milliseconds where tornado reads seconds, and keeps its own 30 s ping, which is unaffected
    (jupyter_server issue 1612). Every other record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and str(record.msg).startswith("The websocket_ping_timeout"))


def curve_available() -> bool:
    """Whether this Python's pyzmq has CurveZMQ (jupyter_client refuses to start kernels encrypted without)."""
    try:
        import zmq
    except ImportError:
        return False
    return bool(zmq.has("curve"))


def voila_config(token: str, preheat: bool, notary_dir: Path | None = None, encrypt: bool = True) -> dict[str, Any]:
    """Voila settings: token, stripped sources, no buffering for absent browsers, culling of idle kernels,
    encrypted kernel channels (``encrypt``), the notebook's notary in ``notary_dir``, the expected noise
    filtered."""
    conf: dict[str, Any] = {
        "Voila": {
            "token": token,
            "ip": "127.0.0.1",
            "open_browser": False,
            "port_retries": 0,
            "logging_config": {
                "filters": {"expected": {"()": "liqkit.dashboard.ExpectedNoise"}},
                "loggers": {"tornado.general": {"filters": ["expected"]}},
            },
        },
        "VoilaConfiguration": {
            "strip_sources": True,
            "show_tracebacks": False,
            "preheat_kernel": preheat,
            "default_pool_size": 2 if preheat else 0,  # two pages opened together both start warm
        },
        "MappingKernelManager": {
            "buffer_offline_messages": False,  # a kernel nobody watches must not buffer without bound
            "cull_idle_timeout": 600,  # a closed tab's kernel pauses itself (see liqkit.ui.presence), then goes
            "cull_interval": 60,
            "cull_connected": False,
        },
    }
    if encrypt:  # CurveZMQ between Voila and its kernels where the kernelspec declares it (ipykernel >= 7.3
        # does, and warns about plain TCP otherwise); an older kernel runs over plain TCP on 127.0.0.1
        conf["KernelManager"] = {"transport_encryption": "auto"}
    if notary_dir is not None:  # where sign_notebook signed it: Voila finds the notebook trusted
        conf["NotebookNotary"] = {"data_dir": str(notary_dir)}
    return conf


def read_notebook(notebook: Path) -> Any:
    """The notebook at ``notebook`` (nbformat 4); a LiqkitError saying why if it is not one."""
    import nbformat

    try:
        return nbformat.read(notebook, as_version=4)
    except (OSError, ValueError, UnicodeDecodeError) as e:  # nbformat's NotJSONError is a ValueError
        raise LiqkitError(f"{notebook} is not a notebook Voila can serve: {str(e).strip()[:200]}") from None


def sign_notebook(notebook: Path, notary_dir: Path) -> None:
    """Mark ``notebook`` trusted in the notary kept in ``notary_dir`` (the one ``voila_config`` names).

    Trust only says whether a notebook's stored outputs may run in a browser; Voila executes the notebook
    afresh, but jupyter_server warns about every untrusted notebook it opens.
    """
    from nbformat.sign import NotebookNotary

    nb = read_notebook(notebook)
    notary = NotebookNotary(data_dir=str(notary_dir))
    try:
        notary.sign(nb)
    finally:
        notary.store.close()


def start_voila(
    notebook: Path, port: int, state_dir: Path, conf_dir: Path, preheat: bool = True
) -> tuple[subprocess.Popen[bytes], str]:
    """Start Voila on 127.0.0.1:``port`` serving ``notebook``; (process, URL with the token)."""
    token = secrets.token_urlsafe(24)
    conf_dir = conf_dir.resolve()  # Voila runs in the notebook's folder: a relative path would miss its config
    notebook = notebook.resolve()
    conf_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(conf_dir, 0o700)
    conf = conf_dir / "voila.json"
    with contextlib.suppress(FileNotFoundError):
        conf.unlink()
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(voila_config(token, preheat, conf_dir, encrypt=curve_available()), f)
    sign_notebook(notebook, conf_dir)
    env = {**os.environ, "LIQKIT_STATE_DIR": str(state_dir.resolve())}
    voila = Path(sys.executable).with_name("voila")
    cmd = [str(voila)] if voila.exists() else [sys.executable, "-m", "voila"]
    cmd += [str(notebook), f"--port={port}", f"--Voila.config_file_paths={conf_dir}", "--Voila.log_level=WARN"]
    proc = subprocess.Popen(cmd, env=env, cwd=notebook.parent, start_new_session=True)
    end = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise LiqkitError(f"Voila exited with status {proc.returncode} (see its messages above)")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/?token={token}"
        time.sleep(0.2)
    stop_process(proc, "voila")
    raise LiqkitError(f"Voila did not listen on 127.0.0.1:{port} within {START_TIMEOUT_S:g} s")


def stop_process(proc: subprocess.Popen[Any], what: str, timeout: float = 60.0) -> int | None:
    """SIGTERM ``proc`` (then SIGKILL after ``timeout``); its exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"liqkit dashboard: {what} did not stop in {timeout:g} s: killing it", file=sys.stderr)
            proc.kill()
            proc.wait()
    return proc.returncode


def missing_modules() -> list[str]:
    """The modules of ``NEEDS`` this Python cannot import."""
    return [m for m in NEEDS if importlib.util.find_spec(m) is None]


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the operations dashboard until Ctrl-C."""
    missing = missing_modules()
    if missing:
        raise LiqkitError(
            f"the dashboard needs {', '.join(missing)}, which {sys.executable} cannot import: install liqkit "
            "with its notebook extra (`make dashboard` does, or pip install -e '.[notebook]' in liqkit's folder)"
        )
    from liqkit.domain.config import load_config

    state_dir = Path(args.state_dir or (load_config(args.config).engine.state_dir if args.config else "liqkit-state"))
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        raise LiqkitError(f"no dashboard notebook at {notebook} (give --notebook PATH)")
    read_notebook(notebook)  # a file that is no notebook is refused before anything starts
    port = free_port() if args.port == 0 else args.port
    if not port_free(port):
        raise LiqkitError(f"port {port} on 127.0.0.1 is in use (another dashboard?): give --port N")

    def terminate(signum: int, _: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)  # also when started in the background (SIGINT ignored there)
    service: subprocess.Popen[str] | None = None
    voila: subprocess.Popen[bytes] | None = None
    try:
        url = service_answering(state_dir)
        if url is not None:
            if args.config or args.venue:
                print(f"liqkit dashboard: a service already runs on {state_dir} ({url}); using it as it is")
            owner = "already running: left running on exit"
        else:
            service, url = start_service(state_dir, args.config, args.venue, args.speed, args.run)
            owner = "started by this command: stopped on exit"
        voila, page = start_voila(notebook, port, state_dir, state_dir / "voila", preheat=not args.no_preheat)
        print(f"liqkit dashboard: {page}", flush=True)
        print(f"  service {url} ({owner}); state directory {state_dir}; Ctrl-C stops", flush=True)
        while True:
            if voila.poll() is not None:
                raise LiqkitError(f"Voila exited with status {voila.returncode}")
            if service is not None and service.poll() is not None:
                err = (state_dir / "service.log").read_text()
                raise LiqkitError(f"the service exited with status {service.returncode}: {err.strip()[-500:]}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("liqkit dashboard: stopping", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the order cleanup short
        if voila is not None:
            stop_process(voila, "voila")
        if service is not None:
            stop_process(service, "liqkit serve")
            out = service.stdout.read() if service.stdout is not None else ""
            last = out.strip().splitlines()[-1:] if out.strip() else []
            print(f"liqkit dashboard: service stopped (status {service.returncode}) {' '.join(last)}", flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``dashboard`` subcommand to ``liqkit``'s subparsers."""
    d = subparsers.add_parser(
        "dashboard", help="the operations dashboard (Voila) on a liqkit service, started unless one runs"
    )
    d.add_argument("--state-dir", type=cli_args.state_dir, help="the service's state directory (default: liqkit-state)")
    d.add_argument("--config", type=Path, help="TOML config of a service to start (e.g. venue = binance-testnet)")
    d.add_argument(
        "--venue", type=cli_args.venue, help="for a service to start: sim, binance-testnet or a liqkit sim-server URL"
    )
    d.add_argument(
        "--speed",
        type=cli_args.speed,
        default=1.0,
        help="market speed of the simulated exchange (above 0; 1 is real time)",
    )
    d.add_argument("--run", help="comma-separated pairs the started service quotes at once")
    d.add_argument("--port", type=cli_args.port, default=DEFAULT_PORT, help="Voila's port on 127.0.0.1 (0: a free one)")
    d.add_argument("--notebook", type=Path, default=NOTEBOOK, help="the dashboard notebook")
    d.add_argument("--no-preheat", action="store_true", help="start the page's kernel on request, not in advance")
    d.set_defaults(func=cmd_dashboard)
    return d


def main(argv: list[str] | None = None) -> int:
    """``python -m liqkit.dashboard``: the same as ``liqkit dashboard``."""
    parser = cli_args.LiqkitParser(prog="liqkit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dashboard", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except LiqkitError as e:
        print(f"liqkit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
