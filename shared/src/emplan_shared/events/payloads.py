"""Payload schemas of the events in the catalogue, versioned with the event type."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class Department(BaseModel):
    """A department of a region's directory as plan-registry publishes it."""

    id: UUID
    region_code: str = Field(description="GB/T 2260 code of the region the department belongs to")
    name: str = Field(description="official name, e.g. 市应急管理局")
    aliases: list[str] = Field(
        default_factory=list, description="other names that resolve to it, e.g. 市应急局"
    )
    active: bool = True
    version: int = Field(description="increases with every change of the department")


# --------------------------------------------------------------------------------------------- plans
# The structured content of a published plan: what indicator-engine binds targets from and
# task-assignment creates tasks from. Not the document itself (plan-registry keeps that).

DECIMAL_STRING = r"^-?\d+(\.\d+)?$"


class PlanUnit(BaseModel):
    """A unit (department) named by the plan, as written and as the region's directory resolves it."""

    name: str = Field(description="the name as the document writes it, e.g. 市应急局")
    department_id: UUID | None = Field(
        description="the directory department it resolves to; null for a group or an unresolved name"
    )
    match: Literal["exact", "alias", "normalized", "group", "none"] = Field(
        description="how the name was resolved (`group`: several units, e.g. 各县〈市、区〉人民政府)"
    )


class PlanResponsible(BaseModel):
    lead: list[PlanUnit] = Field(description="lead units (牵头)")
    co: list[PlanUnit] = Field(description="co-operating units (配合)")


class PlanTarget(BaseModel):
    """A quantified target. Published plans carry no placeholders."""

    type: Literal["decrease_pct", "max", "min", "equals"] = Field(
        description="decrease_pct: fall by `value` percent; max: at most (strict: below) `value`; min: at "
        "least (strict: above) `value`; equals: `value` itself"
    )
    value: str = Field(pattern=DECIMAL_STRING, description="exact decimal as a string, e.g. `0.03`")
    unit: Literal["%", "‰", "hours", "people"] | None = Field(description="null for a plain number or rate")
    strict: bool = Field(description="true for ＜ / 低于 / 超过; false for 以内 / 达到 / 不少于")


class PlanIndicator(BaseModel):
    id: UUID = Field(description="the item's id; kept by later versions for the same indicator")
    name: str = Field(description="indicator name as written")
    target_text: str = Field(description="the target as written, e.g. 下降15% or ＜0.03")
    target: PlanTarget
    nature: Literal["binding", "expected"] | None = Field(description="约束性 / 预期性; null when not stated")
    group: Literal["core", "sub_goal", "capacity"] = Field(
        description="core: core indicator table or box; sub_goal: goal text; capacity: capacity table"
    )
    baseline_text: str | None = Field(description="基期值 as written, when stated")
    responsible: PlanResponsible | None = Field(description="units named for the indicator; null when none")
    source_lines: list[int] = Field(description="1-based lines of the plan's document")


class PlanSection(BaseModel):
    number: str | None = Field(description="the section's number, half-width, e.g. `(二)`")
    title: str


class PlanTask(BaseModel):
    id: UUID = Field(description="the item's id; kept by later versions for the same task")
    kind: Literal["key_task", "focus_area", "key_project"] = Field(
        description="key_task (重点任务), focus_area (治本攻坚重点), key_project (重点工程)"
    )
    code: str = Field(description="the document's own number for the item, e.g. `(12)`")
    title: str
    description: str
    section: list[PlanSection] = Field(description="enclosing sections, outermost first")
    deadline_year: int | None
    deadline_text: str | None
    lead: list[PlanUnit]
    co: list[PlanUnit]
    source_lines: list[int]


class PlanGoal(BaseModel):
    text: str
    source_lines: list[int]


class PlanPeriod(BaseModel):
    start: int = Field(description="first year, e.g. 2021")
    end: int = Field(description="last year, e.g. 2025")


class ParentPlan(BaseModel):
    title: str = Field(description="the higher-level plan's title as the document names it")
    plan_id: UUID | None = Field(description="the registry's published plan of that title; null if none")


