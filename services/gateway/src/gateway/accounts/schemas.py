from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.auth import Role
from emplan_shared.types import ShortName


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._@\-]+$")
    display_name: ShortName
    roles: list[Role] = Field(min_length=1)
    region_code: str = Field(pattern=r"^\d{6}$")
    department_id: uuid.UUID | None = None
    password: str


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._\-]+$")
    name: ShortName
    roles: list[Role] = Field(default_factory=lambda: [Role.machine_client], min_length=1)
    region_code: str = Field(pattern=r"^\d{6}$")
