"""Binance's request authentication, server side: HMAC-SHA256 signatures and the recvWindow rule."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, unquote, urlencode

from liqkit.domain.errors import LiqkitError


class AuthError(LiqkitError):
    """A request fails authentication; ``code`` is Binance's (-1022 signature, -1021 time, -2015 key)."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_rest(total_params: str, api_key: str | None, keys: dict[str, str], now_ms: int) -> dict[str, str]:
    """Verify a signed REST request (query string and body concatenated, as received).

    Returns the parameters. Binance signs ``totalParams`` without the signature; python-binance
    URL-quotes only the symbol, so both the raw and the unquoted forms are accepted.
    """
    if not api_key or api_key not in keys:
        raise AuthError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    head, sep, sig = total_params.rpartition("&signature=")
    if not sep:
        raise AuthError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    secret = keys[api_key]
    if not any(hmac.compare_digest(sign(secret, p), sig) for p in (head, unquote(head))):
        raise AuthError(-1022, "Signature for this request is not valid.")
    params = dict(parse_qsl(head, keep_blank_values=True))
    check_time(params, now_ms)
    return params


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
