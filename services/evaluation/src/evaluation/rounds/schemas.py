from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.types import Name, Text
from evaluation.domain.comparison import Change
from evaluation.domain.scheme import ScoringScheme
from evaluation.domain.scoring import BonusAward, LineKind, SubjectKind
from evaluation.domain.snapshot import TargetStatus


class RoundKind(StrEnum):
    """年度监测分析 / 中期评估 / 总结评估."""

    annual = "annual"
    mid_term = "mid_term"
    final = "final"


class SnapshotOrigin(StrEnum):
    read_model = "read_model"
    posted = "posted"


class RoundStatus(StrEnum):
    draft = "draft"
    under_review = "under_review"
    approved = "approved"
    published = "published"


# ----------------------------------------------------------------------------------------------- schemes


class SchemeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: uuid.UUID
    rules: ScoringScheme = Field(
        description="the scheme's rules; weights for indicators and tasks add up to 100"
    )


class SchemeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID | None = Field(description="null for the built-in default scheme")
    plan_id: uuid.UUID | None
    version: int | None = Field(description="1, 2, … per plan; null for the built-in default")
    rules: ScoringScheme
    created_at: datetime | None
    created_by: str | None


# ------------------------------------------------------------------------------------------------ rounds


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: uuid.UUID
    kind: RoundKind
    reference_date: date = Field(description="the date the figures are taken as of; inside the plan period")
    title: Name | None = Field(
        None, description="defaults to the plan title and the kind, e.g. …中期评估报告"
    )
    scheme_id: uuid.UUID | None = Field(
        None, description="a scheme version of the plan; null: the newest, or the default"
    )


class RoundUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Name | None = None
    reference_date: date | None = None
    scheme_id: uuid.UUID | None = None
    bonus_awards: list[BonusAward] | None = Field(None, max_length=1000)


class RoundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    region_code: str
    kind: RoundKind
    reference_date: date
    title: str
    status: RoundStatus
    scheme_id: uuid.UUID | None
    bonus_awards: list[BonusAward]
    has_snapshot: bool
    snapshot_at: datetime | None
    snapshot_origin: SnapshotOrigin | None = Field(
        description="read_model: taken from the service's read model when the round started (or "
        "refreshed); posted: a system administrator's override"
    )
    snapshot_sources: dict[str, int] | None = Field(
        description="stream → sequence of the last event the snapshot includes"
    )
    calculation_rules_version: str | None = Field(
        description="the calculation rules the snapshot's figures were made with"
    )
    scoring_rules_version: str | None = Field(description="the scoring code's version, frozen at approval")
    previous_round_id: uuid.UUID | None
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    published_at: datetime | None
    published_by: str | None


class PublicRoundRead(BaseModel):
    """What anyone may read about a published round."""

    id: uuid.UUID
    plan_id: uuid.UUID
    region_code: str
    kind: RoundKind
    reference_date: date
    title: str
    published_at: datetime
    report_html: str = Field(description="public path of the HTML report")
    report_docx: str
    report_xlsx: str


class SnapshotAccepted(BaseModel):
    round_id: uuid.UUID
    targets: int
    tasks: int
    sources: dict[str, int]
    rules_version: str
    snapshot_at: datetime


# ---------------------------------------------------------------------------------------------- measures


class MeasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problem: Text = Field(min_length=1, max_length=2000, description="the problem found")
    measure: Text = Field(min_length=1, max_length=5000, description="what will be done about it")
    department: Name | None = Field(None, description="the unit responsible")
    due_date: date | None = None


class MeasureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round_id: uuid.UUID
    problem: str
    measure: str
    department: str | None
    due_date: date | None
    created_at: datetime
    created_by: str


# ------------------------------------------------------------------------------------------------ scores


class LineItemRead(BaseModel):
    kind: LineKind
    ref: str
    label: str
    points: Decimal
    max_points: Decimal | None
    reason: str


class SubjectScoreRead(BaseModel):
    kind: SubjectKind
    key: str
    name: str
    rank: int
    total: Decimal
    indicator_points: Decimal
    task_points: Decimal
    deductions: Decimal
    bonus: Decimal
    vetoed: bool
    target_count: int
    task_count: int
    overdue_count: int
    lines: list[LineItemRead]


class SubjectChangeRead(BaseModel):
    kind: SubjectKind
    key: str
    name: str
    change: Change
    previous_total: Decimal | None
    current_total: Decimal | None
    delta: Decimal | None
    previous_rank: int | None
    current_rank: int | None


class TargetChangeRead(BaseModel):
    region_code: str
    region_name: str
    target_id: str
    indicator_name: str
    change: Change
    previous_status: TargetStatus | None
    current_status: TargetStatus | None


class ScoresRead(BaseModel):
    round_id: uuid.UUID
    frozen: bool = Field(description="true once approved: the scores no longer change")
    rules_version: str
    scheme_version: int | None
    previous_round_id: uuid.UUID | None
    regions: list[SubjectScoreRead]
    departments: list[SubjectScoreRead]
    subject_changes: list[SubjectChangeRead]
    target_changes: list[TargetChangeRead]
