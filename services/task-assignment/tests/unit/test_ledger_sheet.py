"""The ledger workbook: the layout bureaus use, and reading such a sheet back row by row."""

from __future__ import annotations

import io
import uuid
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from emplan_shared.errors import BadRequest, UnprocessableEntity
from task_assignment.tasks.ledger import HEADERS, export_xlsx, read_sheet
from task_assignment.tasks.models import TaskStatus
from task_assignment.tasks.schemas import Ledger, LedgerRow


def _row(number: int, **changes: object) -> LedgerRow:
    values: dict[str, object] = {
        "number": number,
        "task_id": uuid.uuid4(),
        "code": f"({number})",
        "kind": "key_task",
        "title": f"任务{number}",
        "description": "具体内容",
        "lead": ["市应急管理局"],
        "co": ["市财政局", "各县（市、区）人民政府"],
        "deadline": date(2023, 12, 31),
        "deadline_text": "2023年",
        "progress_percent": 30,
        "progress_note": "已完成方案编制",
        "status": "in_progress",
        "status_label": "进行中",
        "subtask_count": 0,
    }
    values.update(changes)
    return LedgerRow.model_validate(values)


def _ledger(rows: list[LedgerRow]) -> Ledger:
    return Ledger(
        plan_id=uuid.uuid4(),
        title="某市实施方案",
        region_code="140900",
        region_name="忻州市",
        current=True,
        rows=rows,
    )


def test_export_layout() -> None:
    content = export_xlsx(_ledger([_row(1), _row(2, deadline_text=None, deadline=date(2024, 6, 30))]))
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    assert sheet["A1"].value == "某市实施方案 任务分工台账"
    assert (
        tuple(c.value for c in sheet[2])
        == HEADERS
        == ("序号", "任务", "牵头单位", "配合单位", "完成时限", "进展", "状态")
    )
    assert [c.value for c in sheet[3]] == [
        1,
        "任务1\n具体内容",
        "市应急管理局",
        "市财政局、各县（市、区）人民政府",
        "2023年",
        "30%，已完成方案编制",
        "进行中",
    ]
    assert sheet["E4"].value == "2024年6月30日"


def test_export_reads_back() -> None:
    rows = read_sheet(export_xlsx(_ledger([_row(1), _row(2)])))
    assert [(r.line, r.title, r.description) for r in rows] == [
        (3, "任务1", "具体内容"),
        (4, "任务2", "具体内容"),
    ]
    first = rows[0]
    assert first.lead == ["市应急管理局"]
    assert first.co == ["市财政局", "各县（市、区）人民政府"]
    assert (first.deadline, first.progress, first.progress_note, first.status) == (
        date(2023, 12, 31),
        30,
        "已完成方案编制",
        TaskStatus.in_progress,
    )
    assert first.errors == []


def test_columns_found_by_header_in_any_order() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["牵头单位", "任务", "完成时限"])
    sheet.append(["市水利局", "修订防汛预案", "2022年6月底"])
    sheet.append([None, None, None])  # blank rows are skipped
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_sheet(buffer.getvalue())
    assert [(r.line, r.title, r.lead, r.deadline) for r in rows] == [
        (2, "修订防汛预案", ["市水利局"], date(2022, 6, 30))
    ]


def test_unreadable_and_headerless() -> None:
    with pytest.raises(BadRequest):
        read_sheet(b"PK\x03\x04 not really a zip")
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["甲", "乙"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(UnprocessableEntity) as raised:
        read_sheet(buffer.getvalue())
    assert raised.value.code == "ledger_header_missing"
