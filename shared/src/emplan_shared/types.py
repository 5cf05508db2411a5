"""Constrained input types shared by every service's schemas.

PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate (which JSON can smuggle in as
`\\ud800`) cannot be encoded at all; both must be refused at the edge as a 422, not fail as a 500 in
the database driver. The patterns also tell API clients and fuzzers what a valid value looks like.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("包含无法编码的字符") from exc
    return value


_ONE_LINE = r"^[^\x00-\x1f\x7f]+$"

# One line of text: a name, a title. No control characters at all.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE),
    AfterValidator(_encodable),
]
# The same, for the shorter names (regions, people).
ShortName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_ONE_LINE),
    AfterValidator(_encodable),
]

# Free text: line breaks and tabs allowed, other control characters not.
Text = Annotated[
    str,
    StringConstraints(max_length=20_000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"),
    AfterValidator(_encodable),
]
