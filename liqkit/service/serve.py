"""Run a ``ServiceHost`` and its API under uvicorn until SIGINT/SIGTERM (then cancel, flush, exit 0).

Start-up waits out transient venue faults (``liqkit.engine.startup``) with the API already up; a
permanent one (bad keys, an unknown symbol) ends the service with one line (``LiqkitError``, exit 2),
and so does a signal that arrives before start-up is done (nothing was placed: the service never ran).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from liqkit.domain.config import LiqkitConfig
from liqkit.domain.errors import LiqkitError
from liqkit.service.api import create_app
from liqkit.service.host import ServiceHost

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would re-raise SIGTERM after its shutdown and kill the process before liqkit has
        # cancelled its orders: liqkit handles the signals itself (see serve)
        yield


def serve(
    cfg: LiqkitConfig,
    state_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    allow_remote: bool = False,
    speed: float = 1.0,
    run: list[str] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM; 0 when every liqkit order was cancelled on the way out."""
    if host not in LOCAL_HOSTS and not allow_remote:
        raise LiqkitError(f"--host {host}: the service binds to 127.0.0.1 unless --allow-remote is given")
    if not 0 <= port <= 65535:
        raise LiqkitError(f"--port {port}: give a whole number from 1 to 65535 (0: any free one)")
    svc = ServiceHost(cfg, state_dir, token=token, speed=speed)
    app = create_app(svc.engine, svc.token)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", ws_ping_interval=20))
    logging.getLogger("binance").setLevel(logging.CRITICAL)

    started = False

    async def main() -> None:
        nonlocal started
        # the API first, so that `liqkit status` and the dashboard can say what start-up waits for;
        # the line below is printed once the engine has started (cancelled orders a crash left open)
        serving = asyncio.create_task(server.serve())
        starting = asyncio.create_task(svc.start())

        def on_signal() -> None:
            server.should_exit = True
            starting.cancel()  # a start-up still retrying gives up now

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.02)
            if not server.started:
                starting.cancel()
                await asyncio.gather(starting, serving, return_exceptions=True)
                raise LiqkitError(f"the service could not listen on {host}:{port} (is the port in use?)")
            bound = server.servers[0].sockets[0].getsockname()[1]
            url = f"http://{host}:{bound}"
            svc.announce(url)
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            if not starting.cancelled():
                started = True
                for sym in run or []:
                    await svc.engine.run(sym)
                print(
                    f"liqkit serve: {svc.venue.name} with {', '.join(svc.runner.configs)} on {url} "
                    f"(token in {svc.state_dir / 'token'}; API docs at {url}/docs); Ctrl-C stops",
                    flush=True,
                )
            await serving
        finally:
            server.should_exit = True
            if not starting.done():
                starting.cancel()
            await asyncio.gather(starting, serving, return_exceptions=True)
            await svc.stop()

    asyncio.run(main())
    if not started:  # stopped before start-up was done
        retry = svc.runner.startup
        waited = f" while waiting for {retry.waiting_for} (its cause is above)" if retry.waiting_for else ""
        raise LiqkitError(
            f"stopped during start-up{waited}, after {retry.attempts} retries: the engine never ran and placed "
            "no order; fix what start-up waited for, then start again"
        )
    left = svc.runner.core.open_orders()
    print(f"liqkit serve: stopped; {len(left)} liqkit orders left open; journal {svc.journal.path}", flush=True)
    return 0 if not left else 1
