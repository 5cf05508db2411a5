"""Tasks: key tasks, focus areas and key projects, with their units and deadline years.

Which numbered paragraphs are tasks is decided by where they stand:
- under a section titled 重点任务 / 主要任务 → key_task; 重点工程 / 重大项目 → key_project;
- in a box or list titled …重点 (安全生产治本攻坚重点) → focus_area;
- a section's leaves are the tasks (a group heading with numbered children is not);
- outside those sections, a numbered leaf that carries a responsibility note is a key task too.
A task whose text holds several notes (one per measure, as State Council documents write them) is
split into one task per note, numbered `<code>-1`, `<code>-2`, ….
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lines import Para
from .models import ParseWarning, SectionRef, Task, TaskKind
from .normalize import bracket_depths, norm, squeeze
from .notes import Notes
from .sections import Node
from .tables import Table
from .units import Responsibility, split_units

_ZONES: list[tuple[TaskKind, re.Pattern[str]]] = [
    ("key_project", re.compile(r"(?:重点|重大)(?:工程|项目)")),
    ("key_task", re.compile(r"(?:重点|主要)任务|^任务")),
]
_FOCUS = re.compile(r"重点$")
_YEAR = re.compile(
    r"(?P<pre>到|于|在|至|截至|截止)?\s*(?P<year>20\d{2})\s*年\s*(?:\d{1,2}\s*月)?\s*(?:底|末)?\s*(?P<post>前|以前|之前)?"
)
_RANGE_NEXT = re.compile(r"\s*[-—–~至到]\s*20\d{2}")
_CLAUSE_START = "。;,:!?\n"


def _zone(title: str) -> TaskKind | None:
    for kind, pattern in _ZONES:
        if pattern.search(title):
            return kind
    return None


@dataclass
class _Segment:
    parts: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    responsibility: Responsibility | None = None

    @property
    def text(self) -> str:
        return "\n".join(part for part in (p.strip() for p in self.parts) if part)

    def add(self, text: str, lines: list[int]) -> None:
        self.parts.append(text)
        self.lines += [line for line in lines if line not in self.lines]


def deadline(text: str) -> tuple[int, str] | None:
    """The latest year the text sets as a time limit, with the phrase as written.

    A year counts when it opens a clause (2023 年完成…), or is bounded (到 2025 年 / 2019年6月底前);
    years inside brackets (规划（2021-2025年）) or in ranges are references, not deadlines.
    """
    normed = norm(text)
    depths = bracket_depths(normed)
    best: tuple[int, str] | None = None
    for match in _YEAR.finditer(normed):
        start = match.start("year")
        if depths[start]:
            continue
        if re.search(r"\d\s*年?\s*[-—–~至到]\s*$", normed[:start]) or _RANGE_NEXT.match(normed, match.end()):
            continue  # either end of a range such as 2021—2025年
        opening = match.start("pre") if match.group("pre") else start
        before = normed[:opening].rstrip(" ")
        bounded = match.group("pre") or match.group("post")
        if not bounded and before and before[-1] not in _CLAUSE_START:
            continue
        year = int(match.group("year"))
        if best is None or year > best[0]:
            best = (year, text[opening : match.end()].strip())
    return best


def _ref(node: Node) -> SectionRef:
    return SectionRef(number=node.number, title=node.title)


class _Collector:
    def __init__(self, notes: Notes, implementation: bool) -> None:
        self.notes = notes
        self.implementation = implementation
        self.tasks: list[Task] = []
        self.warnings: list[ParseWarning] = []

    def visit(self, node: Node, zone: TaskKind | None, zone_root: Node | None) -> None:
        own = _zone(node.title) if node.kind in ("heading", "item") else None
        if own is not None:
            zone, zone_root = own, node
        if node.kind in ("box", "list"):
            self.visit_group(node, zone, zone_root)
            return
        # A section holding numbered sections or a task table groups tasks; it is not one.
        is_leaf = node.kind in ("heading", "item") and not any(
            (isinstance(c, Node) and c.kind in ("heading", "item"))
            or (isinstance(c, Table) and c.is_task_table)
            for c in node.content
        )
        # A zone's own title paragraph (四、重点工程) is not one of its tasks unless it assigns units.
        if is_leaf and ((node is not zone_root and zone is not None) or self.has_notes(node)):
            self.unit(node, zone or "key_task", zone_root)
        for item in node.content:
            if isinstance(item, Node):
                self.visit(item, zone, zone_root)
            elif isinstance(item, Table) and item.is_task_table:
                self.table(item, node, zone or "key_task")

    def visit_group(self, node: Node, zone: TaskKind | None, zone_root: Node | None) -> None:
        kind: TaskKind | None = "focus_area" if _FOCUS.search(node.title.rstrip("。:： ")) else zone
        for entry in node.children:
            if kind == "focus_area" or kind == "key_project" or self.has_notes(entry):
                self.unit(entry, kind or "key_task", zone_root)
        if node.table is not None and node.table.is_task_table:
            self.table(node.table, node, kind or "key_task")

    def has_notes(self, node: Node) -> bool:
        return any(self.notes.in_para(para) for para in _own_text(node))

    def inherited(self, node: Node) -> Responsibility | None:
        """A note standing alone under an enclosing section covers the items below it."""
        for ancestor in reversed(node.path()):
            for para in ancestor.own_paras():
                statement = self.notes.statement(para)
                if statement is not None:
                    return statement
        return None

    def inherited_deadline(self, node: Node, zone_root: Node | None) -> tuple[int, str] | None:
        """The enclosing group's time limit (到 2022 年…，2025 年全部完成) for items without their own."""
        for ancestor in reversed(node.path()):
            text = "\n".join([ancestor.head_body, *(p.text for p in ancestor.own_paras())])
            found = deadline(text)
            if found is not None:
                return found
            if ancestor is zone_root:
                break
        return None

    def segments(self, node: Node) -> list[_Segment]:
        segments: list[_Segment] = []
        current = _Segment()
        for para in _own_text(node):
            position = node.body_start if para is node.head else 0
            for span in self.notes.in_para(para):
                if span.start < position:
                    continue
                current.add(para.text[position : span.start], para.lines_for(position, span.end))
                current.responsibility = span.responsibility
                segments.append(current)
                current = _Segment()
                position = span.end
            rest = para.text[position:]
            if rest.strip() or para is node.head:
                current.add(rest, para.lines_for(position, len(para.text)) if rest.strip() else [])
        if len(squeeze(current.text)) > 5 or not segments:
            segments.append(current)
        elif current.text:
            segments[-1].add(current.text, current.lines)
        return segments

    def unit(self, node: Node, kind: TaskKind, zone_root: Node | None) -> None:
        section = [_ref(n) for n in node.path()]
        segments = self.segments(node)
        head_lines = node.head.lines_for(0, node.body_start) if node.head else []
        for index, segment in enumerate(segments, start=1):
            if len(segments) == 1:
                code, title, description = node.number or "", node.title, segment.text
            else:
                code = f"{node.number}-{index}" if node.number else str(index)
                title, description = _first_sentence(segment.text, node.title)
            responsibility = segment.responsibility or self.inherited(node)
            own = deadline("\n".join([title, description]))
            found = own or self.inherited_deadline(node, zone_root)
            lines = sorted(set((head_lines if index == 1 else []) + segment.lines))
            task = Task(
                kind=kind,
                code=code,
                title=title,
                description=description,
                section=section if len(segments) == 1 else [*section, _ref(node)],
                deadline_year=found[0] if found else None,
                deadline_text=found[1] if found else None,
                lead=responsibility.lead if responsibility else [],
                co=responsibility.co if responsibility else [],
                source_lines=lines or (node.head.lines if node.head else []),
            )
            self.tasks.append(task)
            if self.implementation and not task.lead:
                self.warnings.append(
                    ParseWarning(
                        code="task_without_lead",
                        line=task.source_lines[0] if task.source_lines else None,
                        text=f"{code} {title}",
                        detail="实施方案中的任务未写明牵头单位",
                    )
                )

    def table(self, table: Table, node: Node, kind: TaskKind) -> None:
        section = [*(_ref(n) for n in node.path()), _ref(node)] if node.kind != "root" else []
        for number, row in enumerate(table.rows, start=1):
            title = row.cells.get("title")
            if not title:
                continue
            lead = split_units(row.cells.get("responsible", ""))
            co = [u for u in split_units(row.cells.get("co", "")) if u not in lead]
            responsibility = self.notes.row(row)
            if responsibility is not None:
                lead, co = responsibility.lead, responsibility.co
            limit = row.cells.get("deadline", "")
            found = deadline(limit) or deadline(row.cells.get("content", ""))
            year = re.search(r"20\d{2}", norm(limit))
            self.tasks.append(
                Task(
                    kind=kind,
                    code=row.cells.get("code", str(number)),
                    title=squeeze(title),
                    description=row.cells.get("content", ""),
                    section=section,
                    deadline_year=found[0] if found else (int(year.group()) if year else None),
                    deadline_text=limit or (found[1] if found else None),
                    lead=lead,
                    co=co,
                    source_lines=row.lines,
                )
            )


def _own_text(node: Node) -> list[Para]:
    """A task's paragraphs: its own, not those of a box or list that hangs under it."""
    paras = [item for item in node.content if isinstance(item, Para)]
    return [node.head, *paras] if node.head is not None else paras


def _first_sentence(text: str, fallback: str) -> tuple[str, str]:
    stripped = text.strip()
    cut = norm(stripped).find("。")
    if not stripped:
        return fallback, ""
    if cut < 0:
        return squeeze(stripped), ""
    return squeeze(stripped[:cut]), stripped[cut + 1 :].strip()


def extract_tasks(root: Node, notes: Notes, implementation: bool) -> tuple[list[Task], list[ParseWarning]]:
    collector = _Collector(notes, implementation)
    collector.visit(root, None, None)
    return collector.tasks, collector.warnings
