"""Markdown and HTML loaders: one block per heading section, with the
heading path ("Part > Section"); HTML scripts and styles are dropped.

Both must stay linear in the size of their input, whatever it holds: a
corpus file is untrusted. So no pattern here may scan to the end of a line
from every one of many openers (``[`` without ``]``, ``**`` without a
closer, ``<!--`` without ``-->``): each scan stops at the next delimiter of
its kind, and HTML constructs left open at the end, which CPython's
``HTMLParser`` (before 3.11.13/3.12.11) re-scans once per opener, are turned
into text first.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.blocks import Block, Heading, sectioned_blocks

# -- Markdown --------------------------------------------------------------

_ATX_OPEN = re.compile(r"^ {0,3}(#{1,6})[ \t]+")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_NOT_SETEXT_TEXT = re.compile(r"^(?:[-*+>|]|\d+[.)]|```|~~~)")
# Link text stops at the next bracket and a URL at the next parenthesis or
# space (one level of balanced parentheses allowed): "[a](" repeated along a
# line then costs one short scan each, not a scan to the end of the line.
_URL = r"\((?:[^()\s]|\([^()\s]*\))*\)"
_IMAGE = re.compile(r"!\[([^\[\]]*)\]" + _URL)
_LINK = re.compile(r"\[([^\[\]]+)\]" + _URL)
# Strong text runs to the next pair of its delimiter, never past it.
_STRONG = re.compile(
    r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*|__(?=\S)((?:[^_]|_(?!_))+?)(?<=\S)__"
)
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTE = re.compile(r"^ {0,3}> ?")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)


def _strong_text(match: re.Match[str]) -> str:
    return match.group(1) if match.group(1) is not None else match.group(2)


def _inline_markdown(line: str) -> str:
    # Keep link and image text, drop URLs and markup: noise for both indexes
    # and for the passages shown to the model. Single '*'/'_' emphasis is left
    # alone: too easily confused with identifiers and footnote marks.
    line = _LINK.sub(r"\1", _IMAGE.sub(r"\1", line))
    line = _CODE.sub(r"\1", _STRONG.sub(_strong_text, line))
    return _QUOTE.sub("", line)


def _atx_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line ("## Title ##"), else None."""
    match = _ATX_OPEN.match(line)
    if match is None:
        return None
    # The closing hashes and the blanks around them, stripped from the right
    # (a pattern with a lazy body and an optional tail rescans trailing blanks
    # once per character).
    text = line[match.end() :].rstrip(" \t").rstrip("#").rstrip(" \t")
    return len(match.group(1)), text


def _strip_comments(text: str) -> str:
    """Drop ``<!-- ... -->``; an unclosed comment stays as text (one scan
    with ``str.find``, where ``<!--.*?-->`` rescans the rest per opener)."""
    parts: list[str] = []
    position = 0
    while True:
        start = text.find("<!--", position)
        end = text.find("-->", start + 4) if start >= 0 else -1
        if end < 0:
            parts.append(text[position:])
            return "".join(parts)
        parts.append(text[position:start])
        position = end + 3


def load_markdown(text: str) -> tuple[str, tuple[Block, ...]]:
    text = _strip_comments(text.replace("\r\n", "\n"))
    front_title = ""
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "title":
                front_title = value.strip().strip("'\"")
        text = text[match.end() :]

    items: list[Heading | str] = []
    fence: str | None = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            fence = None if fence == marker else (fence or marker)
            continue
        if fence is not None:
            items.append(line)
            continue
        atx = _atx_heading(line)
        if atx:
            heading = _inline_markdown(atx[1]).strip()
            if heading:
                items.append(Heading(atx[0], heading))
            continue
        setext = _SETEXT.match(line)
        if setext:
            previous = lines[index - 1].strip() if index else ""
            before = lines[index - 2].strip() if index >= 2 else ""
            # "Title\n=====" when the line before is a one-line paragraph;
            # otherwise a horizontal rule, which carries no text.
            follows_text = bool(items) and isinstance(items[-1], str)
            if follows_text and previous and not before and not _NOT_SETEXT_TEXT.match(previous):
                items.pop()
                level = 1 if setext.group(1).startswith("=") else 2
                items.append(Heading(level, _inline_markdown(previous)))
            continue
        items.append(_inline_markdown(line))
    title, blocks = sectioned_blocks(items)
    return front_title or title, blocks


