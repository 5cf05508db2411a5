"""If-Match on every edit: one reading of the header for all services."""

from __future__ import annotations

from fastapi import Request

from emplan_shared.errors import PreconditionRequired, ProblemItem


def required_if_match(request: Request, what: str) -> list[str]:
    """The entity tags an edit's `If-Match` names; 428 when it names none.

    A blank header (`If-Match:` with no value) names no tag: it is as good as missing (428), not a
    stale tag (412). `what` completes the Chinese message, e.g. "修改部门".
    """
    header = request.headers.get("if-match") or ""
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if not tags:
        raise PreconditionRequired(
            f"{what}须携带 If-Match 请求头（取自读取时的 ETag）",
            errors=[ProblemItem(field="header.If-Match", detail="缺少 If-Match")],
        )
    return tags
