"""API keys: from the environment or a ``.env`` file, never printed, logged or journaled.

Three kinds, as Binance has them in 2026: an Ed25519 key (recommended), an RSA key, or an HMAC
secret (marked deprecated by Binance, still accepted). ``BINANCE_API_KEY`` is always needed; with it
either ``BINANCE_API_SECRET`` (HMAC) or ``BINANCE_PRIVATE_KEY_PATH`` (a PEM private key file, Ed25519
or RSA, with ``BINANCE_PRIVATE_KEY_PASSPHRASE`` if it is encrypted). The private key is read and
checked here, once: a missing file, a file that is not a private key, a wrong passphrase and an
unsupported key type each get one line naming the variable to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from liqkit.domain.errors import ConfigError

KEY, SECRET, KEY_PATH, PASSPHRASE = (
    "API_KEY",
    "API_SECRET",
    "PRIVATE_KEY_PATH",
    "PRIVATE_KEY_PASSPHRASE",
)


@dataclass(frozen=True)
class ApiKeys:
    """An API key with its HMAC secret or its private key (unencrypted PEM, in memory only); the repr
    hides every value. ``kind`` is ``hmac``, ``ed25519`` or ``rsa``."""

    key: str = field(repr=False)
    secret: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    kind: str = "hmac"

    def __repr__(self) -> str:
        return f"ApiKeys(kind={self.kind}, key=***)"

    def __str__(self) -> str:
        return repr(self)


def load_api_keys(
    env_file: str | Path | None = ".env", prefix: str = "BINANCE", *, environment: bool = True
) -> ApiKeys:
    """``<prefix>_API_KEY`` with ``<prefix>_API_SECRET`` or ``<prefix>_PRIVATE_KEY_PATH`` (and an optional
    ``<prefix>_PRIVATE_KEY_PASSPHRASE``), from the environment, else from ``env_file`` (from that file
    alone when ``environment`` is False: keys a local server wrote for itself, say).

    When both a secret and a private key are set, the private key is used (Binance recommends it)."""
    names = [f"{prefix}_{n}" for n in (KEY, SECRET, KEY_PATH, PASSPHRASE)]
    values = {n: os.environ.get(n, "") if environment else "" for n in names}
    if env_file is not None and Path(env_file).is_file() and not all(values[n] for n in names[:2]):
        file_values = dotenv_values(env_file)
        for n in names:
            values[n] = values[n] or (file_values.get(n) or "")
    key_n, secret_n, path_n, pass_n = names
    if not values[key_n] or not (values[secret_n] or values[path_n]):
        missing = [key_n] if not values[key_n] else []
        if not (values[secret_n] or values[path_n]):
            missing.append(f"{path_n} (an Ed25519 or RSA private key file) or {secret_n} (HMAC)")
        raise ConfigError(
            f"{' and '.join(missing)} not set: export them or put them in a .env file beside where you run liqkit "
            "(for the testnet, create keys at the Binance spot testnet site)"
        )
    if values[path_n]:
        pem, kind = read_private_key(values[path_n], values[pass_n], path_n, pass_n)
        return ApiKeys(values[key_n], private_key=pem, kind=kind)
    return ApiKeys(values[key_n], secret=values[secret_n], kind="hmac")


def read_private_key(
    path: str | Path, passphrase: str = "", path_var: str = "BINANCE_PRIVATE_KEY_PATH", pass_var: str = ""
) -> tuple[str, str]:
    """The private key in ``path`` as unencrypted PKCS#8 PEM text and its kind (``ed25519`` or ``rsa``).

    The text stays in memory: python-binance signs with it. It is decrypted here so that an encrypted
    Ed25519 key is not taken for RSA (python-binance tells the two apart by the text's length)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    pass_var = pass_var or path_var.replace("PATH", "PASSPHRASE")
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"{path_var} = {path}: cannot read it ({e.strerror or e}): give the path of your key file"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except TypeError:
        if passphrase:
            raise ConfigError(f"{path_var} = {path}: the key is not encrypted: unset {pass_var}") from None
        raise ConfigError(f"{path_var} = {path}: the key is encrypted: set {pass_var}") from None
    except ValueError:
        if passphrase:
            raise ConfigError(
                f"{path_var} = {path}: not a PEM private key, or {pass_var} is wrong: check both"
            ) from None
        raise ConfigError(
            f"{path_var} = {path}: not a PEM private key (expected '-----BEGIN PRIVATE KEY-----'): give the "
            "private key file (not the public key you registered with Binance)"
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        kind = "ed25519"
    elif isinstance(key, rsa.RSAPrivateKey):
        kind = "rsa"
    else:
        raise ConfigError(
            f"{path_var} = {path}: a {type(key).__name__.removesuffix('PrivateKey').removeprefix('_')} key; "
            "Binance takes Ed25519 (recommended) or RSA keys"
        )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, kind
