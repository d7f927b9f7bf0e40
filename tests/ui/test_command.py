"""`liqkit dashboard` as a process: Voila with a token on a service it starts, or on one already running."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
from processes import free_port, start_service, stop_service, wait_for
from uihelpers import REPO, start_dashboard

from liqkit.dashboard import ExpectedNoise, curve_available, service_answering, voila_config

# what Voila, jupyter_server, ipykernel and tornado print on a start that goes well, and what would alarm a trader
NOISE = (
    "is not trusted",
    "running over TCP without encryption",
    "No web browser found",
    "websocket_ping_timeout",
)


def get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def test_voila_settings(tmp_path):
    c = voila_config("tok", preheat=True, notary_dir=tmp_path)
    assert c["Voila"]["token"] == "tok" and c["Voila"]["ip"] == "127.0.0.1" and c["Voila"]["port_retries"] == 0
    assert c["Voila"]["open_browser"] is False
    assert c["VoilaConfiguration"]["strip_sources"] is True
    assert c["MappingKernelManager"]["buffer_offline_messages"] is False
    assert c["KernelManager"]["transport_encryption"] == "auto"  # CurveZMQ where the kernel supports it
    assert "KernelManager" not in voila_config("tok", preheat=True, encrypt=False)  # a pyzmq without Curve
    assert curve_available()  # this environment's pyzmq: the kernels of the tests below are encrypted
    assert c["NotebookNotary"]["data_dir"] == str(tmp_path)
    # the log filter Voila's process loads resolves (by its dotted name) to the class tested below
    log = c["Voila"]["logging_config"]
    resolved = logging.config.BaseConfigurator({}).resolve(log["filters"]["expected"]["()"])
    assert resolved is ExpectedNoise and log["loggers"]["tornado.general"]["filters"] == ["expected"]


def record(name: str, level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_the_log_filter_drops_only_the_known_false_alarm():
    f = ExpectedNoise()
    ping = "The websocket_ping_timeout (90000) cannot be longer than the websocket_ping_interval (30000)."
    assert not f.filter(record("tornado.general", logging.WARNING, ping))
    assert f.filter(record("tornado.general", logging.ERROR, ping))  # the same words as an error: shown
    assert f.filter(record("tornado.general", logging.WARNING, "Uncaught exception in write"))
    assert f.filter(record("tornado.general", logging.ERROR, "Could not open static file"))


def read_errors(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_dashboard_starts_quietly_with_a_relative_state_dir_and_keeps_its_token(tmp_path):
    """The start a trader sees: no alarms on stderr; the state directory relative to where it is typed."""
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc, page, _ = start_dashboard(Path("state"), free_port(), "--speed", "5", stderr=err, cwd=tmp_path)
        try:
            code, body = get(page)  # the page is rendered: Voila opened the notebook, a kernel ran it
            assert code == 200 and "liqkit operations" in body
            port = page.split(":")[2].split("/")[0]
            assert get(f"http://127.0.0.1:{port}/")[0] in (302, 401, 403)  # the config (token) was found
            started = read_errors(err_path)  # what the start and a page load printed
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0 and "0 liqkit orders left open" in out
    assert (tmp_path / "state" / "voila" / "voila.json").exists()
    assert not [n for n in NOISE if n in started], started
    assert "WARNING" not in started and "Traceback" not in started, started
    errors = read_errors(err_path)  # the stop too
    assert not [n for n in NOISE if n in errors], errors


def test_dashboard_still_reports_real_errors(tmp_path):
    # a missing notebook, or a file that is none: one line, status 2, before anything starts
    for path, words in ((tmp_path / "nope.ipynb", "no dashboard notebook at"), (tmp_path / "bad.ipynb", "JSON")):
        if path.name == "bad.ipynb":
            path.write_text("{not json")
        cmd = [sys.executable, "-m", "liqkit.dashboard", "--state-dir", str(tmp_path / "s"), "--notebook", str(path)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "s" / "service.json").exists()

    # without the notebook extra (here: without site-packages) it says what to install, in one line
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-S", "-m", "liqkit.dashboard", "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 2 and "voila" in r.stderr and "notebook extra" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

    # a notebook that fails while Voila runs it: Voila's error reaches stderr (quiet is not mute)
    broken = nbformat.v4.new_notebook()
    broken.cells = [nbformat.v4.new_code_cell("raise RuntimeError('the dashboard broke')")]
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(broken, tmp_path / "broken.ipynb")
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        extra = ("--notebook", str(tmp_path / "broken.ipynb"), "--no-preheat")
        proc, page, _ = start_dashboard(tmp_path / "state", free_port(), *extra, stderr=err)
        try:
            get(page)  # runs the notebook
            wait_for(lambda: "the dashboard broke" in read_errors(err_path), 60, "Voila's error on stderr")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=90)
    errors = read_errors(err_path)
    assert "ERROR" in errors and "RuntimeError" in errors
    assert not [n for n in NOISE if n in errors], errors


def test_dashboard_starts_a_service_refuses_requests_without_token_and_stops_everything(tmp_path):
    state, port = tmp_path / "state", free_port()
    proc, page, lines = start_dashboard(state, port, "--run", "BTCUSDT", "--speed", "5")
    try:
        assert page.startswith(f"http://127.0.0.1:{port}/?token=") and len(page.split("token=")[1]) >= 24
        assert "started by this command" in lines[-1]
        service_url = service_answering(state)
        assert service_url is not None and service_url.startswith("http://127.0.0.1:")
        conf = state / "voila" / "voila.json"
        assert oct(conf.stat().st_mode & 0o777) == "0o600" and json.loads(conf.read_text())["Voila"]["token"]
        code, body = get(f"http://127.0.0.1:{port}/")
        assert code in (302, 401, 403) and "lq-dashboard" not in body  # no token: no page, no kernel
        code, _ = get(f"http://127.0.0.1:{port}/?token=wrong")
        assert code in (302, 401, 403)
        assert get(page)[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert "0 liqkit orders left open" in out  # the service cancelled its orders on the way out
    assert service_answering(state) is None and not (state / "service.json").exists()
    wait_for(lambda: get_refused(port), 10, "Voila to stop")


def get_refused(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, OSError):
        return True
    return False


def test_dashboard_uses_a_running_service_and_leaves_it_running(tmp_path):
    state = tmp_path / "state"
    svc, url = start_service(state)
    try:
        proc, _, lines = start_dashboard(state, free_port(), "--no-preheat")
        assert url in lines[-1] and "already running" in lines[-1]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert service_answering(state) == url  # still serving
    finally:
        code, _, _ = stop_service(svc)
    assert code == 0
