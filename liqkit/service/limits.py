"""The control API's limits at its edges: request bodies capped before parsing, JSON integers of any
length read as numbers (so a field's bound names them), and errors that quote at most a short excerpt.

``liqkit.service.api`` installs them: ``BodyLimit`` as the innermost middleware (after the token check),
``JsonRoute`` as the route class, ``validation_detail``/``short_text`` in its 422 handlers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024  # bytes: a config change is a few hundred
EXCERPT = 60  # characters of a bad input quoted back in an error


def excerpt(value: Any) -> Any:
    """A bad input as an error may quote it: short scalars as they are, non-finite numbers as text,
    anything long cut to its first characters and its length (a 10 MB value is never echoed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or (isinstance(value, (bool, int, float)) and len(repr(value)) <= EXCERPT):
        return value
    text = value if isinstance(value, str) else str(value) if isinstance(value, Decimal) else repr(value)
    if len(text) <= EXCERPT:
        return text
    return f"{text[:EXCERPT]}... ({len(text):,} characters)"


_LONG = re.compile(r"\S{" + str(EXCERPT + 1) + ",}")


def short_text(text: str) -> str:
    """An error message with every over-long word (a quoted input, typically) cut to an excerpt."""
    return _LONG.sub(lambda m: excerpt(m.group(0)), text)


def validation_detail(e: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as the 422 ``detail`` list (``loc``, ``msg``, ``type``, a short ``input``)."""
    out = []
    for err in e.errors():
        item: dict[str, Any] = {
            "loc": [str(x) if not isinstance(x, int) else x for x in err.get("loc", ())],
            "msg": str(err.get("msg", "invalid"))[:200],
            "type": str(err.get("type", "")),
        }
        if "input" in err and not isinstance(err["input"], (dict, list)):
            item["input"] = excerpt(err["input"])
        out.append(item)
    return out


def _json_int(text: str) -> int | Decimal:
    """A JSON integer; past 40 digits a Decimal, so the field's bound names it (not a parse failure)."""
    return int(text) if len(text) <= 40 else Decimal(text)


class _JsonRequest(Request):
    """A request whose JSON body parses integers of any length (see ``_json_int``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_int=_json_int)
        return self._json


class JsonRoute(APIRoute):
    """Routes that read their JSON body with ``_JsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def read_json(request: Request) -> Any:
            return await handler(_JsonRequest(request.scope, request.receive))

        return read_json


class BodyLimit:
    """Refuse (413) a request body over ``limit`` bytes before anything parses it: the declared
    ``Content-Length`` first, then the bytes as they arrive (a chunked body has no length)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.limit:,} bytes: send a smaller one"}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and (not v.isdigit() or int(v) > self.limit):
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # the client went away
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = msg.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
