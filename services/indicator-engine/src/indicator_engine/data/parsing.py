"""Reading uploaded tables (CSV in UTF-8 or GBK, .xlsx) as rows, streaming: one row in memory at a time.

Columns are named in a header row, in English or Chinese (`region_code` / `行政区划代码`, …); the order
is free, unknown columns are refused rather than silently dropped. A CSV is UTF-8 (with or without
BOM) when its first 64 KiB decode as UTF-8, otherwise GB18030, the superset of GBK that Excel on
Chinese Windows writes; the test on a prefix keeps it streaming. .xlsx files are read with openpyxl's
read-only mode (rows parsed as they are iterated, not the whole sheet held); the first sheet is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import operator
import unicodedata
from collections.abc import Iterator, Sequence
from typing import IO, Any

from emplan_shared.errors import BadRequest, ProblemItem
from indicator_engine.data.rules import Raw, RowError

COLUMNS = ("element_code", "region_code", "year", "month", "value", "unit", "source")
REQUIRED = ("element_code", "region_code", "year", "value")
_HEADER_NAMES = {
    "element_code": ("element_code", "element", "数据元素", "数据元素代码", "指标项代码"),
    "region_code": ("region_code", "region", "行政区划代码", "区划代码", "地区代码"),
    "year": ("year", "年份", "年度"),
    "month": ("month", "月份"),
    "value": ("value", "数值", "值"),
    "unit": ("unit", "单位"),
    "source": ("source", "来源", "数据来源"),
}
_HEADER_LOOKUP = {name.casefold(): column for column, names in _HEADER_NAMES.items() for name in names}
SNIFF_BYTES = 64 * 1024

# (row, element_code, region_code, year, month, value, unit, source)
RawRow = tuple[int, Raw, Raw, Raw, Raw, Raw, Raw, Raw]


def upload_error(detail: str, code: str, line: int | None = None) -> BadRequest:
    return BadRequest(detail, code=code, errors=[ProblemItem(line=line, code=code, detail=detail)])


def detect_format(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise upload_error("不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV 后上传", "unsupported_format")
    return "csv"


def detect_encoding(head: bytes) -> str:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"  # also strips a BOM


def header_positions(cells: Sequence[Any]) -> list[int | None]:
    """Position of each of COLUMNS in the header row (None when absent); refuses an unusable header."""
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = unicodedata.normalize("NFKC", "" if cell is None else str(cell)).strip().casefold()
        if not name:
            continue
        column = _HEADER_LOOKUP.get(name)
        if column is None:
            raise upload_error(f"表头含未知的列：{name[:40]}", "unknown_column", line=1)
        if column in positions:
            raise upload_error(f"表头中的列重复：{name[:40]}", "duplicate_column", line=1)
        positions[column] = index
    missing = [column for column in REQUIRED if column not in positions]
    if missing:
        raise upload_error(f"表头缺少必需的列：{'、'.join(missing)}", "missing_column", line=1)
    return [positions.get(column) for column in COLUMNS]


def _picker(positions: list[int | None]) -> Any:
    """A function cells → RawRow in one C-level call: the row number and a None are appended to the
    cells, absent columns point at that None."""
    return operator.itemgetter(-1, *[-2 if p is None else p for p in positions])


def _pick(cells: list[Any], row: int, picker: Any) -> RawRow:
    cells.append(None)
    cells.append(row)
    result: RawRow = picker(cells)
    return result


def csv_rows(binary: IO[bytes]) -> Iterator[RawRow | RowError]:
    head = binary.read(SNIFF_BYTES)
    binary.seek(0)
    encoding = detect_encoding(head)
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    reader = csv.reader(text)
    row = 0
    try:
        header: list[str] | None = None
        for cells in reader:
            row = reader.line_num
            if header is None:
                if not any(c.strip() for c in cells):
                    continue
                header = cells
                picker = _picker(header_positions(cells))
                width = len(cells)
                continue
            if len(cells) != width:
                if not any(c.strip() for c in cells):
                    continue  # a blank line
                yield RowError(row, None, "column_count", f"该行有 {len(cells)} 列，表头有 {width} 列")
                continue
            yield _pick(cells, row, picker)
        if header is None:
            raise upload_error("文件为空或没有表头", "empty_upload")
    except UnicodeDecodeError as exc:
        raise upload_error(
            f"第 {row + 1} 行附近的字符无法按 {encoding} 解码，请使用 UTF-8 或 GBK 编码",
            "bad_encoding",
            row + 1,
        ) from exc
    except csv.Error as exc:
        raise upload_error(f"CSV 格式错误：{exc}", "malformed_csv", reader.line_num) from exc
    finally:
        text.detach()  # leave the upload's file open for its owner


def xlsx_rows(binary: IO[bytes]) -> Iterator[RawRow | RowError]:
    from openpyxl import load_workbook

    malformed = "无法读取 .xlsx 文件：文件已损坏或不是 Excel 工作簿"
    try:
        workbook = load_workbook(binary, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors alike mean a file we cannot read
        raise upload_error(malformed, "malformed_xlsx") from exc
    try:
        if not workbook.worksheets:
            raise upload_error("工作簿中没有工作表", "empty_upload")
        sheet = workbook.worksheets[0]
        picker: Any = None
        rows = sheet.iter_rows(values_only=True)
        number = 0
        while True:
            try:
                cells = next(rows)
            except StopIteration:
                break
            except Exception as exc:  # a damaged sheet part shows only when its rows are read
                raise upload_error(malformed, "malformed_xlsx", number + 1) from exc
            number += 1
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            if picker is None:
                picker = _picker(header_positions(cells))
                continue
            yield _pick(list(cells), number, picker)
        if picker is None:
            raise upload_error("文件为空或没有表头", "empty_upload")
    finally:
        workbook.close()
