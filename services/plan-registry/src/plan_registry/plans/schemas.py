"""The plans API: the import result, a plan as stored, its changes and its alignment report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from emplan_shared.types import Name, Text
from plan_registry.directory.schemas import RegionLevel, UnitResolution

DECIMAL = r"^-?\d{1,15}(\.\d{1,10})?$"
DecimalText = Annotated[str, StringConstraints(pattern=DECIMAL)]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
Year = Annotated[int, Field(ge=1949, le=2100)]
Lines = Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=1000)]


class PlanStatus(StrEnum):
    draft = "draft"
    published = "published"
    superseded = "superseded"


class PlanKind(StrEnum):
    plan = "plan"
    implementation_plan = "implementation_plan"


class TargetType(StrEnum):
    decrease_pct = "decrease_pct"
    max = "max"
    min = "min"
    equals = "equals"
    placeholder = "placeholder"


class TargetUnit(StrEnum):
    percent = "%"
    permille = "‰"
    hours = "hours"
    people = "people"


class IndicatorNature(StrEnum):
    binding = "binding"
    expected = "expected"


class IndicatorGroup(StrEnum):
    core = "core"
    sub_goal = "sub_goal"
    capacity = "capacity"


class TaskKind(StrEnum):
    key_task = "key_task"
    focus_area = "focus_area"
    key_project = "key_project"


class Verdict(StrEnum):
    stronger = "stronger"
    equal = "equal"
    weaker = "weaker"
    incomparable = "incomparable"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------ content


class RegionRef(BaseModel):
    name: str | None = Field(description="the region's name", examples=["忻州市"])
    code: str | None = Field(description="GB/T 2260 code; null when the directory has no single match")
    level: RegionLevel | None


class PeriodOut(BaseModel):
    start: int | None = Field(description="first year, e.g. 2021")
    end: int | None = Field(description="last year, e.g. 2025")


class Target(_In):
    type: TargetType = Field(
        description="decrease_pct: fall by `value` percent; max: at most (strict: below) `value`; min: at "
        "least (strict: above) `value`; equals: `value` itself; placeholder: the template left a blank (xx%)"
    )
    value: DecimalText | None = Field(description="exact decimal as a string; null only for a placeholder")
    unit: TargetUnit | None = Field(description="null for a plain number or rate")
    strict: bool = Field(
        description="true for ＜ / 低于 / 小于 / 超过; false for 以内 / 控制在 / 达到 / 不少于"
    )

    @model_validator(mode="after")
    def _value_matches_type(self) -> Target:
        if (self.type == TargetType.placeholder) != (self.value is None):
            raise ValueError("value 仅在 type 为 placeholder 时为 null")
        return self


class Responsible(_In):
    lead: list[Name] = Field(max_length=100, description="lead units (牵头) as written")
    co: list[Name] = Field(max_length=200, description="co-operating units (配合) as written")


class SectionRef(_In):
    number: Annotated[str, StringConstraints(max_length=20)] | None
    title: Text


class Section(BaseModel):
    number: str | None = Field(description="the section's number, half-width, e.g. `(二)`")
    title: str
    level: int = Field(description="1 for top-level sections")
    source_lines: list[int]
    children: list[Section]


class Goal(_In):
    text: Text
    source_lines: Lines = Field(default_factory=list)


class Indicator(BaseModel):
    id: uuid.UUID = Field(description="the item's id; later versions of the plan keep it")
    name: str = Field(examples=["生产安全事故死亡人数"])
    target_text: str = Field(description="the target as written", examples=["下降15%"])
    target: Target
    nature: IndicatorNature | None = Field(description="约束性 / 预期性; null when not stated")
    group: IndicatorGroup = Field(
        description="core: core indicator table or box; sub_goal: goal text; capacity: capacity table"
    )
    baseline_text: str | None = Field(description="基期值 as written, when stated")
    responsible: Responsible | None = Field(description="units named for the indicator; null when none")
    source_lines: list[int] = Field(description="1-based lines of the document")


class Task(BaseModel):
    id: uuid.UUID = Field(description="the item's id; later versions of the plan keep it")
    kind: TaskKind = Field(
        description="key_task (重点任务), focus_area (治本攻坚重点), key_project (重点工程)"
    )
    code: str = Field(description="the document's own number, e.g. `(12)`")
    title: str
    description: str
    section: list[SectionRef] = Field(description="enclosing sections, outermost first")
    deadline_year: int | None
    deadline_text: str | None = Field(description="the time phrase the deadline was read from")
    lead: list[str] = Field(description="lead units (牵头单位) as written")
    co: list[str] = Field(description="co-operating units (配合单位) as written")
    source_lines: list[int] = Field(description="1-based lines of the document")


class ImportWarning(BaseModel):
    code: str = Field(description="stable reason, e.g. `placeholder_target`, `unresolved_unit`")
    line: int | None = Field(description="1-based line of the document; null when none applies")
    text: str = Field(description="the text that could not be placed, as written")
    detail: str = Field(description="explanation in Chinese")


class DocumentInfo(BaseModel):
    filename: str | None
    media_type: str = Field(examples=["text/plain"])
    sha256: str
    size_bytes: int
    line_count: int = Field(description="lines of the decoded text that source_lines refer to")


class PlanImportResult(BaseModel):
    """The structured plan read from a document, with what could not be placed."""

    plan_id: uuid.UUID | None = Field(description="the saved draft; null for a dry run")
    dry_run: bool
    status: PlanStatus | None = Field(description="`draft` when saved; null for a dry run")
    title: str | None
    kind: PlanKind
    region: RegionRef
    period: PeriodOut
    issuing_body: str | None
    doc_number: str | None = Field(examples=["汶政字〔2022〕57号"])
    issued_on: date | None
    parent_plans: list[str] = Field(description="titles of the higher-level plans the document names")
    sections: list[Section]
    goals: list[Goal]
    indicators: list[Indicator]
    tasks: list[Task]
    units: list[UnitResolution] = Field(description="every unit name of the plan, resolved in the region")
    warnings: list[ImportWarning]
    document: DocumentInfo


# ------------------------------------------------------------------------------------------- stored


class ParentPlanLink(BaseModel):
    title: str
    plan_id: uuid.UUID | None = Field(description="the registry's published plan of that title; null if none")


class PlanSummary(BaseModel):
    id: uuid.UUID
    lineage_id: uuid.UUID = Field(description="shared by the versions of one plan")
    version: int
    status: PlanStatus
    kind: PlanKind
    title: str | None
    region: RegionRef
    period: PeriodOut
    doc_number: str | None
    issued_on: date | None
    indicator_count: int
    task_count: int
    warning_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class PlanRead(PlanSummary):
    revision: int = Field(description="increases with every change; the ETag")
    issuing_body: str | None
    parent_plans: list[ParentPlanLink]
    derived_from_id: uuid.UUID | None = Field(description="the published version this draft was made from")
    superseded_by_id: uuid.UUID | None
    superseded_at: datetime | None
    created_by: str
    updated_by: str
    published_by: str | None
    document: DocumentInfo | None
    sections: list[Section]
    goals: list[Goal]
    indicators: list[Indicator]
    tasks: list[Task]
    units: list[UnitResolution]
    warnings: list[ImportWarning]


class IndicatorIn(_In):
    id: uuid.UUID | None = Field(None, description="keep an existing item's id; omitted for a new item")
    name: Name
    target_text: Name
    target: Target
    nature: IndicatorNature | None = None
    group: IndicatorGroup = IndicatorGroup.core
    baseline_text: (
        Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] | None
    ) = None
    responsible: Responsible | None = None
    source_lines: Lines = Field(default_factory=list)


class TaskIn(_In):
    id: uuid.UUID | None = Field(None, description="keep an existing item's id; omitted for a new item")
    kind: TaskKind
    code: Annotated[str, StringConstraints(max_length=20, pattern=r"^[^\x00-\x1f\x7f]*$")]
    title: Text
    description: Text = ""
    section: list[SectionRef] = Field(default_factory=list, max_length=10)
    deadline_year: Year | None = None
    deadline_text: (
        Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] | None
    ) = None
    lead: list[Name] = Field(default_factory=list, max_length=100)
    co: list[Name] = Field(default_factory=list, max_length=200)
    source_lines: Lines = Field(default_factory=list)


class PeriodIn(_In):
    start: Year
    end: Year

    @model_validator(mode="after")
    def _ordered(self) -> PeriodIn:
        if self.end < self.start:
            raise ValueError("end 不能早于 start")
        return self


class PlanUpdate(_In):
    """The fields of a draft to change; those left out keep their value. Lists replace the whole list."""

    title: Title | None = None
    kind: PlanKind | None = None
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    period: PeriodIn | None = None
    issuing_body: Name | None = None
    doc_number: Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = (
        None
    )
    issued_on: date | None = None
    parent_plans: list[Title] | None = Field(None, max_length=50)
    goals: list[Goal] | None = Field(None, max_length=1000)
    indicators: list[IndicatorIn] | None = Field(None, max_length=2000)
    tasks: list[TaskIn] | None = Field(None, max_length=5000)

    @model_validator(mode="after")
    def _no_nulls_for_required(self) -> PlanUpdate:
        for field in ("kind", "region_code", "parent_plans", "goals", "indicators", "tasks"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} 不能为 null；不修改的字段请省略")
        return self


# ---------------------------------------------------------------------------------------- alignment


class IndicatorRef(BaseModel):
    id: uuid.UUID
    name: str
    target_text: str
    target: Target


class ParentRef(BaseModel):
    title: str = Field(description="as the plan names it")
    plan_id: uuid.UUID | None = Field(
        description="the published plan of that title; null if not in the registry"
    )
    region_code: str | None
    region_name: str | None
    version: int | None


class AlignmentPair(BaseModel):
    indicator: IndicatorRef = Field(description="the plan's own target")
    parent_plan_id: uuid.UUID
    parent_indicator: IndicatorRef = Field(description="the parent plan's target for the same indicator")
    verdict: Verdict = Field(
        description="stronger / equal / weaker: how demanding the plan's target is against the parent's; "
        "incomparable: different target types or units, for a person to judge"
    )
    needs_review: bool = Field(description="true when a person must judge (verdict incomparable)")
    detail: str = Field(description="the comparison in Chinese")


class OmittedTarget(BaseModel):
    parent_plan_id: uuid.UUID
    indicator: IndicatorRef


class AlignmentReport(BaseModel):
    plan_id: uuid.UUID
    parents: list[ParentRef] = Field(description="every parent plan the plan names, linked or not")
    pairs: list[AlignmentPair]
    unmatched: list[IndicatorRef] = Field(description="the plan's targets no parent plan states")
    omitted: list[OmittedTarget] = Field(description="parents' targets the plan leaves out")