class PlanPublished(BaseModel):
    """A plan version was published: its full structured content."""

    plan_id: UUID = Field(description="this version's id")
    lineage_id: UUID = Field(description="groups the versions of one plan")
    version: int = Field(description="1, 2, … within the lineage")
    supersedes: UUID | None = Field(description="the version this one replaces (now superseded), if any")
    region_code: str = Field(description="GB/T 2260 code of the plan's region")
    region_name: str
    kind: Literal["plan", "implementation_plan"]
    title: str
    period: PlanPeriod
    issuing_body: str | None
    doc_number: str | None = Field(description="e.g. 汶政字〔2022〕57号")
    issued_on: date | None
    parent_plans: list[ParentPlan]
    published_at: datetime
    published_by: str = Field(description="the account that published it")
    document_sha256: str | None = Field(description="SHA-256 of the imported document; null if none")
    goals: list[PlanGoal]
    indicators: list[PlanIndicator]
    tasks: list[PlanTask]


class PlanSuperseded(BaseModel):
    """A published plan version was replaced by a newer published version of the same lineage."""

    plan_id: UUID = Field(description="the version that is no longer current")
    lineage_id: UUID
    version: int
    region_code: str
    superseded_by: UUID = Field(description="the version now published")
    superseded_by_version: int
    superseded_at: datetime


# -------------------------------------------------------------------------------- indicator results
# indicator-engine's judgement of a plan's targets, from approved data values only.

TargetStatusValue = Literal["met", "on_track", "lagging", "seriously_lagging", "no_data"]


class IndicatorStatusChanged(BaseModel):
    """A target's status (序时进度 method) differs from the one last published for it."""

    target_id: UUID = Field(description="indicator-engine's target")
    plan_id: UUID
    item_id: UUID = Field(description="the plan's indicator item (kept across plan versions)")
    region_code: str
    indicator_code: str = Field(description="the bound indicator definition")
    indicator_name: str = Field(description="the name as the plan writes it")
    nature: Literal["binding", "expected"] | None
    previous_status: TargetStatusValue = Field(description="`no_data` for a target judged the first time")
    status: TargetStatusValue
    year: int | None = Field(description="the year judged: the latest complete year; null for no_data")
    value: str | None = Field(pattern=DECIMAL_STRING, description="the value in that year (exact)")
    required_value: str | None = Field(pattern=DECIMAL_STRING, description="序时进度 value due that year")
    target_value: str | None = Field(pattern=DECIMAL_STRING, description="the value the target asks for")
    status_version: int = Field(description="1, 2, … per target: the number of changes so far")


class IndicatorTargetJudged(BaseModel):
    """A target's whole judgement (status and the figures behind it), published whenever any of it
    changes: a new value, a correction, a new baseline, not only a new status. What a read model that
    reports the figures keeps (the evaluation's snapshot); `status.changed` stays for those who only
    follow the status."""

    target_id: UUID = Field(description="indicator-engine's target")
    plan_id: UUID
    item_id: UUID = Field(description="the plan's indicator item (kept across plan versions)")
    region_code: str
    indicator_code: str = Field(description="the bound indicator definition")
    indicator_name: str = Field(description="the name as the plan writes it")
    nature: Literal["binding", "expected"] | None
    unit: str | None = Field(description="the definition's unit, e.g. 人 or 人/亿元; null for a plain number")
    target_type: Literal["decrease_pct", "max", "min", "equals"]
    target_text_value: str = Field(
        pattern=DECIMAL_STRING, description="the target as the plan sets it (the 15 of 下降15%)"
    )
    strict: bool
    baseline_year: int = Field(description="the year the 序时进度 line starts from")
    target_year: int
    status: TargetStatusValue
    year: int | None = Field(description="the year judged (latest complete year); null for no_data")
    value: str | None = Field(pattern=DECIMAL_STRING, description="the value in that year (exact)")
    baseline: str | None = Field(pattern=DECIMAL_STRING, description="the baseline value (基期值)")
    required_value: str | None = Field(pattern=DECIMAL_STRING, description="序时进度 value due that year")
    target_value: str | None = Field(
        pattern=DECIMAL_STRING, description="the value the target asks for (34 for 下降15% of 40)"
    )
    judgement_version: int = Field(description="1, 2, … per target: keep the highest")
    judged_at: datetime
    rules_version: str = Field(description="version of indicator-engine's calculation rules")


class IndicatorWarningRaised(BaseModel):
    """A binding (约束性) target is projected (or observed) to miss its target year."""

    target_id: UUID
    plan_id: UUID
    item_id: UUID
    region_code: str
    indicator_code: str
    indicator_name: str
    target_year: int
    target_value: str = Field(pattern=DECIMAL_STRING)
    strict: bool
    method: Literal["linear_trend", "observed"] = Field(
        description="linear_trend: least-squares line to the target year; observed: the target year's value"
    )
    projected_value: str = Field(
        pattern=DECIMAL_STRING, description="projected or observed target-year value"
    )
    years_used: list[int] = Field(description="the years the projection was drawn through")


# -------------------------------------------------------------------------------------------- tasks
# Work on a task (task-assignment): status changes, overdue notices, and reminders per department.

TaskStatusName = Literal["not_started", "in_progress", "completed", "closed", "returned"]


class TaskStatusChanged(BaseModel):
    """A task's status changed (a first report, a claim of completion, 销号, a return)."""

    task_id: UUID
    plan_id: UUID
    region_code: str = Field(description="the task owner's region")
    code: str | None = Field(description="the document's number for the task, e.g. `(12)`")
    title: str
    from_status: TaskStatusName
    to_status: TaskStatusName
    action: Literal["report", "start", "claim_completion", "close", "return"] = Field(
        description="report: the first report (or one after a return) put the task in progress"
    )
    capacity: Literal["lead", "co", "bureau"] = Field(description="in which capacity the actor acted")
    reason: str | None = Field(description="why it was returned; null otherwise")
    actor: str = Field(description="the account that made the change")
    actor_name: str | None
    department_id: UUID | None = Field(description="the actor's department; null for the bureau")
    version: int = Field(description="the task's version (ETag) after the change")
    changed_at: datetime


class TaskStateReport(BaseModel):
    reported_on: date = Field(description="the day (China time) the report was submitted")
    summary: str = Field(description="the report's milestone or the start of its narrative")
    percent: int | None = Field(ge=0, le=100)


class TaskStateChanged(BaseModel):
    """A task's whole state after a change that matters to an evaluation: created (from a plan, by
    hand, by the county cascade or a ledger import), edited (deadline, units), a progress report, a
    status change. A peer keeps the highest `version` per task."""

    task_id: UUID
    plan_id: UUID
    parent_id: UUID | None = Field(description="the parent of a county sub-task")
    region_code: str = Field(description="the task owner's region")
    region_name: str | None = Field(description="the region's name (the plan's, or the county's)")
    kind: str = Field(description="key_task, focus_area, key_project, or other (a ledger row)")
    code: str | None
    title: str
    deadline: date | None
    status: TaskStatusName
    progress_percent: int = Field(ge=0, le=100)
    lead_departments: list[str] = Field(description="lead units (牵头) by name; unresolved groups as written")
    co_departments: list[str] = Field(description="co-operating units (配合) by name")
    returned_count: int = Field(description="how many times the task was returned (退回)")
    last_report: TaskStateReport | None
    current: bool = Field(description="false once the plan version is superseded")
    plan_start: date = Field(description="first day of the plan period (where the light's time runs from)")
    yellow_within_days: int | None = Field(
        description="the plan's light rule: yellow this close to the deadline; null: the plan has no rule "
        "of its own and task-assignment's defaults apply (30 days)"
    )
    behind_tolerance_pct: int | None = Field(
        description="the plan's light rule: yellow when this far behind time; null: the default (10)"
    )
    version: int = Field(description="the task's version (ETag) after the change")
    cause: Literal["created", "updated", "report", "status"]
    changed_at: datetime


class TaskOverdue(BaseModel):
    """A task passed its deadline with work still owed; published once per task and deadline."""

    task_id: UUID
    plan_id: UUID
    region_code: str
    code: str | None
    title: str
    deadline: date
    status: TaskStatusName
    progress_percent: int = Field(ge=0, le=100)
    lead_department_ids: list[UUID] = Field(description="lead units (牵头), to notify")
    co_department_ids: list[UUID] = Field(description="co-operating units (配合)")
    detected_on: date = Field(description="the day (China time) the scan found it overdue")


class TaskRef(BaseModel):
    task_id: UUID
    plan_id: UUID
    code: str | None
    title: str
    deadline: date | None
    status: TaskStatusName
    role: Literal["lead", "co"] = Field(description="the department's role in the task")


