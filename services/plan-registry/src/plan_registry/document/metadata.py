"""Title, kind, region, period, issuing body, document number, date and parent plans.

Read from the paragraphs before the first section: a title line (possibly a Markdown heading or split
over two lines), a 印发 notice wrapping the plan (the plan, not the notice, is what is imported), the
document number line, and the signature (issuing body, date) at either end.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from .lines import Para
from .models import Period, PlanKind, Region, RegionLevel
from .normalize import squeeze
from .numbering import cn_value, leading_number

_DOC_TYPES = "规划|方案|意见|通知|纲要|办法|计划|决定|细则|要点|规定|通报"
_TITLE_END = re.compile(rf"(?:{_DOC_TYPES})$")
_NOTICE_TITLE = re.compile(r"关于印发(?P<title>.+?)的通知$")
_NOTICE_BODY = re.compile(
    r"(?:现将|将)《(?P<title>[^》]+)》(?:[^。]{0,30})?印发给你们|《(?P<title2>[^》]+)》已经[^。]{0,30}同意"
)
_DOC_NUMBER = re.compile(r"^[\u4e00-\u9fff]{1,10}[〔\[［【(（]\s*\d{4}\s*[〕\]］】)）]\s*\d{1,4}\s*号$")
_DATE = re.compile(r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日$")
_CN_DATE = re.compile(
    r"^(?P<y>[〇零一二三四五六七八九]{4})年(?P<m>[一二三四五六七八九十]{1,2})月(?P<d>[一二三四五六七八九十]{1,3})日$"
)
_ISSUER = re.compile(r"(?:人民政府|办公厅|办公室|委员会|管委会|指挥部|国务院|政府|厅|局|委|部|院|署|办)$")
_BOOK_TITLE = re.compile(r"《(?P<title>[^《》]{4,80})》")
_PARENT_TYPES = re.compile(r"(?:规划|纲要)$")
_FYP = re.compile(r"(?P<n>十[一二三四五六七八九]|二十[一二三四五六七八九]?)五(?:规划|时期|期间|”|\")")
_RANGE = re.compile(r"(?P<a>(?:19|20)\d{2})\s*(?:年)?\s*[-—–~～至到]+\s*(?P<b>(?:19|20)\d{2})\s*年")
_REGION_HEAD = re.compile(
    r"^(?P<name>[\u4e00-\u9fff]{2,10}?(?:特别行政区|自治区|自治州|自治县|地区|省|市|县|区|盟|旗))"
)
_MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
_MAX_TITLE = 80


@dataclass
class Metadata:
    title: str | None = None
    kind: PlanKind = "plan"
    region: Region = field(default_factory=lambda: Region(name=None, level=None))
    period: Period = field(default_factory=lambda: Period(start=None, end=None))
    issuing_body: str | None = None
    doc_number: str | None = None
    issued_on: date | None = None
    parent_plans: list[str] = field(default_factory=list)
    preamble: set[int] = field(default_factory=set)  # paragraph indexes that are not content


def _is_title_like(para: Para) -> bool:
    text = para.norm
    return (
        para.cells is None
        and len(text) <= _MAX_TITLE
        and leading_number(text) is None
        and not re.search(r"[,。;:]", text)
    )


def _date_of(text: str) -> date | None:
    compact = text.strip()
    match = _DATE.match(compact)
    try:
        if match:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        match = _CN_DATE.match(compact)
        if match:
            year = int("".join(str(cn_value(ch)) for ch in match["y"]))
            month, day = cn_value(match["m"]), cn_value(match["d"])
            if month and day:
                return date(year, month, day)
    except ValueError:
        return None
    return None


def _find_title(paras: list[Para], head: int, meta: Metadata) -> None:
    """The plan's title: from a 印发 notice when there is one, else the first title-like line."""
    candidates = range(min(head, 15))
    for index in candidates:
        notice = _NOTICE_TITLE.search(squeeze(paras[index].text))
        if notice and _is_title_like(paras[index]):
            meta.preamble.add(index)
            meta.title = notice["title"].strip("《》")
        body = _NOTICE_BODY.search(paras[index].text)
        if body and meta.title is None:
            meta.title = body["title"] or body["title2"]
    for index in candidates:
        para = paras[index]
        if not _is_title_like(para):
            continue
        text = squeeze(para.text)
        joined, used = text, [index]
        # A title broken over two lines: the first part does not end with a document type.
        if not _TITLE_END.search(text) and index + 1 < head and _is_title_like(paras[index + 1]):
            following = squeeze(paras[index + 1].text)
            if _TITLE_END.search(following):
                joined, used = text + following, [index, index + 1]
        if not _TITLE_END.search(joined) or _NOTICE_TITLE.search(joined):
            continue
        if meta.title is None or joined == meta.title:
            meta.title = joined
            meta.preamble.update(used)
            return


