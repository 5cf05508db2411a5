from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from emplan_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TASK_ASSIGNMENT_", extra="ignore")
    service_name: ClassVar[str] = "task-assignment"

    # ---- work on a task (task_assignment.work): evidence, light defaults, scans, reminders
    evidence_max_bytes: int = Field(10 * 1024 * 1024, ge=1, description="largest evidence file accepted")
    evidence_allowed_types: list[str] = Field(
        default_factory=lambda: ["pdf", "docx", "xlsx", "jpg", "jpeg", "png"],
        description="evidence file extensions accepted (content must match; known: + pptx, ofd)",
    )
    light_yellow_within_days: int = Field(
        30, ge=0, le=366, description="yellow when the deadline is this near"
    )
    light_behind_tolerance_pct: int = Field(
        10, ge=0, le=100, description="yellow when progress lags time elapsed by more points than this"
    )
    timezone: str = Field("Asia/Shanghai", description="the calendar day of deadlines and periods")
    scans_enabled: bool = Field(True, description="run the overdue and reminder scans in the background")
    scan_interval_seconds: float = Field(
        3600, gt=0, description="how often the overdue and reminder scans run (each is idempotent)"
    )
    reporting_period: Literal["month", "quarter"] = Field("quarter", description="reminder period")
    reminder_days_before_period_end: int = Field(
        15, ge=0, le=92, description="reminders open this many days before the period ends"
    )
    reminder_due_within_days: int = Field(
        30, ge=0, le=366, description="a task is 'due' in a reminder this near its deadline"
    )
