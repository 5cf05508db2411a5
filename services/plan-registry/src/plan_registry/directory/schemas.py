from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.types import Name, ShortName


class RegionLevel(StrEnum):
    province = "province"
    city = "city"
    county = "county"


RegionCode = Field(pattern=r"^\d{6}$", description="GB/T 2260 six-digit code", examples=["140900"])


class RegionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = RegionCode
    name: ShortName = Field(examples=["忻州市"])
    level: RegionLevel
    parent_code: str | None = Field(None, pattern=r"^\d{6}$")


class RegionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: RegionLevel
    parent_code: str | None


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_code: str = RegionCode
    name: Name = Field(examples=["市应急管理局"])
    aliases: list[Name] = Field(default_factory=list, max_length=50, examples=[["市应急局"]])


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    region_code: str
    name: str
    aliases: list[str]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime
