"""The outline: paragraphs → a tree of numbered sections, boxes (专栏) and in-text lists.

Numbering styles (一、 / （一） / 1. / （1） / ① / 第一章) get their depth from the order in which the
document nests them, not from a fixed table: a style already open on the path closes everything below
it; a new style opens a deeper level. Markdown `#` levels are unreliable after conversion, so a
Markdown heading with a number is placed by its number.

Two things look like numbering but are not structure, and become `box` / `list` nodes whose numbered
paragraphs are `entry` nodes:
- a box (专栏3 …) followed by its own 1., 2., … items (or by a table);
- a list restarting at 1 in a style already used above (…治本攻坚重点： 1.危险化学品 … 9.… inside
  chapters numbered 1., 2., …), usually introduced by a `label：` paragraph.
Either ends at the first paragraph that does not continue its 1, 2, 3 sequence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from .lines import Para
from .normalize import squeeze
from .numbering import Number, leading_number
from .tables import Table, read_table

NodeKind = Literal["root", "heading", "item", "box", "list", "entry"]

_BOX = re.compile(r"^专栏\s*(\d+)\s*[:.、]?\s*")
_LABEL = re.compile(r"^(?P<label>[^,。;:()]{2,30}):")
_MAX_HEADING = 50


@dataclass(eq=False)
class Node:
    kind: NodeKind
    title: str
    number: str | None = None
    style: str | None = None
    value: int = 0
    head: Para | None = None
    body_start: int = 0  # offset in head.text where the text after the title begins
    parent: Node | None = None
    content: list[Para | Table | Node] = field(default_factory=list)
    table: Table | None = None  # a box's table

    @property
    def children(self) -> list[Node]:
        return [item for item in self.content if isinstance(item, Node)]

    @property
    def outline_children(self) -> list[Node]:
        """Children that are sections (not the entries of a box or list)."""
        return [child for child in self.children if child.kind != "entry"]

    @property
    def head_body(self) -> str:
        return self.head.text[self.body_start :].strip() if self.head else ""

    def own_paras(self) -> list[Para]:
        """Paragraphs directly under this node, before its first child section."""
        paras: list[Para] = []
        for item in self.content:
            if isinstance(item, Node):
                break
            if isinstance(item, Para):
                paras.append(item)
        return paras

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def path(self) -> list[Node]:
        """Ancestors below the root, outermost first, excluding this node."""
        chain: list[Node] = []
        node = self.parent
        while node is not None and node.kind != "root":
            chain.append(node)
            node = node.parent
        return chain[::-1]

    def blocks(self) -> Iterator[Para | Table]:
        """Every paragraph and table of the subtree in document order, heads included."""
        if self.head is not None:
            yield self.head
        for item in self.content:
            if isinstance(item, Node):
                yield from item.blocks()
            else:
                yield item


def split_title(para: Para, start: int) -> tuple[str, int]:
    """Title (up to the first 。 or ：) of the text after a number, and where the rest begins."""
    rest = para.norm[start:]
    cut = min((i for i in (rest.find("。"), rest.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return squeeze(para.text[start:]).rstrip("。.;；"), len(para.text)
    return squeeze(para.text[start : start + cut]), start + cut + 1


def _node_for(para: Para, number: Number | None, style: str) -> Node:
    start = number.end if number else 0
    title, body_start = split_title(para, start)
    body = para.text[body_start:].strip()
    is_heading = (
        not body and len(title) <= _MAX_HEADING and not re.search(r"[;!?。]", para.norm[start:].rstrip("。"))
    )
    return Node(
        kind="heading" if is_heading else "item",
        title=title,
        number=number.marker if number else None,
        style=style,
        value=number.value if number else 0,
        head=para,
        body_start=body_start,
    )


def _entry(para: Para, number: Number) -> Node:
    node = _node_for(para, number, number.style)
    node.kind = "entry"
    return node


class _Builder:
    def __init__(self) -> None:
        self.root = Node(kind="root", title="")
        self.stack: list[Node] = [self.root]
        self.group: Node | None = None  # an open box or list collecting entries
        self.entry_style: str | None = None
        self.expected = 1

    @property
    def top(self) -> Node:
        return self.stack[-1]

    def anchor(self) -> Node:
        """Where a box or list hangs: the deepest open heading (a numbered paragraph with body text is
        an item, not a place for a box)."""
        for node in reversed(self.stack):
            if node.kind in ("heading", "root"):
                return node
        return self.root

    def attach(self, parent: Node, node: Node) -> None:
        node.parent = parent
        parent.content.append(node)

    def close_group(self) -> None:
        self.group = None
        self.entry_style = None

    def open_group(self, node: Node) -> None:
        self.attach(self.anchor(), node)
        self.group = node
        self.expected = 1

    def add_table(self, table: Table) -> None:
        caption = table.caption or ""
        box = _BOX.match(caption)
        if self.group is not None and self.group.kind == "box" and not self.group.children:
            self.group.table = table
            self.group.content.append(table)
        elif box:
            node = Node(
                kind="box", title=squeeze(caption[box.end() :]), number=f"专栏{box.group(1)}", table=table
            )
            self.attach(self.anchor(), node)
            node.content.append(table)
        else:
            self.top.content.append(table)
        self.close_group()

    def add_numbered(self, para: Para, number: Number) -> None:
        group = self.group
        if group is not None:
            if number.value == self.expected and self.entry_style in (None, number.style):
                self.entry_style = number.style
                self.expected += 1
                self.attach(group, _entry(para, number))
                return
            self.close_group()
        found = next(
            (i for i in range(len(self.stack) - 1, 0, -1) if self.stack[i].style == number.style), None
        )
        if found is not None and number.value == 1:
            self.open_list(para, number)
            return
        if found is not None:
            del self.stack[found:]
        node = _node_for(para, number, number.style)
        self.attach(self.top, node)
        self.stack.append(node)

    def open_list(self, para: Para, number: Number) -> None:
        """A sequence restarting at 1 in a style already open above: an in-text list, usually
        introduced by a `label：` paragraph, which becomes the list's head."""
        node = Node(kind="list", title="")
        last = self.top.content[-1] if self.top.content else None
        label = _LABEL.match(last.norm) if isinstance(last, Para) else None
        if isinstance(last, Para) and label is not None:
            self.top.content.pop()
            node.title = squeeze(last.text[: label.end("label")])
            node.head = last
            node.body_start = label.end()
        self.open_group(node)
        self.entry_style = number.style
        self.expected = 2
        self.attach(node, _entry(para, number))

    def add_md_heading(self, para: Para) -> None:
        style = f"md{para.md_level}"
        found = next((i for i in range(len(self.stack) - 1, 0, -1) if self.stack[i].style == style), None)
        if found is not None:
            del self.stack[found:]
        node = _node_for(para, None, style)
        node.kind = "heading"
        self.attach(self.top, node)
        self.stack.append(node)

    def add_para(self, para: Para) -> None:
        self.close_group()
        self.top.content.append(para)


def build_outline(paras: list[Para], preamble: set[int]) -> Node:
    """The document tree. Paragraph indexes in `preamble` (title, notice, signature) stay plain text."""
    builder = _Builder()
    index = 0
    while index < len(paras):
        para = paras[index]
        if index in preamble:
            # Title, notice and signature lines belong to the document, not to a section.
            builder.root.content.append(para)
            index += 1
            continue
        found = read_table(paras, index)
        if found is not None:
            table, index = found
            builder.add_table(table)
            continue
        box = _BOX.match(para.norm)
        if box and "。" not in para.norm and len(para.text) <= _MAX_HEADING:
            builder.close_group()
            node = Node(
                kind="box", title=squeeze(para.text[box.end() :]), number=f"专栏{box.group(1)}", head=para
            )
            node.body_start = len(para.text)
            builder.open_group(node)
        elif (number := leading_number(para.norm)) is not None and para.cells is None:
            builder.add_numbered(para, number)
        elif (
            para.md_level is not None
            and len(para.text) <= _MAX_HEADING
            and "。" not in para.norm.rstrip("。")
        ):
            builder.close_group()
            builder.add_md_heading(para)
        else:
            builder.add_para(para)
        index += 1
    return builder.root
