"""Reading uploads: encodings, headers in English or Chinese, blank lines, .xlsx cells, bad files."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from openpyxl import Workbook

from emplan_shared.errors import BadRequest
from indicator_engine.data.parsing import RawRow, csv_rows, detect_encoding, detect_format, xlsx_rows
from indicator_engine.data.rules import RowError


def rows(items: Iterator[RawRow | RowError]) -> list[RawRow | RowError]:
    return list(items)


class TestCsv:
    TEXT = "行政区划代码,数据元素,年份,数值,来源\n140902,ps_deaths,2021,12,忻州市应急管理局\n\n140921,ps_deaths,2021,3,\n"

    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
    def test_encodings(self, encoding: str) -> None:
        result = rows(csv_rows(io.BytesIO(self.TEXT.encode(encoding))))
        assert result == [
            (2, "ps_deaths", "140902", "2021", None, "12", None, "忻州市应急管理局"),
            (4, "ps_deaths", "140921", "2021", None, "3", None, ""),
        ]

    def test_detection(self) -> None:
        assert detect_encoding("忻州".encode("gbk")) == "gb18030"
        assert detect_encoding("忻州".encode()) == "utf-8-sig"
        # A prefix cut in the middle of a UTF-8 character is still UTF-8.
        assert detect_encoding("忻州".encode()[:4]) == "utf-8-sig"

    def test_wrong_column_count_is_a_row_error(self) -> None:
        data = "element_code,region_code,year,value\nps_deaths,140902,2021\n"
        (error,) = rows(csv_rows(io.BytesIO(data.encode())))
        assert isinstance(error, RowError)
        assert (error.row, error.code) == (2, "column_count")

    @pytest.mark.parametrize(
        ("header", "code"),
        [
            ("element_code,region_code,year", "missing_column"),
            ("element_code,region_code,year,value,remarks", "unknown_column"),
            ("element_code,region_code,year,value,数值", "duplicate_column"),
        ],
    )
    def test_bad_headers(self, header: str, code: str) -> None:
        with pytest.raises(BadRequest) as caught:
            rows(csv_rows(io.BytesIO((header + "\n").encode())))
        assert caught.value.code == code

    def test_empty(self) -> None:
        with pytest.raises(BadRequest) as caught:
            rows(csv_rows(io.BytesIO(b"\n\n")))
        assert caught.value.code == "empty_upload"

    def test_undecodable_bytes_after_the_sniffed_prefix(self) -> None:
        head = ("element_code,region_code,year,value\n" + "ps_deaths,140902,2021,1\n" * 4000).encode()
        data = head + "ps_deaths,140902,2021,1,忻州\n".encode("gbk")
        with pytest.raises(BadRequest) as caught:
            rows(csv_rows(io.BytesIO(data)))
        assert caught.value.code in ("bad_encoding", "malformed_csv")


class TestXlsx:
    def test_cells_keep_their_types(self) -> None:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append([None])
        sheet.append(["element_code", "region_code", "year", "month", "value", "unit"])
        sheet.append(["gdp", 140902, 2021, None, 1234.5, "亿元"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        assert detect_format(buffer.getvalue()[:8]) == "xlsx"
        result = rows(xlsx_rows(io.BytesIO(buffer.getvalue())))
        assert result == [(3, "gdp", 140902, 2021, None, 1234.5, "亿元", None)]

    @pytest.mark.parametrize("content", [b"PK\x03\x04garbage", b"not a workbook at all"])
    def test_malformed(self, content: bytes) -> None:
        with pytest.raises(BadRequest) as caught:
            rows(xlsx_rows(io.BytesIO(content)))
        assert caught.value.code == "malformed_xlsx"

    def test_old_xls_is_refused(self) -> None:
        with pytest.raises(BadRequest) as caught:
            detect_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
        assert caught.value.code == "unsupported_format"
