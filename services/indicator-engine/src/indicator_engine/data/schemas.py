from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from indicator_engine.data.models import ANNUAL


def _encodable(value: str) -> str:
    # A lone surrogate (JSON `\ud800`) passes the pattern but cannot be stored or echoed back.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("包含无法编码的字符") from exc
    return value


ShortText = Annotated[
    str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$"), AfterValidator(_encodable)
]
Token = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$"), AfterValidator(_encodable)
]


class ValueState(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"


class ValueAction(StrEnum):
    created = "created"
    corrected = "corrected"
    submitted = "submitted"
    approved = "approved"
    unapproved = "unapproved"
    deleted = "deleted"


class BulkFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class DataValueIn(BaseModel):
    """One figure as entered. Numbers as strings keep them exact (`"0.035"`); integers may be numbers."""

    model_config = ConfigDict(extra="forbid")

    element_code: Token = Field(examples=["ps_deaths"])
    region_code: Token = Field(description="GB/T 2260 code", examples=["140902"])
    year: StrictInt | Token = Field(examples=[2021])
    month: StrictInt | Token | None = Field(
        None, description="1–12 for a monthly figure; omit for the whole year"
    )
    value: Token | StrictInt = Field(
        description="exact decimal; full-width digits accepted, thousands separators, NaN and Infinity not",
        examples=["12"],
    )
    unit: Token | None = Field(None, description="unit written, converted to the element's unit (万人 → 人)")
    source: ShortText | None = Field(None, examples=["市统计局年报"])


class DataValueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    element_code: str
    region_code: str
    year: int
    month: int | None = Field(description="null for the whole year")
    value: str = Field(description="exact decimal in the element's canonical unit")
    source: str | None
    state: ValueState
    review_flag: str | None = Field(description="`jump`: more than N times last year's value, to be reviewed")
    version: int
    batch_id: uuid.UUID | None
    entered_by: str
    entered_at: datetime
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, row: object) -> DataValueRead:
        data = {name: getattr(row, name) for name in cls.model_fields}
        data["month"] = None if data["month"] == ANNUAL else data["month"]
        data["value"] = plain(data["value"])
        return cls.model_validate(data)


class DataValueVersion(BaseModel):
    """One version of a value: a superseded one (with what replaced it) or the current one."""

    version: int
    value: str
    state: ValueState
    source: str | None
    review_flag: str | None
    entered_by: str
    entered_at: datetime
    superseded_by_action: ValueAction | None = Field(description="null for the current version")
    superseded_by: str | None
    superseded_at: datetime | None


class DataValueHistoryRead(BaseModel):
    value_id: int
    element_code: str
    region_code: str
    year: int
    month: int | None
    deleted: bool
    versions: list[DataValueVersion] = Field(description="oldest first")


class RejectedRow(BaseModel):
    row: int = Field(description="1-based: CSV line (header is 1), sheet row, or item of the JSON list")
    field: str | None = Field(description="column at fault; null for the row as a whole")
    code: str = Field(description="stable reason code, e.g. negative, thousands_separator, duplicate")
    detail: str = Field(description="the reason, in Chinese")


class BulkValuesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[DataValueIn] = Field(min_length=1, max_length=100_000)


class BulkLoadReport(BaseModel):
    batch_id: uuid.UUID | None = Field(description="null when nothing was stored")
    format: BulkFormat
    partial: bool
    rows_total: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int = Field(description="rows equal to the stored value: nothing written")
    rows_rejected: int
    rows_flagged: int = Field(description="stored with review_flag `jump`")
    rejected: list[RejectedRow] = Field(description="the first 1,000 rejected rows")


def plain(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent), trailing zeros kept as entered."""
    return format(value, "f")
