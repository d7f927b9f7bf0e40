"""Test processes only: a host name under ``.invalid`` fails to resolve at once, and no DNS query leaves.

``.invalid`` is reserved (RFC 2606, RFC 6761): no such name exists. But this machine's resolver (glibc) does
not know that and asks the DNS server before it fails. A process started with this folder first on
``PYTHONPATH`` (``processes.no_dns_env``) imports this file at start-up (Python's ``site`` module), and its
``socket.getaddrinfo`` then raises for such a name the error glibc raises for an unknown host
(``gaierror`` EAI_NONAME, "Name or service not known"), without asking anyone; every other name resolves
as usual. Each name refused is appended to the file ``LIQKIT_TEST_DNS_LOG`` names (if set), so a test can
tell that the process did look the host up.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any


def refusing_invalid(real: Callable[..., Any], log: str | None) -> Callable[..., Any]:
    """``real`` (a ``getaddrinfo``), except that names under ``.invalid`` fail as unknown hosts."""

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.rstrip(".").lower().endswith(".invalid"):
            if log:
                with open(log, "a") as f:
                    f.write(name + "\n")
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    return getaddrinfo


if __name__ == "sitecustomize":  # imported by site at a process's start (not when a test loads it by path)
    socket.getaddrinfo = refusing_invalid(socket.getaddrinfo, os.environ.get("LIQKIT_TEST_DNS_LOG"))
