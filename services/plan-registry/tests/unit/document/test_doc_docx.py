"""A .docx keeps its table structure: paragraphs and tables are read in body order."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from docx import Document

from plan_registry.document import DocumentError, docx_text, parse_docx


def _docx() -> bytes:
    document = Document()
    document.add_heading("松林县“十四五”应急管理体系规划", level=0)
    document.add_paragraph("一、规划目标")
    document.add_paragraph("专栏1 核心指标")
    table = document.add_table(rows=4, cols=4)
    caption = table.rows[0].cells[0].merge(table.rows[0].cells[3])
    caption.text = "“十四五”核心指标"
    for row, texts in zip(
        table.rows[1:],
        [
            ("序号", "指标内容", "预期值", "指标性质"),
            ("1", "生产安全事故死亡人数", "下降10%", "约束性"),
            ("2", "年均每十万人受灾人次", "＜9000", "预期性"),
        ],
        strict=True,
    ):
        for cell, text in zip(row.cells, texts, strict=True):
            cell.text = text
    document.add_heading("二、重点工程", level=1)
    document.add_paragraph("1.应急物资储备库建设工程。2024年建成。（县应急局牵头，县财政局配合）")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_table_rows_become_tab_separated_lines() -> None:
    lines = docx_text(_docx()).split("\n")
    assert "序号\t指标内容\t预期值\t指标性质" in lines
    assert "“十四五”核心指标" in lines  # the merged caption row, once


def test_parses_docx_with_table() -> None:
    data = _docx()
    plan = parse_docx(data)
    lines = docx_text(data).split("\n")
    assert plan.title == "松林县“十四五”应急管理体系规划"
    assert [(i.name, i.target.type, i.target.value, i.nature) for i in plan.indicators] == [
        ("生产安全事故死亡人数", "decrease_pct", Decimal(10), "binding"),
        ("年均每十万人受灾人次", "max", Decimal(9000), "expected"),
    ]
    # source_lines point into the extracted text
    assert lines[plan.indicators[0].source_lines[0] - 1].startswith("1\t生产安全事故死亡人数")
    assert [(t.kind, t.title, t.deadline_year, t.lead, t.co) for t in plan.tasks] == [
        ("key_project", "应急物资储备库建设工程", 2024, ["县应急局"], ["县财政局"])
    ]
    assert [(s.number, s.title) for s in plan.sections] == [("一、", "规划目标"), ("二、", "重点工程")]


def _zip_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    return buffer.getvalue()


def _empty_docx() -> bytes:
    buffer = io.BytesIO()
    Document().save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_document"),
        (b"plain text, not a zip", "not_a_docx"),
        (b"PK\x03\x04 truncated zip", "not_a_docx"),
        (_zip_without_document(), "not_a_docx"),
        (_empty_docx(), "empty_document"),
    ],
    ids=["empty", "not-a-zip", "broken-zip", "zip-without-document", "docx-without-text"],
)
def test_docx_errors(data: bytes, code: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse_docx(data)
    assert raised.value.code == code
