"""Bytes of an uploaded .txt to text: UTF-8 (with or without BOM), UTF-16 with BOM, GBK/GB18030."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from .errors import DocumentError

_MAGIC = {
    b"PK\x03\x04": "这是一个压缩包或 Word 文档（.docx），请以 .docx 方式上传",
    b"%PDF": "这是一个 PDF 文件，暂不支持，请上传 .txt 或 .docx",
    b"\xd0\xcf\x11\xe0": "这是旧版 Office 文件（.doc），请另存为 .docx 后上传",
    b"\x89PNG": "这是一张图片，不是文本",
    b"\xff\xd8\xff": "这是一张图片，不是文本",
}


def decode_upload(data: bytes) -> str:
    """Decode an uploaded plain-text document, or raise DocumentError."""
    if not data.strip():
        raise DocumentError("empty_document", "文件为空")
    for magic, detail in _MAGIC.items():
        if data.startswith(magic):
            raise DocumentError("binary_document", detail)
    text = _decode(data)
    if not text.strip():
        raise DocumentError("empty_document", "文件只有空白字符")
    if _control_ratio(text) > 0.01:
        raise DocumentError("binary_document", "文件含有大量控制字符，不是文本文件")
    return text


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[len(codecs.BOM_UTF8) :], "utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16")
    if b"\x00" in data:
        # NUL bytes without a UTF-16 BOM: a binary file, not text a bureau typed.
        raise DocumentError("binary_document", "文件含有二进制内容（NUL 字节），不是文本文件")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Chinese government files that are not UTF-8 are GBK or its superset GB18030. Trying it before
    # the statistical detector avoids short GBK texts being taken for Big5 or a Latin code page.
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and _cjk_share(text) >= 0.8:
        return text
    best = from_bytes(data).best()
    if best is None:
        raise DocumentError("undecodable_text", "无法识别文件编码，请另存为 UTF-8 后上传")
    return str(best)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DocumentError(
            "undecodable_text", f"文件声明为 {encoding.upper()} 编码，但第 {exc.start} 字节处无法解码"
        ) from exc


def _cjk_share(text: str) -> float:
    """Share of the non-ASCII characters that are Chinese characters or Chinese/full-width punctuation:
    high for real GBK text, low when GB18030 was forced onto bytes of another encoding."""
    wide = [ch for ch in text if not ch.isascii()]
    if not wide:
        return 0.0
    cjk = sum(
        1
        for ch in wide
        if "\u4e00" <= ch <= "\u9fff"
        or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef"
        or "\u2010" <= ch <= "\u2030"
    )
    return cjk / len(wide)


def _control_ratio(text: str) -> float:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return controls / len(text)
