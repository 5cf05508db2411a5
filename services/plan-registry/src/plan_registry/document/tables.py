"""Tables in the paragraph stream: tab-separated rows, or one cell per line under a header row.

A .docx keeps its tables (each row becomes one tab-separated line); text converted from a .docx or a
web page may put every cell on its own line. Either way the header row is recognised by its column
names (序号 / 指标内容 / 预期值 / 指标性质 / 责任单位 …) and gives the column count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lines import Para
from .models import ParseWarning
from .numbering import leading_number

# Column name → role. Baseline comes before target: 2020年现状值 is not a target column.
_COLUMNS: list[tuple[str, re.Pattern[str]]] = [
    ("code", re.compile(r"^(?:序号|编号|序)$")),
    ("baseline", re.compile(r"(?:基期值|现状值|基准值|基数|(?:\d{4}年)?(?:现状|基期|基准)(?:值)?)$")),
    ("target", re.compile(r"^(?:\d{4}年)?(?:预期值|目标值|目标|规划值|规划目标|预期目标|指标值)$|^\d{4}年$")),
    ("nature", re.compile(r"^(?:指标)?(?:性质|属性|类型)$")),
    ("co", re.compile(r"^(?:配合|协同|参与|协办)(?:单位|部门)$")),
    (
        "responsible",
        re.compile(
            r"^(?:责任|牵头|主责)(?:单位|部门)$|^责任主体$|^牵头(?:单位|部门)及(?:责任|配合)(?:单位|部门)$"
        ),
    ),
    ("unit", re.compile(r"^(?:计量)?单位$")),
    ("name", re.compile(r"^(?:指标(?:名称|内容)?|名称|指标项|主要指标|具体指标)$")),
    (
        "title",
        re.compile(r"^(?:项目名称|工程名称|任务名称|重点任务|主要任务|工作任务|项目|任务|工程|重点工程)$"),
    ),
    ("content", re.compile(r"^(?:建设内容|主要内容|工作内容|具体措施|主要措施|内容|建设规模及内容)$")),
    ("deadline", re.compile(r"(?:完成时限|完成时间|时限|时间节点|进度安排|完成年限|建设期限|建设年限)$")),
]
_BOX_CAPTION = re.compile(r"^专栏\s*\d+")
_INTEGER = re.compile(r"^\d{1,3}$")
_MAX_CELL = 160


def column_key(text: str) -> str | None:
    compact = re.sub(r"\s+", "", text)
    for key, pattern in _COLUMNS:
        if pattern.search(compact):
            return key
    return None


@dataclass
class Row:
    cells: dict[str, str]
    lines: list[int]


@dataclass
class Table:
    caption: str | None
    columns: list[str | None]
    rows: list[Row]
    lines: list[int]
    warnings: list[ParseWarning] = field(default_factory=list)

    @property
    def is_indicator_table(self) -> bool:
        return "name" in self.columns and "target" in self.columns

    @property
    def is_task_table(self) -> bool:
        return "title" in self.columns and not self.is_indicator_table


def _header(cells: list[str]) -> list[str | None] | None:
    keys = [column_key(cell) if cell else None for cell in cells]
    known = [key for key in keys if key]
    if len(known) >= 2 and len(set(known)) == len(known) and ({"name", "title"} & set(known)):
        return keys
    return None


def read_table(paras: list[Para], index: int) -> tuple[Table, int] | None:
    """The table starting at paras[index] and the index just past it, or None."""
    if paras[index].cells is not None:
        return _read_tab_rows(paras, index)
    return _read_cell_lines(paras, index)


def _row(columns: list[str | None], texts: list[str], lines: list[int], table: Table) -> None:
    cells = {key: text for key, text in zip(columns, texts, strict=False) if key and text}
    missing = [key for key in ("name", "target", "title") if key in columns and key not in cells]
    if len(texts) < len(columns) or missing:
        table.warnings.append(
            ParseWarning(
                code="table_row_incomplete",
                line=lines[0],
                text=" | ".join(texts),
                detail=f"表格行缺少单元格（应有 {len(columns)} 列，实有 {len([t for t in texts if t])} 列）",
            )
        )
    table.rows.append(Row(cells=cells, lines=lines))


def _read_tab_rows(paras: list[Para], index: int) -> tuple[Table, int] | None:
    captions: list[str] = []
    columns: list[str | None] | None = None
    table = Table(caption=None, columns=[], rows=[], lines=[])
    position = index
    while position < len(paras) and paras[position].cells is not None:
        para = paras[position]
        cells = para.cells or []
        filled = [cell for cell in cells if cell]
        if columns is None:
            columns = _header(cells)
            if columns is None:
                if len(filled) != 1:
                    return None
                captions.append(filled[0])
        elif filled:
            _row(columns, cells, para.lines, table)
        table.lines.extend(para.lines)
        position += 1
    if columns is None:
        return None
    table.columns = columns
    if not captions and index > 0 and _is_caption(paras[index - 1]):
        captions.append(paras[index - 1].text)
    table.caption = " ".join(captions) or None
    return table, position


def _is_caption(para: Para) -> bool:
    """A short line right above a table that names it (“十四五”核心指标, 表1 主要指标)."""
    return para.cells is None and len(para.text) <= 40 and not re.search(r"[。;,]", para.norm)


def _is_cell(para: Para) -> bool:
    return (
        para.cells is None
        and para.md_level is None
        and len(para.text) <= _MAX_CELL
        and not _BOX_CAPTION.match(para.norm)
        and (_INTEGER.match(para.norm) is not None or leading_number(para.norm) is None)
    )


def _read_cell_lines(paras: list[Para], index: int) -> tuple[Table, int] | None:
    columns: list[str | None] = []
    position = index
    while position < len(paras) and _is_cell(paras[position]) and len(paras[position].text) <= 12:
        key = column_key(paras[position].text)
        if key is None or key in columns or (columns and paras[position].blank_before):
            break
        columns.append(key)
        position += 1
    if len(columns) < 3 or not {"name", "title"} & set(columns):
        return None
    caption = paras[index - 1].text if index > 0 and _is_caption(paras[index - 1]) else None
    table = Table(caption=caption, columns=columns, rows=[], lines=[])
    for para in paras[index:position]:
        table.lines.extend(para.lines)
    numbered = columns[0] == "code"
    # Rows separated by blank lines are grouped by them; otherwise by the column count and 序号.
    by_blank = position < len(paras) and paras[position].blank_before
    expected = 1
    while position < len(paras) and _is_cell(paras[position]):
        first = paras[position]
        if numbered and first.norm.strip() != str(expected):
            break
        texts, lines = [first.text], list(first.lines)
        position += 1
        while position < len(paras) and _is_cell(paras[position]):
            para = paras[position]
            if by_blank and para.blank_before:
                break
            if not by_blank and (
                len(texts) == len(columns)
                or (numbered and para.norm.strip() == str(expected + 1) and len(texts) >= 2)
            ):
                break
            texts.append(para.text)
            lines.extend(para.lines)
            position += 1
        if len(texts) > len(columns):
            # Not a row of this table: what follows is ordinary text.
            position -= len(texts)
            break
        _row(columns, texts, lines, table)
        table.lines.extend(lines)
        expected += 1
    if not table.rows:
        return None
    return table, position
