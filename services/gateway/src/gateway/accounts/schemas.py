from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.auth import Role
from emplan_shared.types import ShortName


def _region(default: object = ...) -> Any:
    return Field(default, pattern=r"^\d{6}$", description="GB/T 2260 code", examples=["140902"])


class AccountCreate(BaseModel):
    """A person's account; the password is chosen by whoever creates it and changed on first use."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._@\-]+$")
    display_name: ShortName
    roles: list[Role] = Field(min_length=1, max_length=6)
    region_code: str = _region()
    department_id: uuid.UUID | None = None
    password: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")


class AccountUpdate(BaseModel):
    """Fields to change; those left out stay as they are. Changing roles or region ends the
    account's current sessions (its tokens carry the old ones)."""

    model_config = ConfigDict(extra="forbid")

    display_name: ShortName | None = None
    roles: list[Role] | None = Field(None, min_length=1, max_length=6)
    region_code: str | None = _region(None)
    department_id: uuid.UUID | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    roles: list[Role]
    region_code: str
    department_id: uuid.UUID | None
    active: bool
    locked_until: datetime | None
    created_at: datetime


class PasswordReset(BaseModel):
    """The new password, shown once; the account's tokens stop working and its lockout is lifted."""

    password: str


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._\-]+$")
    name: ShortName
    roles: list[Role] = Field(default_factory=lambda: [Role.machine_client], min_length=1, max_length=6)
    region_code: str = _region()


class ClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortName | None = None
    roles: list[Role] | None = Field(None, min_length=1, max_length=6)
    region_code: str | None = _region(None)


class ClientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: str
    name: str
    roles: list[Role]
    region_code: str
    active: bool
    created_at: datetime


class ClientSecret(BaseModel):
    """A machine client with its secret, shown this once and stored only hashed."""

    client: ClientRead
    client_secret: str
