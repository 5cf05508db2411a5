"""Evidence files: what may be uploaded, recognised by name and by content, and their checksum.

A file is accepted when its extension is in the configured list and its first bytes are what that
format starts with (a renamed .exe is refused as a forbidden type, not stored as a "pdf"). Office
files are ZIP packages, told apart by the part that only that format has.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass

from emplan_shared.errors import EmplanError, ProblemItem


class EvidenceTooLarge(EmplanError):
    status_code, code = 413, "evidence_too_large"


class EvidenceTypeForbidden(EmplanError):
    status_code, code = 415, "evidence_type_forbidden"


def _zip_with(part: str) -> Callable[[bytes], bool]:
    def check(content: bytes) -> bool:
        if not content.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                return any(name.startswith(part) for name in archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return False

    return check


def _starts(*magics: bytes) -> Callable[[bytes], bool]:
    return lambda content: content.startswith(magics)


# extension → (media type, content check)
KNOWN_TYPES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "pdf": ("application/pdf", _starts(b"%PDF-")),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _zip_with("word/"),
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _zip_with("xl/")),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _zip_with("ppt/"),
    ),
    "jpg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "png": ("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "ofd": ("application/ofd", _zip_with("OFD.xml")),
}


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{size} 字节"


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    extension: str
    media_type: str
    size_bytes: int
    sha256: str


def check_file(
    filename: str, content: bytes, *, allowed: Collection[str], max_bytes: int, field: str = "body.file"
) -> CheckedFile:
    """Accept the file or raise 413 / 415 naming the field; nothing is stored by this function."""
    if len(content) > max_bytes:
        raise EvidenceTooLarge(
            f"证明材料超过大小限制（{_human(max_bytes)}）",
            errors=[ProblemItem(field=field, code="too_large", detail=f"文件大小 {len(content)} 字节")],
        )
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    allowed_set = {a.lower().lstrip(".") for a in allowed}
    if extension not in allowed_set or extension not in KNOWN_TYPES:
        raise EvidenceTypeForbidden(
            f"不允许的证明材料类型（允许：{'、'.join(sorted(allowed_set & KNOWN_TYPES.keys()))}）",
            errors=[ProblemItem(field=field, code="type_forbidden", detail=f"文件名：{filename}")],
        )
    media_type, matches = KNOWN_TYPES[extension]
    if not matches(content):
        raise EvidenceTypeForbidden(
            f"文件内容与扩展名 .{extension} 不符",
            errors=[ProblemItem(field=field, code="content_mismatch", detail=f"文件名：{filename}")],
        )
    return CheckedFile(
        filename=filename,
        extension=extension,
        media_type=media_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
