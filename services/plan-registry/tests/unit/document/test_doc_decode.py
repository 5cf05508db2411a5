"""Uploaded bytes → text: UTF-8 with/without BOM, UTF-16 with BOM, GBK/GB18030; clear errors."""

from __future__ import annotations

import codecs

import pytest

from plan_registry.document import DocumentError, decode_upload

SAMPLE = "某县“十四五”应急管理规划\n一、总体要求\n（一）目标。到2025年，生产安全事故死亡人数下降１５％。\n"


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.encode("utf-8"),
        codecs.BOM_UTF8 + SAMPLE.encode("utf-8"),
        SAMPLE.encode("utf-16"),
        SAMPLE.encode("gbk"),
        SAMPLE.encode("gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "gbk", "gb18030"],
)
def test_decodes_common_encodings(data: bytes) -> None:
    assert decode_upload(data) == SAMPLE


def test_decodes_short_gbk_text() -> None:
    assert decode_upload("县应急局牵头".encode("gbk")) == "县应急局牵头"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_document"),
        (b"  \r\n\t ", "empty_document"),
        (codecs.BOM_UTF8 + b"\n\n", "empty_document"),
        (b"PK\x03\x04\x14\x00\x06\x00", "binary_document"),
        (b"%PDF-1.7\n", "binary_document"),
        (bytes(range(256)) * 4, "binary_document"),
        (codecs.BOM_UTF8 + b"\xff\xfe\xfd", "undecodable_text"),
    ],
)
def test_rejects_what_is_not_text(data: bytes, code: str) -> None:
    with pytest.raises(DocumentError) as raised:
        decode_upload(data)
    assert raised.value.code == code
    assert raised.value.detail  # Chinese text for the bureau
