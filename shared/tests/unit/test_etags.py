"""If-Match reading shared by every edit endpoint."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from emplan_shared.errors import PreconditionRequired
from emplan_shared.etags import required_if_match


def _request(*headers: tuple[bytes, bytes]) -> Request:
    return Request({"type": "http", "method": "PATCH", "path": "/", "headers": list(headers)})


@pytest.mark.parametrize("value", [None, b"", b"   ", b" , ,"])
def test_missing_or_blank_if_match_is_428(value: bytes | None) -> None:
    headers = [] if value is None else [(b"if-match", value)]
    with pytest.raises(PreconditionRequired) as raised:
        required_if_match(_request(*headers), "修改部门")
    assert raised.value.status_code == 428
    assert raised.value.detail.startswith("修改部门须携带 If-Match")


def test_tags_are_split_and_trimmed() -> None:
    assert required_if_match(_request((b"if-match", b' "3" , "4",*')), "修改部门") == ['"3"', '"4"', "*"]
