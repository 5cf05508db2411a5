"""Decoded text → cleaned lines → logical paragraphs, every character traceable to its line.

Conversions from .docx and web pages leave `[bookmark: _Toc…]` anchors, Markdown headings and
emphasis, page furniture, and paragraphs broken at page ends (even inside a unit list). This module
removes the debris and joins the broken paragraphs; every paragraph keeps which line each of its
characters came from, so everything found later reports `source_lines` of the decoded text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from .normalize import norm, unclosed
from .numbering import leading_number

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+")
_EMPHASIS = re.compile(r"\*\*|__")

# Web-page and print furniture: never document content. Matched on the normalised line.
_FURNITURE = re.compile(
    r"^(?:SOURCE:\s"
    r"|(?:主办|承办|协办|主管|技术支持|网站标识码|备案号|联系电话|联系我们|版权所有|来源|发布时间|浏览次数|点击数|责任编辑)\s*:"
    r"|[-—–]\s*\d{1,3}\s*[-—–]$"
    r"|第\s*\d+\s*页(?:\s*[/,]?\s*共\s*\d+\s*页)?$"
    r"|(?:打印本页|关闭窗口|【打印】|【关闭】|返回顶部|分享到|扫一扫|字号[:：]?\s*[大中小])"
    r"|\(此件公开发布\)$"
    r")"
)

# Where a sentence may end: a paragraph ending here is complete.
_TERMINAL = "。;!?:)”』」】》〉"
_BOX_START = re.compile(r"^\s*专栏\s*\d")


@dataclass
class Line:
    """One line of the decoded text after cleaning."""

    number: int
    text: str
    md_level: int | None
    lead_tab: bool


@dataclass
class Para:
    """A logical paragraph: one or more cleaned lines joined back together."""

    text: str
    starts: list[tuple[int, int]]  # (offset in text, line number) where each joined line begins
    md_level: int | None = None
    lead_tab: bool = False
    blank_before: bool = False
    norm: str = field(init=False)
    cells: list[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.norm = norm(self.text)
        # A tab inside the text separates the cells of a table row.
        self.cells = [c.strip() for c in self.text.split("\t")] if "\t" in self.text.strip("\t ") else None

    @property
    def lines(self) -> list[int]:
        return [line for _, line in self.starts]

    @property
    def first_line(self) -> int:
        return self.starts[0][1]

    def lines_for(self, start: int, end: int) -> list[int]:
        """Lines holding the characters text[start:end]."""
        offsets = [offset for offset, _ in self.starts]
        first = max(bisect_right(offsets, start) - 1, 0)
        last = max(bisect_right(offsets, max(end - 1, start)) - 1, 0)
        return [self.starts[i][1] for i in range(first, last + 1)]


def split_lines(text: str) -> list[Line | None]:
    """Cleaned lines in order; None marks a blank or furniture line (its number is kept by position)."""
    result: list[Line | None] = []
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        cleaned = _BOOKMARK.sub("", raw)
        lead_tab = cleaned.startswith("\t")
        md_level = None
        heading = _MD_HEADING.match(cleaned)
        if heading:
            md_level = len(heading.group(1))
            cleaned = cleaned[heading.end() :]
        cleaned = _EMPHASIS.sub("", cleaned)
        # A row of tab-separated cells keeps its edge tabs (an empty first cell is still a cell);
        # any other line loses its indentation.
        padding = " \u3000\u00a0\ufeff"
        cleaned = (
            cleaned.strip(padding) if "\t" in cleaned.strip(padding + "\t") else cleaned.strip(padding + "\t")
        )
        if not cleaned.strip() or _FURNITURE.match(norm(cleaned)):
            result.append(None)
            continue
        result.append(Line(number=number, text=cleaned, md_level=md_level, lead_tab=lead_tab))
    return result


def _is_open(para: Para) -> bool:
    """Whether a paragraph stops mid-sentence, so the next line continues it."""
    if para.cells is not None or para.md_level is not None:
        return False
    text = para.norm.rstrip()
    if unclosed(text):
        return True
    if not text or text[-1] in _TERMINAL or text[-1] in "\"'":
        return False
    if text[-1] in ",、":
        return True
    # Prose (it has a full stop inside) that ends on a character: a page break cut it.
    # Headings have no full stop inside, so they are never continued.
    return len(text) >= 15 and ("。" in text or ";" in text)


def _starts_block(line: Line) -> bool:
    return (
        line.md_level is not None
        or line.lead_tab
        or "\t" in line.text
        or leading_number(norm(line.text)) is not None
        or _BOX_START.match(line.text) is not None
    )


def paragraphs(text: str) -> list[Para]:
    """Logical paragraphs of the decoded text, broken lines joined."""
    result: list[Para] = []
    blank_before = False
    for line in split_lines(text):
        if line is None:
            blank_before = True
            continue
        previous = result[-1] if result else None
        if previous is not None and _is_open(previous) and not _starts_block(line):
            glue = " " if previous.text[-1:].isascii() and line.text[:1].isascii() else ""
            previous.starts.append((len(previous.text) + len(glue), line.number))
            previous.text = previous.text + glue + line.text
            previous.refresh()
        else:
            result.append(
                Para(
                    text=line.text,
                    starts=[(0, line.number)],
                    md_level=line.md_level,
                    lead_tab=line.lead_tab,
                    blank_before=blank_before,
                )
            )
        blank_before = False
    return result
