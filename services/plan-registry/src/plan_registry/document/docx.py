"""A .docx → text whose lines are its paragraphs and table rows in body order.

Table rows become tab-separated lines (merged cells once), heading styles become Markdown `#` lines,
so the text parser sees the real table structure and `source_lines` point into this extracted text.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from .errors import DocumentError
from .models import ParsedPlan
from .parser import parse_text

_HEADING_STYLE = re.compile(r"^(?:Heading|标题)\s*(\d)$")


def _heading_level(paragraph: Paragraph) -> int | None:
    style = paragraph.style
    name = style.name if style is not None and style.name else ""
    if name == "Title":
        return 1
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _cell_text(text: str) -> str:
    # A cell's own paragraphs and line breaks would break the row's line; tabs would split it.
    return re.sub(r"[\t\r\n]+", "", text).strip()


def _table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        texts: list[str] = []
        previous = None
        for cell in row.cells:
            # A horizontally merged cell is returned once per grid column it spans.
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            texts.append(_cell_text(cell.text))
        if any(texts):
            lines.append("\t".join(texts) if len(texts) > 1 else texts[0])
    return lines


def docx_text(data: bytes) -> str:
    """The text of a .docx: paragraphs and table rows in body order, one per line."""
    if not data:
        raise DocumentError("empty_document", "文件为空")
    if not data.startswith(b"PK\x03\x04"):
        raise DocumentError("not_a_docx", "文件不是 .docx 格式（不是 Word 2007 及以上版本的文档）")
    try:
        document = Document(BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError("not_a_docx", f"无法打开 .docx 文件：{exc}") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.replace("\n", "")
            level = _heading_level(block)
            lines.append(f"{'#' * level} {text}" if level and text.strip() else text)
        else:
            lines += ["", *_table_lines(block), ""]
    text = "\n".join(lines)
    if not text.strip():
        raise DocumentError("empty_document", "文档没有任何文字内容")
    return text


def parse_docx(data: bytes) -> ParsedPlan:
    """Parse a .docx upload; line numbers in the result refer to `docx_text(data)`."""
    return parse_text(docx_text(data))
