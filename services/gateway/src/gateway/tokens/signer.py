"""Signs emplan's tokens with the gateway's Ed25519 key and publishes the public half as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import OKPAlgorithm


class TokenSigner:
    def __init__(self, private_key_file: Path, *, issuer: str, audience: str) -> None:
        key = load_pem_private_key(private_key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the gateway signs with an Ed25519 key")
        self._key = key
        self.issuer = issuer
        self.audience = audience
        public_jwk: dict[str, Any] = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.key_id = _thumbprint(public_jwk)
        self.public_jwk = public_jwk | {"kid": self.key_id, "use": "sig", "alg": "EdDSA"}

    def sign(self, claims: dict[str, Any], *, ttl_seconds: int, token_id: uuid.UUID | None = None) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": str(token_id or uuid.uuid4()),
        } | claims
        return jwt.encode(payload, self._key, algorithm="EdDSA", headers={"kid": self.key_id})

    def decode_own(self, token: str, *, token_use: str) -> dict[str, Any]:
        claims = jwt.decode(
            token,
            self._key.public_key(),
            algorithms=["EdDSA"],
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "sub", "jti"]},
        )
        if claims.get("use") != token_use:
            raise jwt.InvalidTokenError("wrong token use")
        return claims

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint of an OKP key: the key id clients cache the key under."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")
