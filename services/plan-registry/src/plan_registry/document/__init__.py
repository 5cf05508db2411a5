"""The plan document parser: a 十四五 plan or implementation plan (.txt or .docx) → ParsedPlan.

Pure Python, no database or web code. Entry points: `decode_upload` (bytes of a .txt → text),
`parse_text`, `parse_docx`. Every failure is a `DocumentError` with a stable `code`.
"""

from .decode import decode_upload
from .docx import docx_text, parse_docx
from .errors import DocumentError
from .models import (
    Goal,
    Indicator,
    ParsedPlan,
    ParseWarning,
    Period,
    Region,
    Responsible,
    Section,
    SectionRef,
    Target,
    Task,
)
from .parser import parse_text

__all__ = [
    "DocumentError",
    "Goal",
    "Indicator",
    "ParseWarning",
    "ParsedPlan",
    "Period",
    "Region",
    "Responsible",
    "Section",
    "SectionRef",
    "Target",
    "Task",
    "decode_upload",
    "docx_text",
    "parse_docx",
    "parse_text",
]