def _find_signature(paras: list[Para], head: int, meta: Metadata) -> None:
    ends = [*range(min(head, 20)), *range(max(len(paras) - 6, head), len(paras))]
    for index in ends:
        para = paras[index]
        if _DOC_NUMBER.match(para.norm.strip()) and meta.doc_number is None:
            meta.doc_number = squeeze(para.text)
            meta.preamble.add(index)
            continue
        issued = _date_of(para.text)
        if issued is None or meta.issued_on is not None:
            continue
        meta.issued_on = issued
        meta.preamble.add(index)
        previous = paras[index - 1] if index else None
        if previous is not None and len(previous.text) <= 30 and _ISSUER.search(previous.text.strip()):
            meta.issuing_body = squeeze(previous.text)
            meta.preamble.add(index - 1)


def _parents(paras: list[Para], head: int, title: str | None) -> list[str]:
    parents: list[str] = []
    for para in paras[:head]:
        for match in _BOOK_TITLE.finditer(para.text):
            name = match["title"]
            wrapped = _NOTICE_TITLE.search(name)
            if wrapped:
                name = wrapped["title"]
            name = squeeze(name)
            if _PARENT_TYPES.search(name) and name != title and name not in parents:
                parents.append(name)
    return parents


def _period(title: str | None, preamble: str) -> Period:
    for text in (title or "", preamble):
        explicit = _RANGE.search(text)
        if explicit:
            return Period(start=int(explicit["a"]), end=int(explicit["b"]))
        plan = _FYP.search(text)
        if plan:
            number = cn_value(plan["n"])
            if number and number >= 3:
                # The five-year plans run 1953–57, 58–62, then (after the 1963–65 gap) from 1966 on.
                start = 1953 + 5 * (number - 1) + 3
                return Period(start=start, end=start + 4)
    return Period(start=None, end=None)


def _level(name: str) -> RegionLevel:
    if name.endswith(("省", "自治区", "特别行政区")) or name in _MUNICIPALITIES:
        return "province"
    if name.endswith(("市", "自治州", "地区", "盟")):
        return "city"
    return "county"


def _region(title: str | None, text: str) -> Region:
    if title:
        match = _REGION_HEAD.match(title)
        if match:
            return Region(name=match["name"], level=_level(match["name"]))
    # No title: the place the text keeps naming. 全市 / 全县 / 全省 tell the level; the name is the
    # two characters most often written before that suffix (a real name recurs; 建立市… does not).
    suffix_counts = {suffix: text.count("全" + suffix) + text.count("本" + suffix) for suffix in "省市县区"}
    suffix = max(suffix_counts, key=lambda s: suffix_counts[s])
    if suffix_counts[suffix] == 0:
        return Region(name=None, level=None)
    found = list(re.finditer(rf"(?=([\u4e00-\u9fff]{{2}}){suffix})", text))
    ranked = Counter(m.group(1) for m in found).most_common(2)
    if not ranked or ranked[0][1] < 3 or (len(ranked) > 1 and ranked[0][1] < 1.5 * ranked[1][1]):
        return Region(name=None, level=None)
    stem = ranked[0][0]
    # A stem always preceded by the same character is the tail of a longer word (试点城市), not a name.
    before = Counter(text[m.start() - 1] if m.start() else "" for m in found if m.group(1) == stem)
    if before.most_common(1)[0][1] > 0.6 * ranked[0][1]:
        return Region(name=None, level=None)
    name = stem + suffix
    return Region(name=name, level=_level(name))


def read_metadata(paras: list[Para], first_section: int) -> Metadata:
    """Metadata from the paragraphs before `first_section` (and the signature at the end)."""
    meta = Metadata()
    head = first_section
    _find_title(paras, head, meta)
    _find_signature(paras, head, meta)
    preamble_text = "\n".join(p.text for i, p in enumerate(paras[:head]) if i not in meta.preamble)
    meta.parent_plans = _parents(paras, head, meta.title)
    scope = meta.title or preamble_text
    meta.kind = "implementation_plan" if "实施方案" in scope or "本实施方案" in preamble_text else "plan"
    meta.period = _period(meta.title, preamble_text)
    meta.region = _region(meta.title, "\n".join(p.text for p in paras))
    return meta
