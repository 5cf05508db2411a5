from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emplan_shared.types import Name, ShortName


class RegionLevel(StrEnum):
    country = "country"
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

    code: str = Field(examples=["140900"])
    name: str = Field(examples=["忻州市"])
    short_name: str = Field(description="the name without its level suffix", examples=["忻州"])
    level: RegionLevel = Field(
        description="`country` (000000 全国), `province` (also 直辖市 and 特别行政区), `city` (地级市, 地区, "
        "自治州, 盟), `county` (市辖区, 县, 县级市, 旗, … including 省直辖县级市, whose parent is the province)"
    )
    parent_code: str | None = Field(examples=["140000"])


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_code: str = RegionCode
    name: Name = Field(examples=["市应急管理局"])
    aliases: list[Name] = Field(default_factory=list, max_length=50, examples=[["市应急局"]])


class DepartmentUpdate(BaseModel):
    """The fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, examples=["市应急管理局"])
    aliases: list[Name] | None = Field(None, max_length=50, examples=[["市应急局"]])
    active: bool | None = Field(None, description="false: kept for history, no longer resolved")

    @model_validator(mode="after")
    def _no_nulls(self) -> DepartmentUpdate:
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} 不能为 null；不修改的字段请省略")
        return self


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


UnitMatch = Literal["exact", "alias", "normalized", "group", "none"]


class UnitResolution(BaseModel):
    """How one unit name of a document maps onto the region's departments."""

    name: str = Field(description="the name as written in the document", examples=["市应急局"])
    department_id: uuid.UUID | None = Field(description="null for a group or a name that matches nothing")
    department_name: str | None = Field(examples=["市应急管理局"])
    match: UnitMatch = Field(
        description=(
            "`exact`: the department's name; `alias`: one of its aliases (its own or the catalogue's); "
            "`normalized`: equal after normalisation (width, brackets, 和/与/及, the region's own "
            "designation in front); `group`: a name for several units (各县〈市、区〉人民政府, "
            "有关部门), never resolved; `none`: no department, or more than one equally close"
        )
    )


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_code: str = RegionCode
    names: list[Name] = Field(
        min_length=1,
        max_length=500,
        examples=[["市应急局", "市规划自然资源局", "各县（市、区）人民政府"]],
        description="unit names as a document writes them",
    )


class ResolveResult(BaseModel):
    region_code: str
    items: list[UnitResolution] = Field(description="one per name, in the order given")
