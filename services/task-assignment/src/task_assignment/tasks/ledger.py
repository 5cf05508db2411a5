"""任务分工台账 as an Excel workbook: export in the layout bureaus use (序号, 任务, 牵头单位, 配合单位,
完成时限, 进展, 状态) and import of such a sheet, with every row's errors reported at once."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.errors import BadRequest, ProblemItem, UnprocessableEntity
from task_assignment.tasks import service
from task_assignment.tasks.deadlines import parse_deadline
from task_assignment.tasks.models import AssignmentRole, Task, TaskKind, TaskOrigin, TaskStatus
from task_assignment.tasks.repository import TaskRepository
from task_assignment.tasks.schemas import STATUS_LABELS, Ledger, LedgerImportResult
from task_assignment.tasks.state import publish_task_states

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = ("序号", "任务", "牵头单位", "配合单位", "完成时限", "进展", "状态")
WIDTHS = (6, 60, 28, 40, 14, 30, 10)
MAX_ROWS = 5000
_SEPARATORS = set("、，,；;\n")
_OPENING, _CLOSING = set("〈（(【[《"), set("〉）)】]》")
_PERCENT = re.compile(r"^\s*(\d{1,3})\s*[%％]")


def _deadline_cell(deadline: date | None, text: str | None) -> str:
    if text:
        return text
    return f"{deadline.year}年{deadline.month}月{deadline.day}日" if deadline else ""


def _progress_cell(percent: int, note: str | None) -> str:
    return f"{percent}%" + (f"，{note}" if note else "")


def export_xlsx(ledger: Ledger) -> bytes:
    """The workbook: a title row, the header row, one row per task (write-only: flat memory)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("任务分工台账")
    for index, width in enumerate(WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    # One named style registered once: setting border and alignment per cell hashes the style objects
    # for each of the ~3,500 cells of a 500-task ledger, most of the export's time.
    thin = Side(style="thin")
    body = NamedStyle(name="ledger_cell")
    body.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    body.alignment = Alignment(wrap_text=True, vertical="center")
    head = NamedStyle(name="ledger_header", font=Font(bold=True))
    head.border, head.alignment = body.border, body.alignment
    workbook.add_named_style(body)
    workbook.add_named_style(head)

    def cell(value: object, *, header: bool = False) -> WriteOnlyCell:
        item = WriteOnlyCell(sheet, value=value)
        item.style = "ledger_header" if header else "ledger_cell"
        return item

    title = WriteOnlyCell(sheet, value=f"{ledger.title} 任务分工台账")
    title.font = Font(bold=True, size=14)
    sheet.append([title])
    sheet.append([cell(header, header=True) for header in HEADERS])
    for row in ledger.rows:
        task_text = row.title + (f"\n{row.description}" if row.description else "")
        sheet.append(
            [
                cell(row.number),
                cell(task_text),
                cell("、".join(row.lead)),
                cell("、".join(row.co)),
                cell(_deadline_cell(row.deadline, row.deadline_text)),
                cell(_progress_cell(row.progress_percent, row.progress_note)),
                cell(row.status_label),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -------------------------------------------------------------------------------------- import
@dataclass
class ImportRow:
    line: int
    title: str
    description: str
    lead: list[str]
    co: list[str]
    deadline: date | None
    deadline_text: str | None
    progress: int
    progress_note: str | None
    status: TaskStatus
    errors: list[ProblemItem] = field(default_factory=list)


def split_units(cell: str) -> list[str]:
    """Unit names of a cell, split on list punctuation outside brackets: 各县（市、区）人民政府 is one."""
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for char in cell:
        depth += (char in _OPENING) - (char in _CLOSING)
        if char in _SEPARATORS and depth <= 0:
            names.append("".join(current))
            current, depth = [], 0
        else:
            current.append(char)
    names.append("".join(current))
    return [name.strip() for name in names if name.strip()]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _header_row(sheet: Worksheet) -> tuple[int, dict[str, int]]:
    for line, values in enumerate(sheet.iter_rows(min_row=1, max_row=10, values_only=True), start=1):
        names = {_text(value).replace(" ", ""): index for index, value in enumerate(values) if value}
        if "任务" in names and "牵头单位" in names:
            return line, names
    raise UnprocessableEntity(
        "未找到表头（须含“任务”“牵头单位”两列）",
        code="ledger_header_missing",
        errors=[ProblemItem(line=1, detail="前 10 行中没有含“任务”“牵头单位”的表头行")],
    )


_LABELS = {label: status for status, label in STATUS_LABELS.items()}
_IMPORTABLE = {TaskStatus.not_started, TaskStatus.in_progress}


def read_sheet(content: bytes) -> list[ImportRow]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadRequest(
            "无法读取 Excel 文件（须为 .xlsx）",
            code="ledger_unreadable",
            errors=[ProblemItem(detail=str(exc)[:200])],
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        header_line, columns = _header_row(sheet)
        rows: list[ImportRow] = []
        for line, values in enumerate(
            sheet.iter_rows(min_row=header_line + 1, values_only=True), start=header_line + 1
        ):
            cells = {
                name: _text(values[index]) if index < len(values) else "" for name, index in columns.items()
            }
            if not any(cells.values()) or (cells.get("任务", "") == "" and cells.get("牵头单位", "") == ""):
                continue
            if len(rows) >= MAX_ROWS:
                raise UnprocessableEntity(f"台账超过 {MAX_ROWS} 行", code="ledger_too_large")
            rows.append(
                _row(
                    line,
                    cells,
                    values[columns["完成时限"]]
                    if "完成时限" in columns and columns["完成时限"] < len(values)
                    else None,
                )
            )
        return rows
    finally:
        workbook.close()


def _row(line: int, cells: dict[str, str], raw_deadline: object) -> ImportRow:
    errors: list[ProblemItem] = []
    first, _, rest = cells.get("任务", "").partition("\n")
    title = first.strip()
    if not title:
        errors.append(ProblemItem(line=line, field="任务", code="required", detail="任务不能为空"))
    elif len(title) > 200:
        errors.append(ProblemItem(line=line, field="任务", code="too_long", detail="任务标题超过 200 字"))
    lead = split_units(cells.get("牵头单位", ""))
    co = split_units(cells.get("配合单位", ""))
    if not lead:
        errors.append(ProblemItem(line=line, field="牵头单位", code="required", detail="牵头单位不能为空"))
    if any(len(name) > 200 for name in lead + co):
        errors.append(ProblemItem(line=line, field="牵头单位", code="too_long", detail="单位名称超过 200 字"))
    deadline_text = cells.get("完成时限") or None
    deadline: date | None = None
    if isinstance(raw_deadline, datetime):
        deadline, deadline_text = raw_deadline.date(), None
    elif isinstance(raw_deadline, date):
        deadline, deadline_text = raw_deadline, None
    elif deadline_text:
        try:
            deadline = date.fromisoformat(deadline_text)
            deadline_text = None
        except ValueError:
            deadline = parse_deadline(deadline_text)
            if deadline is None:
                errors.append(
                    ProblemItem(
                        line=line,
                        field="完成时限",
                        code="deadline_unreadable",
                        detail=f"无法识别的完成时限“{deadline_text}”",
                    )
                )
    if deadline_text is not None and len(deadline_text) > 200:
        deadline_text = deadline_text[:200]
    progress_text = cells.get("进展", "")
    progress, note = 0, progress_text or None
    match = _PERCENT.match(progress_text)
    if match:
        progress = int(match.group(1))
        note = progress_text[match.end() :].lstrip("，,；; ") or None
        if progress > 100:
            errors.append(
                ProblemItem(
                    line=line, field="进展", code="percent_out_of_range", detail="进展百分比须在 0–100 之间"
                )
            )
    status_text = cells.get("状态", "")
    status = TaskStatus.not_started
    if status_text:
        if status_text not in _LABELS:
            errors.append(
                ProblemItem(line=line, field="状态", code="status_unknown", detail=f"未知状态“{status_text}”")
            )
        elif _LABELS[status_text] not in _IMPORTABLE:
            errors.append(
                ProblemItem(
                    line=line,
                    field="状态",
                    code="status_not_importable",
                    detail=f"导入不能直接设为“{status_text}”，须经报送、审核流程办理",
                )
            )
        else:
            status = _LABELS[status_text]
    return ImportRow(
        line=line,
        title=title,
        description=rest.strip(),
        lead=lead,
        co=co,
        deadline=deadline,
        deadline_text=deadline_text,
        progress=min(progress, 100),
        progress_note=note,
        status=status,
        errors=errors,
    )


async def import_xlsx(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, content: bytes
) -> LedgerImportResult:
    """Create a task per row not yet in the plan (matched by title); any row error changes nothing."""
    repository = TaskRepository(session)
    plan = await repository.get_plan(plan_id, principal)
    if plan is None:
        raise service.plan_not_found()
    rows = read_sheet(content)
    errors = [error for row in rows for error in row.errors]
    start = date(plan.period_start, 1, 1)
    for row in rows:
        if row.deadline is not None and row.deadline < start:
            errors.append(
                ProblemItem(
                    line=row.line,
                    field="完成时限",
                    code="deadline_before_plan_start",
                    detail=f"完成时限早于规划起始年份（{plan.period_start}年）",
                )
            )
    seen: dict[str, int] = {}
    for row in rows:
        if row.title and row.title in seen:
            errors.append(
                ProblemItem(
                    line=row.line, field="任务", code="duplicate", detail=f"与第 {seen[row.title]} 行任务重复"
                )
            )
        seen.setdefault(row.title, row.line)
    if errors:
        raise UnprocessableEntity("台账有错误，未导入任何任务", code="ledger_invalid", errors=errors)
    existing = await repository.titles_in_plan(plan.id)
    resolver = service.Resolver(await repository.departments_of_regions([plan.region_code]), {})
    position = await repository.next_position(plan.id)
    created: list[uuid.UUID] = []
    skipped: list[str] = []
    for row in rows:
        if row.title in existing:
            skipped.append(row.title)
            continue
        task = Task(
            id=uuid.uuid4(),
            plan_id=plan.id,
            region_code=plan.region_code,
            origin=TaskOrigin.ledger.value,
            kind=TaskKind.other.value,
            position=position,
            title=row.title,
            description=row.description,
            section=[],
            deadline=row.deadline,
            deadline_text=row.deadline_text,
            status=row.status.value,
            progress_percent=row.progress,
            progress_note=row.progress_note,
            created_by=principal.subject,
        )
        position += 1
        repository.add(task)
        await repository.flush()
        units = [(AssignmentRole.lead, service.Unit(name, None, "none")) for name in row.lead]
        units += [(AssignmentRole.co, service.Unit(name, None, "none")) for name in row.co]
        await service.assign(repository, task, resolver, units, created_by=principal.subject)
        created.append(task.id)
    await publish_task_states(session, created, cause="created")
    return LedgerImportResult(created=len(created), skipped=skipped, task_ids=created)
