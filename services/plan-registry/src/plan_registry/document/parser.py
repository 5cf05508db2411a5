"""The entry points: text or .docx in, ParsedPlan out."""

from __future__ import annotations

from .errors import DocumentError
from .indicators import goal_indicators, table_indicators
from .lines import paragraphs
from .metadata import read_metadata
from .models import Indicator, ParsedPlan, ParseWarning, Section
from .notes import read_notes
from .numbering import leading_number
from .sections import Node
from .sections import build_outline as _build_outline
from .tables import Table
from .tasks import extract_tasks


def _sections(node: Node, level: int = 1) -> list[Section]:
    return [
        Section(
            number=child.number,
            title=child.title,
            level=level,
            source_lines=child.head.lines if child.head else [],
            children=_sections(child, level + 1),
        )
        for child in node.outline_children
    ]


def _table_context(node: Node) -> str:
    return "".join(n.title for n in [*node.path(), node])


def parse_text(text: str) -> ParsedPlan:
    """Parse a decoded plan document. Line numbers in the result refer to `text`."""
    paras = paragraphs(text)
    if not paras:
        raise DocumentError("empty_document", "文档没有任何文字内容")
    first_section = next(
        (i for i, p in enumerate(paras) if p.cells is None and leading_number(p.norm) is not None), len(paras)
    )
    meta = read_metadata(paras, first_section)
    root = _build_outline(paras, meta.preamble)
    structured = [n for n in root.walk() if n.kind in ("heading", "item", "box") and n.number is not None]
    tables = [(node, item) for node in root.walk() for item in node.content if isinstance(item, Table)]
    if not structured and not tables:
        raise DocumentError(
            "no_structure",
            "未识别到章节编号（如“一、”“（一）”“1.”）或表格，无法解析为规划文本",
            paras[0].first_line,
        )
    notes, warnings = read_notes(root)
    indicators: list[Indicator] = []
    for node, table in tables:
        if table.is_indicator_table:
            found, problems = table_indicators(table, _table_context(node), notes)
            indicators += found
            warnings += problems
    goals, sub_goals, problems = goal_indicators(root, notes)
    indicators += sub_goals
    warnings += problems
    tasks, problems = extract_tasks(root, notes, meta.kind == "implementation_plan")
    warnings += problems
    if meta.title is None:
        warnings.append(
            ParseWarning(code="title_not_found", line=None, text="", detail="文档未写明标题，请补充")
        )
    if meta.region.name is None:
        warnings.append(
            ParseWarning(code="region_not_found", line=None, text="", detail="未能识别规划所属地区，请补充")
        )
    warnings.sort(key=lambda w: (w.line is None, w.line or 0))
    return ParsedPlan(
        title=meta.title,
        kind=meta.kind,
        region=meta.region,
        period=meta.period,
        issuing_body=meta.issuing_body,
        doc_number=meta.doc_number,
        issued_on=meta.issued_on,
        parent_plans=meta.parent_plans,
        sections=_sections(root),
        goals=goals,
        indicators=indicators,
        tasks=tasks,
        warnings=warnings,
    )
