"""The parsed plan: the API contract the front-end teams and the other services build on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PlanKind = Literal["plan", "implementation_plan"]
RegionLevel = Literal["province", "city", "county"]
TargetType = Literal["decrease_pct", "max", "min", "equals", "placeholder"]
TargetUnit = Literal["%", "‰", "hours", "people"]
Nature = Literal["binding", "expected"]
IndicatorGroup = Literal["core", "sub_goal", "capacity"]
TaskKind = Literal["key_task", "focus_area", "key_project"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Region(_Model):
    name: str | None = Field(
        description="Region named by the document, e.g. 某某市; null when none was found."
    )
    code: str | None = Field(
        default=None, description="GB/T 2260 code; always null here, resolved later against the directory."
    )
    level: RegionLevel | None = Field(description="Administrative level read from the name's suffix.")


class Period(_Model):
    start: int | None = Field(description="First year of the plan period (2021 for 十四五).")
    end: int | None = Field(description="Last year of the plan period (2025 for 十四五).")


class SectionRef(_Model):
    number: str | None = Field(
        description="The section's own number, half-width, e.g. `(二)`, `3.`, `专栏2`."
    )
    title: str = Field(description="The section's title as written.")


class Section(_Model):
    number: str | None = Field(description="The section's own number, half-width, e.g. `一、`, `(1)`.")
    title: str = Field(description="Title: the heading text, or the first sentence of a numbered paragraph.")
    level: int = Field(description="Depth in the tree, 1 for the top-level sections.")
    source_lines: list[int] = Field(description="1-based lines of the heading in the decoded text.")
    children: list[Section] = Field(description="Subsections in document order.")


class Goal(_Model):
    text: str = Field(description="One goal statement as written, without its list number.")
    source_lines: list[int] = Field(description="1-based lines of the statement in the decoded text.")


class Target(_Model):
    type: TargetType = Field(
        description="decrease_pct: fall by value percent; max: at most (or below) value; min: at least (or "
        "above) value; equals: value itself; placeholder: the template left a blank such as `xx%`."
    )
    value: Decimal | None = Field(description="Exact number as written; null only for placeholders.")
    unit: TargetUnit | None = Field(description="Unit of value; null for a plain number or rate.")
    strict: bool = Field(
        description="True for ＜ / 低于 / 小于 / 超过; false for 以内 / 控制在 / 达到 / 不少于."
    )


class Responsible(_Model):
    lead: list[str] = Field(description="Lead units (牵头), as written.")
    co: list[str] = Field(description="Co-operating units (配合 / 参与 / 按职责分工负责), as written.")


class Indicator(_Model):
    name: str = Field(description="Indicator name as written.")
    target_text: str = Field(description="Target exactly as written, full-width characters kept.")
    target: Target = Field(description="The target read from target_text.")
    nature: Nature | None = Field(description="约束性 → binding, 预期性 → expected; null when not stated.")
    group: IndicatorGroup = Field(
        description="core: core indicator table or box; sub_goal: quantified target inside goal text; "
        "capacity: a capacity-building indicator table."
    )
    responsible: Responsible | None = Field(description="Units named for this indicator; null when none.")
    baseline_text: str | None = Field(description="基期值 / 现状值 as written, when the table gives one.")
    source_lines: list[int] = Field(description="1-based lines the indicator was read from.")


class Task(_Model):
    kind: TaskKind = Field(
        description="key_task (重点任务), focus_area (治本攻坚重点), key_project (重点工程)."
    )
    code: str = Field(description="The document's own number for the item, half-width, e.g. `(12)`, `3.`.")
    title: str = Field(description="Short title: the item's heading or first sentence.")
    description: str = Field(description="The rest of the item's text, without the responsibility note.")
    section: list[SectionRef] = Field(description="Path of enclosing sections, outermost first.")
    deadline_year: int | None = Field(
        description="Latest year the item's text sets (own text first, then "
        "the enclosing group's); null when none."
    )
    deadline_text: str | None = Field(description="The time phrase the deadline was read from, as written.")
    lead: list[str] = Field(description="Lead units (牵头单位), as written.")
    co: list[str] = Field(description="Co-operating units (配合单位), as written.")
    source_lines: list[int] = Field(description="1-based lines of the item in the decoded text.")


class ParseWarning(_Model):
    code: str = Field(description="Stable machine-readable reason, e.g. `placeholder_target`.")
    line: int | None = Field(description="1-based line the problem was found on.")
    text: str = Field(description="The text that could not be placed, as written.")
    detail: str = Field(description="Explanation in Chinese for the bureau.")


class ParsedPlan(_Model):
    title: str | None = Field(description="The plan's title; null when the document does not state one.")
    kind: PlanKind = Field(description="implementation_plan for a 实施方案, otherwise plan.")
    region: Region = Field(description="The region the plan is for.")
    period: Period = Field(description="Plan period in years.")
    issuing_body: str | None = Field(description="Body that issued the document, when it signs it.")
    doc_number: str | None = Field(description="Document number such as 汶政字〔2022〕57号.")
    issued_on: date | None = Field(description="Date of issue, when the document states one.")
    parent_plans: list[str] = Field(description="Titles of the higher-level plans the preamble names.")
    sections: list[Section] = Field(description="The section tree, top-level sections first.")
    goals: list[Goal] = Field(description="Goal statements from the goal sections.")
    indicators: list[Indicator] = Field(description="Every quantified target found.")
    tasks: list[Task] = Field(description="Key tasks, focus areas and key projects in document order.")
    warnings: list[ParseWarning] = Field(description="What the parser could not place, with line numbers.")
