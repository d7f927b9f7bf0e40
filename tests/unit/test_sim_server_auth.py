"""The local Binance's signature checks and rate-limit counts, without a server: Binance's documented HMAC
example, Ed25519 and RSA keys, the payload forms clients sign, recvWindow, and the unfilled-order count."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from liqkit.domain.errors import ConfigError
from liqkit.venues.binance_server.auth import (
    ED25519,
    RSA,
    AuthError,
    check_rest,
    check_time,
    hmac_key,
    public_key,
    ws_payloads,
)
from liqkit.venues.binance_server.limits import RateLimitError, UnfilledOrders

NOW = 1_800_000_000_000


def pub_pem(private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_binances_documented_hmac_example_verifies():
    # web-socket-api.md, "SIGNED request example (HMAC)", its ASCII example
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
    }
    payload = ws_payloads(params)[0]
    assert payload == (
        "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000"
        "&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    key = hmac_key("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    sig = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    assert key.verify(payload, sig) and key.verify(payload, sig.upper())  # HMAC: not case-sensitive
    assert not key.verify(payload.replace("SELL", "BUY"), sig)
    assert repr(key) == "ApiKey(HMAC_SHA256)"  # never the secret


def test_ed25519_and_rsa_signatures_verify_and_are_case_sensitive():
    ed = ed25519.Ed25519PrivateKey.generate()
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = "apiKey=k&symbol=BTCUSDT&timestamp=1"
    ed_key, rsa_key = public_key(pub_pem(ed)), public_key(pub_pem(rs))
    assert (ed_key.kind, rsa_key.kind) == (ED25519, RSA)
    ed_sig = base64.b64encode(ed.sign(payload.encode())).decode()
    rsa_sig = base64.b64encode(rs.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    assert ed_key.verify(payload, ed_sig) and rsa_key.verify(payload, rsa_sig)
    assert not ed_key.verify(payload, ed_sig.swapcase()) and not rsa_key.verify(payload, rsa_sig.swapcase())
    assert not ed_key.verify(payload + "&x=1", ed_sig) and not ed_key.verify(payload, rsa_sig)
    assert not ed_key.verify(payload, "not base64!") and not rsa_key.verify(payload, "")
    other = ed25519.Ed25519PrivateKey.generate()
    assert not ed_key.verify(payload, base64.b64encode(other.sign(payload.encode())).decode())


def test_a_public_key_file_must_be_an_ed25519_or_rsa_public_key():
    ed = ed25519.Ed25519PrivateKey.generate()
    private = ed.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match=r"not a PEM public key.*public half"):
        public_key(private, "ed.pem")
    with pytest.raises(ConfigError, match=r"not a PEM public key$"):
        public_key(b"hello", "x.pem")
    with pytest.raises(ConfigError, match="Binance takes Ed25519 or RSA public keys"):
        public_key(pub_pem(ec.generate_private_key(ec.SECP256R1())), "ec.pem")


def test_rest_signatures_of_any_kind_are_checked_as_sent():
    ed = ed25519.Ed25519PrivateKey.generate()
    keys = {"ed": public_key(pub_pem(ed)), "hm": hmac_key("s3cret")}
    query = f"symbol=BTCUSDT&newClientOrderId=a%3Ab&timestamp={NOW}"
    sig = base64.b64encode(ed.sign(query.encode())).decode()
    assert "+" in sig or "/" in sig or "=" in sig  # base64 has characters a query string must encode
    params = check_rest(f"{query}&signature={quote(sig, safe='')}", "", "ed", keys, NOW)
    assert params["newClientOrderId"] == "a:b"
    # signed over the body, the signature in it
    assert check_rest("", f"{query}&signature={quote(sig, safe='')}", "ed", keys, NOW)["symbol"] == "BTCUSDT"
    with pytest.raises(AuthError) as e:  # signed decoded, sent encoded: not what was sent
        bad = base64.b64encode(ed.sign(query.replace("%3A", ":").encode())).decode()
        check_rest(f"{query}&signature={quote(bad, safe='')}", "", "ed", keys, NOW)
    assert (e.value.code, e.value.msg) == (-1022, "Signature for this request is not valid.")
    with pytest.raises(AuthError) as e:
        check_rest(f"{query}&signature={quote(sig, safe='')}", "", "hm", keys, NOW)  # an Ed25519 signature, an HMAC key
    assert e.value.code == -1022
    with pytest.raises(AuthError) as e:
        check_rest(query, "", "nobody", keys, NOW)
    assert (e.value.code, e.value.status) == (-2015, 401)


def test_websocket_api_payloads_cover_the_forms_clients_sign():
    params = {"newClientOrderId": "a:b/c", "flag": True, "timestamp": 5, "signature": "x"}
    forms = ws_payloads(params)
    assert forms[0] == "flag=true&newClientOrderId=a:b/c&timestamp=5"  # Binance's: values as sent
    assert "flag=true&newClientOrderId=a%3Ab%2Fc&timestamp=5" in forms  # python-binance, binance-sdk-spot
    assert "flag=True&newClientOrderId=a%3Ab%2Fc&timestamp=5" in forms  # a Python bool urlencoded
    assert all("signature" not in f for f in forms)


def test_timestamps_in_micro_or_milliseconds_and_a_decimal_recv_window():
    check_time({"timestamp": str(NOW - 4000)}, NOW)
    check_time({"timestamp": str((NOW - 4000) * 1000)}, NOW)  # 16 digits: microseconds
    check_time({"timestamp": str(NOW - 6000), "recvWindow": "6000.346"}, NOW)
    for params, code in (
        ({"timestamp": str(NOW - 6000)}, -1021),
        ({"timestamp": str(NOW + 1000)}, -1021),
        ({"timestamp": str(NOW), "recvWindow": "60001"}, -1131),
        ({"timestamp": "soon"}, -1102),
        ({"timestamp": str(NOW), "recvWindow": "long"}, -1102),
    ):
        with pytest.raises(AuthError) as e:
            check_time(params, NOW)
        assert e.value.code == code, params


def test_the_unfilled_order_count_goes_up_per_new_order_and_down_per_first_fill():
    count = UnfilledOrders(limit_10s=3, limit_1d=5)
    t = 1_800_000_000_000  # at the start of a 10 s window
    for _ in range(3):
        count.new_order(t)
    assert count.counts(t) == (3, 3)
    with pytest.raises(RateLimitError) as e:
        count.check(t + 1)
    assert (e.value.code, e.value.status) == (-1015, 429)
    assert e.value.msg == "Too many new orders; current limit is 3 orders per 10 SECOND."
    assert e.value.retry_after_ms == t + 10_000  # when the 10 s window turns
    count.first_fill(t + 2)
    assert count.counts(t + 2) == (2, 2) and count.headers(t + 2) == {
        "X-MBX-ORDER-COUNT-10S": "2",
        "X-MBX-ORDER-COUNT-1D": "2",
    }
    count.check(t + 2)  # room again
    for _ in range(5):
        count.first_fill(t + 3)
    assert count.counts(t + 3) == (0, 0)  # never below zero
    later = t + 10_000
    for _ in range(5):
        count.new_order(later)
    assert count.counts(later) == (5, 5)
    with pytest.raises(RateLimitError, match="per 1 DAY"):
        count.check(later + 20_000)  # a new 10 s window, the day still full
    assert [(r["interval"], r["count"], r["limit"]) for r in count.rate_limits(later)] == [
        ("SECOND", 5, 3),
        ("DAY", 5, 5),
    ]
