"""Binance's request authentication, server side: API keys of the three kinds Binance has (HMAC-SHA256
secrets, Ed25519 and RSA public keys), the signature rules of REST and the WebSocket API, and recvWindow.

Signatures: HMAC is hex (not case-sensitive); Ed25519 and RSA (RSASSA-PKCS1-v1_5 with SHA-256) are
base64 (case-sensitive), percent-encoded when they travel in a query string or form body. The payload
is the same for every kind: REST signs the query string and body as sent; the WebSocket API signs its
params but ``signature``, sorted by name, as ``name=value`` joined by ``&``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from liqkit.domain.errors import ConfigError, LiqkitError

HMAC, ED25519, RSA = "HMAC_SHA256", "ED25519", "RSA"


class ApiError(LiqkitError):
    """The local Binance server refuses a request: Binance's ``code`` and ``msg``, the HTTP ``status``,
    and Binance's ``data`` where its answer has one (cancelReplace's partial outcomes)."""

    def __init__(self, code: int, msg: str, status: int = 400, data: object = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data

    def body(self) -> dict[str, object]:
        """Binance's error object: ``code``, ``msg`` (and ``data`` when there is one)."""
        out: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


class AuthError(ApiError):
    """A request fails authentication; ``code`` is Binance's (-1022 signature, -1021 time, -2015 key)."""


class ApiKey:
    """One API key's credential: an HMAC secret or a public key. Never printed: its repr names the kind only."""

    def __init__(self, kind: str, secret: str = "", public: ed25519.Ed25519PublicKey | rsa.RSAPublicKey | None = None):
        self.kind = kind
        self._secret = secret
        self._public = public

    def __repr__(self) -> str:
        return f"ApiKey({self.kind})"

    def verify(self, payload: str, signature: str) -> bool:
        """Whether ``signature`` (hex for HMAC, base64 otherwise, already percent-decoded) signs ``payload``."""
        data = payload.encode()
        if self.kind == HMAC:
            sig = signature.lower()  # HMAC hex is not case-sensitive
            return sig.isascii() and hmac.compare_digest(sign(self._secret, payload), sig)
        try:
            raw = base64.b64decode(signature.encode(), validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            if isinstance(self._public, ed25519.Ed25519PublicKey):
                self._public.verify(raw, data)
            elif isinstance(self._public, rsa.RSAPublicKey):
                self._public.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                return False
        except InvalidSignature:
            return False
        return True


def hmac_key(secret: str) -> ApiKey:
    """An HMAC-SHA256 key (its secret)."""
    return ApiKey(HMAC, secret=secret)


def public_key(pem: bytes, source: str = "public key") -> ApiKey:
    """An Ed25519 or RSA key from its PEM public key (``-----BEGIN PUBLIC KEY-----``, as Binance takes it)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        hint = (
            " (that is a private key: give its public half, e.g. `openssl pkey -pubout`)" if b"PRIVATE" in pem else ""
        )
        raise ConfigError(f"{source}: not a PEM public key{hint}") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ApiKey(ED25519, public=key)
    if isinstance(key, rsa.RSAPublicKey):
        return ApiKey(RSA, public=key)
    raise ConfigError(f"{source}: a {type(key).__name__}; Binance takes Ed25519 or RSA public keys")


def load_public_key(path: str | Path) -> ApiKey:
    """Read a PEM public key file (Ed25519 or RSA)."""
    p = Path(path)
    try:
        return public_key(p.read_bytes(), str(p))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the public key: {e.strerror}") from None


def as_keys(keys: Mapping[str, str | ApiKey]) -> dict[str, ApiKey]:
    """API key name -> credential; a plain string is an HMAC secret."""
    return {name: hmac_key(k) if isinstance(k, str) else k for name, k in keys.items()}


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _key(name: str | None, keys: Mapping[str, ApiKey]) -> ApiKey:
    if not name or name not in keys:
        raise AuthError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return keys[name]


def check_rest(query: str, body: str, api_key: str | None, keys: Mapping[str, ApiKey], now_ms: int) -> dict[str, str]:
    """Verify a signed REST request from its query string and body exactly as they were sent.

    Binance's payload is the query string concatenated without separator to the body, both still
    percent-encoded as on the wire, less the ``signature`` parameter (in either). A client that signs
    one form and sends another (say ``a:b`` signed, ``a%3Ab`` sent) is refused, as Binance refuses it
    since 2026-01-15. Returns the decoded parameters (the query string's win over the body's).
    """
    key = _key(api_key, keys)
    q, sig_q = _without_signature(query)
    b, sig_b = _without_signature(body)
    if sig_q is not None and sig_b is not None:
        raise AuthError(-1101, "Duplicate values for a parameter detected.")
    sig = sig_q if sig_q is not None else sig_b
    if not sig:
        raise AuthError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    if not key.verify(q + b, unquote(sig)):
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


def ws_text(value: object) -> str:
    """A WebSocket API param's value as text (JSON's ``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ws_payloads(params: Mapping[str, object]) -> list[str]:
    """The signature payloads a WebSocket API request may have been signed over: Binance's, its params
    but ``signature`` sorted by name as ``name=value`` (values as sent) joined by ``&``; and the same
    percent-encoded, as python-binance and binance-sdk-spot sign it (identical for plain values)."""
    items = sorted((k, v) for k, v in params.items() if k != "signature")
    raw = "&".join(f"{k}={ws_text(v)}" for k, v in items)
    as_json = [(k, ws_text(v)) for k, v in items]
    out = [
        raw,
        urlencode(as_json),  # python-binance, binance-sdk-spot
        urlencode([(k, str(v)) for k, v in items]),  # the same with Python's True/False for a bool
        urlencode(as_json, quote_via=lambda s, *_: quote(s, safe="~")),  # a space as %20, not '+'
    ]
    return list(dict.fromkeys(out))


def check_ws(params: Mapping[str, object], keys: Mapping[str, ApiKey], now_ms: int) -> str:
    """Verify a signed WebSocket API request (``apiKey``, ``signature``, ``timestamp`` among its params);
    returns the API key's name."""
    name = params.get("apiKey")
    key = _key(name if isinstance(name, str) else None, keys)
    sig = params.get("signature")
    if not isinstance(sig, str) or not sig:
        raise AuthError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    if not any(key.verify(p, sig) for p in ws_payloads(params)):
        raise AuthError(-1022, "Signature for this request is not valid.")
    check_time({k: ws_text(v) for k, v in params.items()}, now_ms)
    return str(name)


def check_time(params: Mapping[str, str], now_ms: int) -> None:
    """Binance's rule: ``timestamp < now + 1000`` and ``now - timestamp <= recvWindow`` (at most 60,000 ms,
    with up to three decimals); a timestamp of 16 digits is in microseconds."""
    try:
        ts = int(params["timestamp"])
    except (KeyError, ValueError):
        raise AuthError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
    try:
        window = Decimal(params.get("recvWindow", "5000"))
    except InvalidOperation:
        raise AuthError(-1102, "Mandatory parameter 'recvWindow' was not sent, was empty/null, or malformed.") from None
    if ts >= 10**15:  # microseconds
        ts //= 1000
    if window > 60_000:
        raise AuthError(-1131, "recvWindow must be less than 60000")
    if ts >= now_ms + 1000 or now_ms - ts > window:
        raise AuthError(-1021, "Timestamp for this request is outside of the recvWindow.")
