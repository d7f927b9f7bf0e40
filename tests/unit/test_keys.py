"""API keys from the environment or a .env file: HMAC secrets, Ed25519 and RSA private key files (plain or
encrypted), each misuse refused with one line naming the variable, and no value ever in a repr."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from liqkit.domain.errors import ConfigError
from liqkit.venues.keys import load_api_keys, read_private_key

VARS = ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BINANCE_PRIVATE_KEY_PATH", "BINANCE_PRIVATE_KEY_PASSPHRASE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for v in VARS:
        monkeypatch.delenv(v, raising=False)


def write_key(path: Path, key, passphrase: bytes | None = None) -> Path:
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    return path


def test_hmac_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BINANCE_API_KEY", "k-123")
    monkeypatch.setenv("BINANCE_API_SECRET", "s-456")
    keys = load_api_keys(tmp_path / "none.env")
    assert (keys.key, keys.secret, keys.private_key, keys.kind) == ("k-123", "s-456", "", "hmac")
    assert "k-123" not in repr(keys) and "s-456" not in repr(keys) and "s-456" not in str(keys)


def test_ed25519_key_file_from_a_dotenv_signs_what_its_public_key_verifies(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    pem_file = write_key(tmp_path / "ed.pem", key)
    env = tmp_path / ".env"
    env.write_text(f"BINANCE_API_KEY=edkey\nBINANCE_PRIVATE_KEY_PATH={pem_file}\n")
    keys = load_api_keys(env)
    assert keys.kind == "ed25519" and keys.key == "edkey" and keys.secret == ""
    loaded = serialization.load_pem_private_key(keys.private_key.encode(), None)
    payload = b"symbol=BTCUSDT&side=BUY&timestamp=1"
    sig = loaded.sign(payload)  # type: ignore[call-arg, union-attr]
    key.public_key().verify(sig, payload)  # raises if the loaded key is not the file's
    assert "BEGIN PRIVATE KEY" not in repr(keys)


def test_an_encrypted_ed25519_key_is_decrypted_so_python_binance_does_not_take_it_for_rsa(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = write_key(tmp_path / "ed-enc.pem", key, b"pw-789")
    assert len(path.read_text()) > 120  # python-binance's own rule would call this text RSA
    pem, kind = read_private_key(path, "pw-789")
    assert kind == "ed25519" and len(pem) <= 120 and "ENCRYPTED" not in pem
    with pytest.raises(ConfigError, match="the key is encrypted: set BINANCE_PRIVATE_KEY_PASSPHRASE"):
        read_private_key(path, "")
    with pytest.raises(ConfigError, match="BINANCE_PRIVATE_KEY_PASSPHRASE is wrong"):
        read_private_key(path, "nope")


def test_rsa_key_and_a_needless_passphrase(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = write_key(tmp_path / "rsa.pem", key)
    pem, kind = read_private_key(path)
    assert kind == "rsa" and pem.startswith("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(ConfigError, match="not encrypted: unset BINANCE_PRIVATE_KEY_PASSPHRASE"):
        read_private_key(path, "pw")


def test_wrong_files_get_one_line_naming_the_variable(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"BINANCE_PRIVATE_KEY_PATH = .*missing.pem: cannot read it"):
        read_private_key(tmp_path / "missing.pem")
    public = tmp_path / "public.pem"
    public.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match=r"not a PEM private key .*not the public key"):
        read_private_key(public)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text(base64.b64encode(b"x" * 50).decode())
    with pytest.raises(ConfigError, match="not a PEM private key"):
        read_private_key(garbage)
    ecdsa = write_key(tmp_path / "ec.pem", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigError, match=r"Binance takes Ed25519 .* or RSA"):
        read_private_key(ecdsa)
    monkeypatch.setenv("BINANCE_API_KEY", "k")
    monkeypatch.setenv("BINANCE_PRIVATE_KEY_PATH", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as e:
        load_api_keys(None)
    assert "BINANCE_PRIVATE_KEY_PATH" in str(e.value) and "\n" not in str(e.value)


def test_missing_variables_are_named(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"BINANCE_API_KEY and BINANCE_PRIVATE_KEY_PATH .* or BINANCE_API_SECRET"):
        load_api_keys(tmp_path / "none.env")
    monkeypatch.setenv("BINANCE_API_KEY", "k")
    with pytest.raises(ConfigError, match=r"^BINANCE_PRIVATE_KEY_PATH"):
        load_api_keys(tmp_path / "none.env")


def test_a_private_key_wins_over_a_secret(tmp_path, monkeypatch):
    path = write_key(tmp_path / "ed.pem", ed25519.Ed25519PrivateKey.generate())
    monkeypatch.setenv("BINANCE_API_KEY", "k")
    monkeypatch.setenv("BINANCE_API_SECRET", "s")
    monkeypatch.setenv("BINANCE_PRIVATE_KEY_PATH", str(path))
    assert load_api_keys(None).kind == "ed25519"
