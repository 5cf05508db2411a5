from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.auth import Role


class TokenResponse(BaseModel):
    """An OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str | None = Field(
        None, description="for people only; exchanged with grant_type=refresh_token"
    )


class Me(BaseModel):
    """The caller as the token describes them."""

    subject: str
    name: str | None
    roles: list[Role]
    region_code: str
    department_id: uuid.UUID | None
    is_client: bool


class JsonWebKey(BaseModel):
    """A public key tokens are signed with (RFC 7517; Ed25519 as an OKP key, RFC 8037)."""

    model_config = ConfigDict(extra="allow")

    kty: str = Field(description="key type: `OKP`")
    crv: str | None = Field(None, description="curve: `Ed25519`")
    x: str | None = Field(None, description="the public key, base64url")
    kid: str = Field(description="key id (RFC 7638 thumbprint), as in the token header")
    use: str | None = Field(None, description="`sig`")
    alg: str | None = Field(None, description="`EdDSA`")


class JsonWebKeySet(BaseModel):
    """The keys tokens are signed with (JWKS)."""

    keys: list[JsonWebKey]
