"""Markdown and HTML loaders: one block per heading section, with the
heading path ("Part > Section"); HTML scripts and styles are dropped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.blocks import Block, Heading, sectioned_blocks

# -- Markdown --------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_NOT_SETEXT_TEXT = re.compile(r"^(?:[-*+>|]|\d+[.)]|```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTE = re.compile(r"^ {0,3}> ?")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)


def _inline_markdown(line: str) -> str:
    # Keep link and image text, drop URLs and markup: noise for both indexes
    # and for the passages shown to the model. Single '*'/'_' emphasis is left
    # alone: too easily confused with identifiers and footnote marks.
    line = _LINK.sub(r"\1", _IMAGE.sub(r"\1", line))
    line = _CODE.sub(r"\1", _STRONG.sub(r"\2", line))
    return _QUOTE.sub("", line)


def load_markdown(text: str) -> tuple[str, tuple[Block, ...]]:
    text = _COMMENT.sub("", text.replace("\r\n", "\n"))
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
        atx = _ATX.match(line)
        if atx:
            heading = _inline_markdown(atx.group(2)).strip()
            if heading:
                items.append(Heading(len(atx.group(1)), heading))
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

    def _flush_text(self) -> None:
        if self._text:
            self.items.append("".join(self._text))
            self._text = []


def load_html(text: str) -> tuple[str, tuple[Block, ...]]:
    parser = _OutlineParser()
    parser.feed(text)
    parser.close()
    first_h1 = next((h.text for h in parser.items if isinstance(h, Heading) and h.level == 1), "")
    _, blocks = sectioned_blocks(parser.items)
    title = " ".join(parser.title.split()) or first_h1
    if not title:
        title = next((h.text for h in parser.items if isinstance(h, Heading)), "")
    return title, blocks