# -- HTML ------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
# Paragraph-like elements are separated by a blank line, line-like ones start
# a new line; table cells are separated by a space.
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav",
        "ul", "ol", "dl", "table", "blockquote", "pre", "figure", "form", "address",
        "details",
    }
)  # fmt: skip
_LINE_TAGS = frozenset({"li", "dt", "dd", "tr", "br", "hr", "figcaption", "summary"})
_CELL_TAGS = frozenset({"td", "th"})
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}


class _OutlineParser(HTMLParser):
    """Collects headings and text; everything inside skipped tags is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[Heading | str] = []
        self.title = ""
        self._skip_depth = 0
        self._in_title = False
        self._heading_level: int | None = None
        self._heading: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _HEADING_TAGS:
            self._flush_text()
            self._heading_level = _HEADING_TAGS[tag]
            self._heading = []
        elif tag in _PARAGRAPH_TAGS:
            self._text.append("\n\n")
        elif tag in _LINE_TAGS:
            self._text.append("\n")
        elif tag in _CELL_TAGS:
            self._text.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LINE_TAGS:
            self._text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _HEADING_TAGS and self._heading_level is not None:
            heading = " ".join("".join(self._heading).split())
            if heading:
                self.items.append(Heading(self._heading_level, heading))
            self._heading_level = None
        elif tag in _PARAGRAPH_TAGS:
            self._text.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip_depth:
            return
        elif self._heading_level is not None:
            self._heading.append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush_text()

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # "<![" followed by anything but a known keyword makes the base class
        # raise AssertionError; HTML5 reads it as a bogus comment up to ">".
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1

    def _flush_text(self) -> None:
        if self._text:
            self.items.append("".join(self._text))
            self._text = []


_TAG_OPEN = re.compile(r"<(?=[a-zA-Z/!?])")
_COMMENT_CLOSE = re.compile(r"--\s*>")  # what HTMLParser accepts as "-->"
_MARKED_CLOSE = re.compile(r"]\s*]\s*>")


def _defuse_unclosed(text: str) -> str:
    """Turn markup that is still open at the end of the text into text.

    ``HTMLParser`` handles a construct that never closes ("<a b", "<!--",
    "<![CDATA[") at the end of its input by emitting one piece of it as text
    and trying again from the next "<", rescanning the rest every time:
    quadratic in the number of openers (CPython gh-135462). Nothing after the
    last ">" can close a tag, no comment opened after the last "-->" and no
    marked section opened after the last "]]>" can close either, so their
    "<" is escaped here: the parser then yields the same text, in one pass."""
    last_gt = text.rfind(">")
    head, tail = text[: last_gt + 1], text[last_gt + 1 :]
    tail = _TAG_OPEN.sub("&lt;", tail)
    for opener, closer in (("<!--", _COMMENT_CLOSE), ("<![", _MARKED_CLOSE)):
        cut = 0
        for match in closer.finditer(head):
            cut = match.end()
        if opener in head[cut:]:
            head = head[:cut] + head[cut:].replace(opener, "&lt;" + opener[1:])
    return head + tail


def load_html(text: str) -> tuple[str, tuple[Block, ...]]:
    parser = _OutlineParser()
    parser.feed(_defuse_unclosed(text))
    parser.close()
    first_h1 = next((h.text for h in parser.items if isinstance(h, Heading) and h.level == 1), "")
    _, blocks = sectioned_blocks(parser.items)
    title = " ".join(parser.title.split()) or first_h1
    if not title:
        title = next((h.text for h in parser.items if isinstance(h, Heading)), "")
    return title, blocks
