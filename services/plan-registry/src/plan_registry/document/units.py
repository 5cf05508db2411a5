"""Responsibility notes → lead and co-operating units.

Documents say who does what in many ways:
  （市应急局牵头，市水利局、各县〈市、区〉人民政府按职责分工负责）   explicit 牵头 / 负责
  （生态环境部牵头，国家发展改革委、国家统计局参与）                  牵头 / 参与 (配合, 协助)
  （商务部指导，供销合作总社参与）                                    指导 leads when nothing 牵头
  （A、B、C等负责。列第一位者为牵头单位，下同）                       the first unit listed leads
  （A、B负责，排在第一位的部门为牵头部门，下同）                      (下同: for the rest of the text)
  （…指导，试点城市政府负责落实。以下均需试点城市政府落实，不再列出） a standing co-operator
The same grammar reads a bracketed note, a table cell, or a paragraph that is only a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .normalize import CLOSERS, bracket_depths, bracket_spans, norm

_FIRST_LEADS = re.compile(
    r"[,;。]?\s*(?:列|排在|排)?第一位(?:者|的)?(?:部门|单位)?为牵头(?:单位|部门)(?P<same>\s*[,;]?\s*下同)?"
)
_STANDING = re.compile(r"[,;。]?\s*以下均需(?P<units>[^,;。]+?)落实\s*[,;]?\s*不再列出")
_ROLE = r"(?P<role>牵头负责|牵头|共同负责|负责落实|(?:按照?)?(?:各自)?职责(?:分工)?负责|分别负责|负责|配合|参与|协助|协同|指导)"
_CLAUSE = re.compile(rf"\s*(?P<units>[^,;。]+?)\s*{_ROLE}\s*(?:[,;。、]\s*|$)")
_LEAD_ROLES = {"牵头", "牵头负责"}
_CO_ROLES = {"配合", "参与", "协助", "协同"}
# A unit name ends with one of these; 和 / 及 / 与 after such an ending joins two units
# (市水利局和各县人民政府), elsewhere it is part of a name (市规划和自然资源局, 工业和信息化部).
_UNIT_END = "局委办厅部院署会府队处室所站心司团位门行社"
_JOINERS = re.compile(rf"(?<=[{_UNIT_END}等])[和及与](?=\S{{2}})")
_TRAILING_ETC = re.compile(r"(?:等(?:有关|相关|其他)?(?:部门|单位)?)$")
_LEADING_BY = re.compile(r"^(?:由|请)")
_MAX_UNIT_LEN = 30


@dataclass
class Responsibility:
    lead: list[str]
    co: list[str]


@dataclass
class NoteReader:
    """Reads notes in document order, remembering the conventions a 下同 carries forward."""

    first_leads: bool = False
    standing_co: list[str] = field(default_factory=list)

    def read(self, text: str) -> Responsibility | None:
        """The units a note names, or None when the text is not a responsibility note."""
        original = text.strip().strip("。.").strip()
        normed = norm(original)
        first_leads = self.first_leads
        convention = _FIRST_LEADS.search(normed)
        standing = _STANDING.search(normed)
        cut = len(normed)
        for match in (convention, standing):
            if match:
                cut = min(cut, match.start())
        body_norm, body = normed[:cut].rstrip(" ,;。"), original[:cut].rstrip(" ,;。，；")
        clauses = _clauses(body_norm, body)
        if clauses is None:
            return None
        if convention:
            first_leads = True
            if convention.group("same"):
                self.first_leads = True
        standing_units: list[str] = []
        if standing:
            standing_units = split_units(original[standing.start("units") : standing.end("units")])
            self.standing_co = _merge(self.standing_co, standing_units)
        result = _assign(clauses, first_leads)
        result.co = [u for u in _merge(result.co, self.standing_co) if u not in result.lead]
        return result


def _clauses(normed: str, original: str) -> list[tuple[str, list[str]]] | None:
    """(role, units) clauses covering the whole text, or None if some of it is not a note."""
    clauses: list[tuple[str, list[str]]] = []
    position = 0
    while position < len(normed):
        match = _CLAUSE.match(normed, position)
        if match is None:
            return None
        units = split_units(original[match.start("units") : match.end("units")])
        if not units or any(len(unit) > _MAX_UNIT_LEN for unit in units):
            return None
        clauses.append((match.group("role"), units))
        position = match.end()
    return clauses or None


def _assign(clauses: list[tuple[str, list[str]]], first_leads: bool) -> Responsibility:
    leads = [u for role, units in clauses if role in _LEAD_ROLES for u in units]
    guides = [u for role, units in clauses if role == "指导" for u in units]
    doers = [u for role, units in clauses if role not in _LEAD_ROLES | _CO_ROLES | {"指导"} for u in units]
    helpers = [u for role, units in clauses if role in _CO_ROLES for u in units]
    if leads:
        lead, co = leads, guides + doers + helpers
    elif guides:
        # 指导 names the department answerable for the work; those who 负责落实 carry it out.
        lead, co = guides, doers + helpers
    else:
        lead, co = doers, helpers
    if first_leads and not leads and len(lead) > 1:
        lead, co = lead[:1], lead[1:] + co
    lead = _merge([], lead)
    return Responsibility(lead=lead, co=[u for u in _merge([], co) if u not in lead])


def split_units(text: str) -> list[str]:
    """Split a list of unit names on 、，; and on 和/及/与 between two names, never inside brackets
    (各县〈市、区〉人民政府 stays whole); drop a trailing 等."""
    normed = norm(text)
    depths = bracket_depths(normed)
    pieces: list[str] = []
    start = 0
    for index, ch in enumerate(normed):
        if ch in "、,;" and depths[index] == 0:
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    units: list[str] = []
    for piece in pieces:
        piece_norm = norm(piece)
        piece_depths = bracket_depths(piece_norm)
        cuts = [m.start() for m in _JOINERS.finditer(piece_norm) if piece_depths[m.start()] == 0]
        bounds = [0, *[c + 1 for c in cuts]]
        ends = [*cuts, len(piece)]
        for begin, end in zip(bounds, ends, strict=True):
            unit = clean_unit(piece[begin:end])
            if unit:
                units.append(unit)
    return units


def clean_unit(text: str) -> str:
    """One unit name in canonical form: no spaces, （）for round brackets, no trailing 等."""
    unit = re.sub(r"\s+", "", text)
    unit = unit.replace("(", "（").replace(")", "）")
    unit = _LEADING_BY.sub("", unit)
    unit = _TRAILING_ETC.sub("", unit)
    return unit.strip("、，,;；。")


def _merge(first: list[str], second: list[str]) -> list[str]:
    merged = list(first)
    for item in second:
        if item not in merged:
            merged.append(item)
    return merged


@dataclass(frozen=True)
class NoteSpan:
    start: int  # offset of the opening bracket in the paragraph
    end: int  # offset just past the closing bracket (or the paragraph's end when never closed)
    responsibility: Responsibility


def find_notes(text: str, normed: str, reader: NoteReader) -> list[NoteSpan]:
    """Responsibility notes in a paragraph, read in order with the reader's conventions."""
    notes: list[NoteSpan] = []
    for start, end in bracket_spans(normed):
        inner_end = end - 1 if normed[end - 1] in CLOSERS else end
        responsibility = reader.read(text[start + 1 : inner_end])
        if responsibility is not None:
            notes.append(NoteSpan(start=start, end=end, responsibility=responsibility))
    return notes
