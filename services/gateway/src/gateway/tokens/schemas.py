from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

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