class TaskReminderDue(BaseModel):
    """A department's reminder for a reporting period: what is due, overdue and not reported on.

    At most one per department and period; lists are capped (`*_count` are the full numbers)."""

    department_id: UUID
    department_name: str
    region_code: str
    period: str = Field(description="reporting period, e.g. `2026-Q4` or `2026-11`")
    period_start: date
    period_end: date
    as_of: date
    due_count: int
    overdue_count: int
    not_reported_count: int
    due: list[TaskRef] = Field(description="open tasks whose deadline is near")
    overdue: list[TaskRef]
    not_reported: list[TaskRef] = Field(
        description="open tasks this department has not reported on this period"
    )


# ------------------------------------------------------------------------------------ indicator data
# Data values of indicator-engine: one figure of a data element for a region, year and month.


class IndicatorValueChanged(BaseModel):
    """A data value was entered, corrected, moved through approval, or deleted (one event per value)."""

    value_id: int = Field(description="the value's id in indicator-engine; kept across corrections")
    action: Literal["created", "corrected", "submitted", "approved", "unapproved", "deleted"] = Field(
        description="deleted: the value is gone (its last version is in this payload); a peer that keeps "
        "copies must drop it"
    )
    element_code: str = Field(description="data element code, e.g. ps_deaths")
    region_code: str = Field(description="GB/T 2260 code")
    year: int
    month: int | None = Field(description="1–12 for a monthly figure; null for the whole year")
    value: str = Field(pattern=DECIMAL_STRING, description="exact decimal in the element's canonical unit")
    state: Literal["draft", "submitted", "approved"] = Field(
        description="state after the change (before, for deleted)"
    )
    version: int = Field(description="increases with every change of the value")
    review_flag: str | None = Field(description="`jump`: more than N times last year's value, to be reviewed")
    source: str | None
    actor: str = Field(description="account that made the change")


class IndicatorValuesLoaded(BaseModel):
    """A bulk load (JSON, CSV or .xlsx) stored many values at once; one event for the whole batch."""

    batch_id: UUID
    format: Literal["json", "csv", "xlsx"]
    rows_inserted: int
    rows_updated: int
    rows_flagged: int
    element_codes: list[str] = Field(description="elements the batch touched")
    years: list[int] = Field(description="years the batch touched")
    region_codes: list[str] = Field(description="regions the batch touched")
    actor: str


# ------------------------------------------------------------------------------------------ evaluation
class RankedSubject(BaseModel):
    """One line of a published round's ranking."""

    key: str = Field(description="region code, or the lead department's name")
    name: str
    rank: int = Field(description="equal totals share a rank (1, 2, 2, 4)")
    total: str = Field(description="total score, exact decimal to 0.01, e.g. `81.00`")
    vetoed: bool = Field(description="a missed binding indicator vetoed the subject (一票否决)")


class EvaluationPublished(BaseModel):
    """An approved evaluation round was published; its report is readable without an account."""

    round_id: UUID
    plan_id: UUID
    region_code: str = Field(description="GB/T 2260 code of the plan's region")
    kind: Literal["annual", "mid_term", "final"]
    title: str
    reference_date: date = Field(description="the date the round's figures are as of")
    published_at: datetime
    published_by: str = Field(description="the account that published it")
    report_path: str = Field(description="public path of the HTML report through the gateway")
    rules_version: str = Field(description="version of the calculation rules the snapshot was made with")
    scoring_rules_version: str = Field(description="version of the scoring code that scored it")
    scheme_version: int | None = Field(description="the plan's scoring scheme version; null: the default")
    sources: dict[str, int] = Field(description="stream → last event sequence the figures include")
    regions: list[RankedSubject]
    departments: list[RankedSubject]


# ------------------------------------------------------------------------------------------------ auth
class AccessRevoked(BaseModel):
    """Tokens of an account or machine client issued before `min_version` no longer count
    (disabled, new roles or region, password reset, secret rotated). Every service applies it to
    the tokens it verifies itself, so a revoked token fails even on a call that bypasses the
    gateway."""

    kind: Literal["user", "client"] = Field(description="`user`: an account id; `client`: a client id")
    subject: str = Field(description="the token's `sub`")
    min_version: int = Field(description="tokens whose `ver` is below this are refused")
    reason: str = Field(description="disabled, roles_changed, password_reset, secret_rotated …")
    revoked_at: datetime
