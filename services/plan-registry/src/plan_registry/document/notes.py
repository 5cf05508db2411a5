"""One pass over the document in reading order, reading every responsibility note.

Conventions declared by one note (列第一位者为牵头单位，下同) govern the notes after it, so the notes
must be read in document order, once, before tasks and indicators pick them up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lines import Para
from .models import ParseWarning
from .normalize import bracket_spans
from .numbering import leading_number
from .sections import Node
from .tables import Row, Table
from .units import NoteReader, NoteSpan, Responsibility, find_notes

_LOOKS_LIKE_NOTE = re.compile(r"牵头|(?:负责|配合|参与)[。.]?$")
_MAX_STATEMENT = 150


@dataclass
class Notes:
    spans: dict[int, list[NoteSpan]] = field(default_factory=dict)  # id(para) → notes in it
    statements: dict[int, Responsibility] = field(default_factory=dict)  # id(para) → a note standing alone
    rows: dict[int, Responsibility] = field(default_factory=dict)  # id(row) → responsible cell

    def in_para(self, para: Para) -> list[NoteSpan]:
        return self.spans.get(id(para), [])

    def statement(self, para: Para) -> Responsibility | None:
        return self.statements.get(id(para))

    def row(self, row: Row) -> Responsibility | None:
        return self.rows.get(id(row))


def read_notes(root: Node) -> tuple[Notes, list[ParseWarning]]:
    reader = NoteReader()
    notes = Notes()
    warnings: list[ParseWarning] = []
    heads = {id(node.head) for node in root.walk() if node.head is not None}
    for block in root.blocks():
        if isinstance(block, Table):
            _read_rows(block, reader, notes, warnings)
            continue
        spans = find_notes(block.text, block.norm, reader)
        if spans:
            notes.spans[id(block)] = spans
        elif (
            id(block) not in heads
            and leading_number(block.norm) is None
            and len(block.text) <= _MAX_STATEMENT
        ):
            statement = reader.read(block.text)
            if statement is not None:
                notes.statements[id(block)] = statement
                continue
        _warn_unread(block, spans, warnings)
    return notes, warnings


def _read_rows(table: Table, reader: NoteReader, notes: Notes, warnings: list[ParseWarning]) -> None:
    for row in table.rows:
        cell = row.cells.get("responsible")
        if not cell:
            continue
        responsibility = reader.read(cell)
        if responsibility is None:
            # A bare list of names in a 责任单位 column: all of them answer for it.
            responsibility = reader.read(cell + "负责")
        if responsibility is None:
            warnings.append(
                ParseWarning(
                    code="responsibility_unparsed", line=row.lines[0], text=cell, detail="无法拆分责任单位"
                )
            )
            continue
        co_cell = row.cells.get("co")
        if co_cell:
            extra = reader.read(co_cell + "配合")
            if extra is not None:
                responsibility.co += [u for u in extra.co if u not in responsibility.co]
        notes.rows[id(row)] = responsibility


def _warn_unread(para: Para, read: list[NoteSpan], warnings: list[ParseWarning]) -> None:
    """A bracket that reads like a note (…牵头 / …负责) but does not parse: tell the bureau."""
    read_starts = {span.start for span in read}
    for start, end in bracket_spans(para.norm):
        inner = para.norm[start + 1 : end].strip(" )")
        if start in read_starts or not _LOOKS_LIKE_NOTE.search(inner):
            continue
        warnings.append(
            ParseWarning(
                code="responsibility_unparsed",
                line=para.lines_for(start, end)[0],
                text=para.text[start:end],
                detail="括号内似为责任分工，但无法拆分出牵头和配合单位",
            )
        )
