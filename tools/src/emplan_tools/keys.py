"""The Ed25519 key pair the gateway signs its tokens with (and every service verifies them with)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_KEY_NAME = "jwt-private.pem"
PUBLIC_KEY_NAME = "jwt-public.pem"
EXCHANGE_KEY_NAME = "exchange-cursor.key"


@dataclass(frozen=True)
class SigningKeys:
    private_key_file: Path
    public_key_file: Path
    # The secret the services sign exchange cursors with (docs/exchange.md).
    exchange_key_file: Path | None = None

    def env(self) -> dict[str, str]:
        """The variables the services read the key files from."""
        env = {
            "EMPLAN_JWT_PRIVATE_KEY_FILE": str(self.private_key_file),
            "EMPLAN_JWT_PUBLIC_KEY_FILE": str(self.public_key_file),
        }
        if self.exchange_key_file is not None:
            env["EMPLAN_EXCHANGE_CURSOR_KEY_FILE"] = str(self.exchange_key_file)
        return env


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def _public_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ensure_signing_keys(directory: Path) -> SigningKeys:
    """`directory/jwt-private.pem` (PKCS#8, mode 0600) and `jwt-public.pem` (SPKI), made once.

    An existing private key is kept (tokens it signed stay valid); its public key is rewritten from it
    when missing or stale.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    keys = SigningKeys(
        directory / PRIVATE_KEY_NAME, directory / PUBLIC_KEY_NAME, directory / EXCHANGE_KEY_NAME
    )
    assert keys.exchange_key_file is not None
    if not keys.exchange_key_file.exists():
        _write_atomically(keys.exchange_key_file, secrets.token_hex(32).encode(), 0o600)
    if keys.private_key_file.exists():
        private_key = serialization.load_pem_private_key(keys.private_key_file.read_bytes(), password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"{keys.private_key_file} is not an Ed25519 private key")
        if keys.private_key_file.stat().st_mode & 0o077:
            keys.private_key_file.chmod(0o600)
    else:
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_atomically(keys.private_key_file, pem, 0o600)
    public = _public_pem(private_key)
    if not keys.public_key_file.exists() or keys.public_key_file.read_bytes() != public:
        _write_atomically(keys.public_key_file, public, 0o644)
    return keys
