"""`liqkit dashboard` as a process: Voila with a token on a service it starts, or on one already running."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request

from processes import free_port, start_service, stop_service, wait_for
from uihelpers import start_dashboard

from liqkit.dashboard import service_answering, voila_config


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


def test_voila_settings():
    c = voila_config("tok", preheat=True)
    assert c["Voila"]["token"] == "tok" and c["Voila"]["ip"] == "127.0.0.1" and c["Voila"]["port_retries"] == 0
    assert c["VoilaConfiguration"]["strip_sources"] is True
    assert c["MappingKernelManager"]["buffer_offline_messages"] is False


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
