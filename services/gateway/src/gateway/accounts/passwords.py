"""Password and client-secret hashing with Argon2id."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the account does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def _verify(secret_hash: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_secret(secret_hash: str | None, secret: str) -> bool:
    # Argon2 is deliberately slow; run it off the event loop.
    return await asyncio.to_thread(_verify, secret_hash, secret)


def generate_secret() -> str:
    return secrets.token_urlsafe(24)


def check_password_strength(password: str) -> str | None:
    """A Chinese reason the password is too weak, or None."""
    if len(password) < 10:
        return "密码至少 10 个字符"
    if password.isdigit() or password.isalpha():
        return "密码须同时包含字母和数字或符号"
    return None
