"""The one error type the document parser raises."""

from __future__ import annotations


class DocumentError(Exception):
    """A document that cannot be parsed at all.

    `code` is stable and machine-readable (the API maps it to a problem+json `code`); `detail` is the
    Chinese text shown to the bureau; `line` is the 1-based line of the decoded text when one applies.
    Codes: `empty_document`, `binary_document`, `undecodable_text`, `not_a_docx`, `no_structure`.
    """

    def __init__(self, code: str, detail: str, line: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" + (f" (line {line})" if line is not None else ""))
        self.code = code
        self.detail = detail
        self.line = line
