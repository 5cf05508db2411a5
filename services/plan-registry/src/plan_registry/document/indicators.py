"""Indicators and goals: rows of indicator tables, and quantified targets inside goal statements."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .lines import Para
from .models import Goal, Indicator, IndicatorGroup, Nature, ParseWarning, Responsible
from .normalize import bracket_depths, squeeze
from .notes import Notes
from .numbering import leading_number
from .sections import Node
from .tables import Table
from .targets import COMPARATOR, NUMBER, PLACEHOLDER, read_target
from .units import Responsibility

_GOAL_TITLE = re.compile(r"目标")
_NATURES: dict[str, Nature] = {"约束性": "binding", "预期性": "expected"}
_LABEL_ONLY = re.compile(r"^[^,。;]{2,20}:$")
_NOTE_LINE = re.compile(r"^(?:注|备注|说明)\s*\d*\s*:")
# A quantity after a comparison word: 达到 80% / 超过 60% / 缩短至 10 小时以内 / 下降 xx%.
_QUANTITY = re.compile(
    rf"(?P<cmp>{COMPARATOR})\s*(?P<value>{NUMBER}|{PLACEHOLDER})\s*(?P<unit>%|‰|个百分点|小时|h|万?人|名|[\u4e00-\u9fff]{{1,4}})?\s*(?P<suffix>以上|以内|之内|以下|内)?"
)
# A duration written without a comparison word: 受灾人员 10 小时内得到有效救助.
_WITHIN = re.compile(rf"(?P<value>{NUMBER})\s*(?P<unit>小时|h)\s*(?P<suffix>以内|之内|内)")
_NOT_TARGETS = re.compile(r"^[年月日号届次期批]")
# Adverbs between a name and its comparison word: 机械化率均达到45%, 机械化率分别达到65%.
_NAME_SUFFIX = re.compile(r"(?:均|分别|总体|全部|都|要|将|力争|稳定|基本)+$")
_NAME_PREFIX = re.compile(r"^(?:到\s*\d{4}\s*年|\d{4}\s*年(?:前|底前)?|其中|力争|并且|并|且|使|全面|确保)+")


def _group(caption: str) -> IndicatorGroup:
    if "核心" in caption:
        return "core"
    if "能力" in caption:
        return "capacity"
    return "core"


def _responsible(responsibility: Responsibility | None) -> Responsible | None:
    if responsibility is None:
        return None
    return Responsible(lead=responsibility.lead, co=responsibility.co)


def table_indicators(table: Table, context: str, notes: Notes) -> tuple[list[Indicator], list[ParseWarning]]:
    """One indicator per row of a table with an indicator-name column and a target column."""
    indicators: list[Indicator] = []
    warnings = list(table.warnings)
    group = _group((table.caption or "") + context)
    for row in table.rows:
        name, target_text = row.cells.get("name"), row.cells.get("target")
        if not name or not target_text:
            continue
        reading = read_target(target_text)
        unit = row.cells.get("unit", "").strip()
        if unit and reading.target is not None and reading.target.unit is None:
            # The unit has its own column (单位: % / 人 / 小时); the target cell holds the number.
            reading = read_target(target_text + unit)
        if reading.target is None:
            warnings.append(_target_warning(reading.problem, target_text, row.lines[0]))
            continue
        if reading.target.type == "placeholder":
            warnings.append(_placeholder_warning(target_text, row.lines[0]))
        nature_text = re.sub(r"\s+", "", row.cells.get("nature", ""))
        nature = _NATURES.get(nature_text)
        if nature_text and nature is None:
            warnings.append(
                ParseWarning(
                    code="nature_unknown",
                    line=row.lines[0],
                    text=nature_text,
                    detail="指标性质应为约束性或预期性",
                )
            )
        indicators.append(
            Indicator(
                name=squeeze(name),
                target_text=target_text,
                target=reading.target,
                nature=nature,
                group=group,
                responsible=_responsible(notes.row(row)),
                baseline_text=row.cells.get("baseline"),
                source_lines=row.lines,
            )
        )
    return indicators, warnings


def _target_warning(problem: str | None, text: str, line: int) -> ParseWarning:
    if problem == "unsupported_unit":
        return ParseWarning(
            code="unsupported_unit", line=line, text=text, detail="目标值的计量单位暂不支持，未生成指标"
        )
    return ParseWarning(
        code="target_not_understood", line=line, text=text, detail="无法识别目标值的写法，未生成指标"
    )


def _placeholder_warning(text: str, line: int) -> ParseWarning:
    return ParseWarning(
        code="placeholder_target", line=line, text=text, detail="目标值为占位符，尚未填写实际数值"
    )


def goal_roots(root: Node) -> list[Node]:
    """Sections about goals: titles with 目标 that contain no more specific goal section."""
    roots: list[Node] = []
    for node in root.walk():
        if node.kind in ("heading", "item") and _GOAL_TITLE.search(node.title):
            inner = [
                d
                for d in node.walk()
                if d is not node and d.kind in ("heading", "item") and _GOAL_TITLE.search(d.title)
            ]
            if not inner:
                roots.append(node)
    return roots


def _goal_paras(node: Node, notes: Notes) -> Iterator[tuple[Para, int]]:
    """(paragraph, offset where its statement starts) for every goal statement under a goal root."""
    for current in node.walk():
        if current.kind == "entry" or current.kind in ("box", "list"):
            continue
        if current.head is not None and current.kind == "item":
            number = leading_number(current.head.norm)
            yield current.head, number.end if number else 0
        for item in current.content:
            if not isinstance(item, Para) or notes.statement(item) is not None:
                continue
            if _LABEL_ONLY.match(item.norm.strip()) or _NOTE_LINE.match(item.norm) or item.cells is not None:
                continue
            yield item, 0


def _clauses(para: Para, start: int) -> Iterator[tuple[int, int]]:
    depths = bracket_depths(para.norm)
    begin = start
    for index in range(start, len(para.norm)):
        if para.norm[index] in "。;,!?" and depths[index] == 0:
            yield begin, index
            begin = index + 1
    if begin < len(para.norm):
        yield begin, len(para.norm)


def goal_indicators(root: Node, notes: Notes) -> tuple[list[Goal], list[Indicator], list[ParseWarning]]:
    goals: list[Goal] = []
    indicators: list[Indicator] = []
    warnings: list[ParseWarning] = []
    for goal_root in goal_roots(root):
        responsible = _statement_for(goal_root, notes)
        for para, start in _goal_paras(goal_root, notes):
            text = para.text[start:].strip()
            if text:
                goals.append(Goal(text=text, source_lines=para.lines))
            for begin, end in _clauses(para, start):
                found, problems = _clause_targets(para, begin, end, responsible)
                indicators += found
                warnings += problems
    return goals, indicators, warnings


def _statement_for(node: Node, notes: Notes) -> Responsible | None:
    """A note standing alone in a goal section (市应急局牵头，…按职责分工负责。) covers its goals."""
    for current in [node, *reversed(node.path())]:
        for para in current.own_paras():
            statement = notes.statement(para)
            if statement is not None:
                return _responsible(statement)
    for current in node.walk():
        for item in current.content:
            if isinstance(item, Para) and notes.statement(item) is not None:
                return _responsible(notes.statement(item))
    return None


def _clause_targets(
    para: Para, begin: int, end: int, responsible: Responsible | None
) -> tuple[list[Indicator], list[ParseWarning]]:
    clause = para.norm[begin:end]
    indicators: list[Indicator] = []
    warnings: list[ParseWarning] = []
    name_start = 0
    matches = list(_QUANTITY.finditer(clause)) or list(_WITHIN.finditer(clause))
    for match in matches:
        unit = match.group("unit") or ""
        if _NOT_TARGETS.match(unit):
            continue
        target_text = para.text[begin + match.start() : begin + match.end()].strip()
        if "cmp" in match.groupdict():
            name = para.text[begin + name_start : begin + match.start()]
        else:
            name = (
                para.text[begin + name_start : begin + match.start()] + para.text[begin + match.end() : end]
            )
        name = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", squeeze(name).strip("、和及与 ")))
        name_start = match.end()
        if len(name) < 4:
            continue
        line = para.lines_for(begin + match.start(), begin + match.end())[0]
        reading = read_target(target_text)
        if reading.target is None:
            warnings.append(_target_warning(reading.problem, squeeze(para.text[begin:end]), line))
            continue
        if reading.target.type == "placeholder":
            warnings.append(_placeholder_warning(target_text, line))
        indicators.append(
            Indicator(
                name=name,
                target_text=target_text,
                target=reading.target,
                nature=None,
                group="sub_goal",
                responsible=responsible,
                baseline_text=None,
                source_lines=para.lines_for(begin, end),
            )
        )
    return indicators, warnings
