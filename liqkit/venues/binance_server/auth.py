"""Binance's request authentication, server side: HMAC-SHA256 signatures and the recvWindow rule."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, unquote, urlencode

from liqkit.domain.errors import LiqkitError


class ApiError(LiqkitError):
    """The local Binance server refuses a request: Binance's ``code`` and ``msg``, and the HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


class AuthError(ApiError):
    """A request fails authentication; ``code`` is Binance's (-1022 signature, -1021 time, -2015 key)."""


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_rest(query: str, body: str, api_key: str | None, keys: dict[str, str], now_ms: int) -> dict[str, str]:
    """Verify a signed REST request from its query string and body exactly as they were sent.

    Binance's payload is the query string concatenated without separator to the body, both still
    percent-encoded as on the wire, less the ``signature`` parameter (in either). A client that signs
    one form and sends another (say ``a:b`` signed, ``a%3Ab`` sent) is refused, as Binance refuses it
    since 2026-01-15. Returns the decoded parameters (the query string's win over the body's).
    """
    if not api_key or api_key not in keys:
        raise AuthError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    q, sig_q = _without_signature(query)
    b, sig_b = _without_signature(body)
    if sig_q is not None and sig_b is not None:
        raise AuthError(-1101, "Duplicate values for a parameter detected.")
    sig = sig_q if sig_q is not None else sig_b
    if not sig:
        raise AuthError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    given = unquote(sig).lower()  # HMAC hex is not case-sensitive
    if not given.isascii() or not hmac.compare_digest(sign(keys[api_key], q + b), given):
        raise AuthError(-1022, "Signature for this request is not valid.")
    params = dict(parse_qsl(b, keep_blank_values=True))
    params.update(parse_qsl(q, keep_blank_values=True))
    check_time(params, now_ms)
    return params


def _without_signature(part: str) -> tuple[str, str | None]:
    """``part`` without its ``signature=`` parameter, and that parameter's raw value (None: absent)."""
    kept, sig = [], None
    for item in part.split("&") if part else ():
        if item.startswith("signature="):
            if sig is not None:
                raise AuthError(-1101, "Duplicate values for a parameter detected.")
            sig = item[len("signature=") :]
        else:
            kept.append(item)
    return "&".join(kept), sig


def check_ws(params: dict[str, object], keys: dict[str, str], now_ms: int) -> None:
    """Verify a signed WebSocket API request: HMAC of the other params sorted by name."""
    key = str(params.get("apiKey", ""))
    if key not in keys:
        raise AuthError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    sig = str(params.get("signature", ""))
    payload = urlencode(sorted((k, str(v)) for k, v in params.items() if k != "signature"))
    if not hmac.compare_digest(sign(keys[key], payload), sig):
        raise AuthError(-1022, "Signature for this request is not valid.")
    check_time({k: str(v) for k, v in params.items()}, now_ms)


def check_time(params: dict[str, str], now_ms: int) -> None:
    """Binance's rule: ``timestamp < now + 1000`` and ``now - timestamp <= recvWindow`` (max 60,000)."""
    try:
        ts = int(params["timestamp"])
        window = int(params.get("recvWindow", 5000))
    except (KeyError, ValueError):
        raise AuthError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
    if window > 60_000:
        raise AuthError(-1131, "recvWindow must be less than 60000")
    if ts >= now_ms + 1000 or now_ms - ts > window:
        raise AuthError(-1021, "Timestamp for this request is outside of the recvWindow.")
