"""A tiny document model rendered both as Markdown and as self-contained HTML.

The report is written once, as a list of blocks (headings, paragraphs,
tables, images), and rendered twice, so ``report.md`` and ``report.html``
cannot drift apart. HTML embeds images as base64 data URIs, so the file can
be mailed to a risk committee on its own; Markdown links them by file name.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Para:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Image:
    path: Path  # a PNG next to the report
    alt: str


Block = Heading | Para | Table | Image


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    return Table(tuple(headers), tuple(tuple(str(cell) for cell in row) for row in rows))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        match block:
            case Heading():
                out.append("#" * block.level + " " + block.text)
            case Para():
                out.append(block.text)
            case Table():
                out.append("| " + " | ".join(_md_cell(h) for h in block.headers) + " |")
                out.append("|" + "---|" * len(block.headers))
                out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows)
            case Image():
                out.append(f"![{block.alt}]({block.path.name})")
        out.append("")
    return "\n".join(out)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f6f6f6; padding: 0 0.2rem; }
"""


_ITALIC_RE = re.compile(r"(?<![*\w])\*(\S[^*]*?)\*(?![*\w])")


def _inline(text: str) -> str:
    """Escape, then turn `code`, **bold** and *italic* into tags (all the
    Markdown the report uses inline); nothing inside code spans is touched."""
    parts = html.escape(text).split("`")
    for i, part in enumerate(parts):
        if i % 2:
            parts[i] = f"<code>{part}</code>"
            continue
        pieces = part.split("**")
        for j in range(1, len(pieces), 2):
            pieces[j] = f"<strong>{pieces[j]}</strong>"
        parts[i] = _ITALIC_RE.sub(r"<em>\1</em>", "".join(pieces))
    return "".join(parts)


def to_html(blocks: Sequence[Block], title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
    ]
    for block in blocks:
        match block:
            case Heading():
                level = min(max(block.level, 1), 6)
                out.append(f"<h{level}>{_inline(block.text)}</h{level}>")
            case Para():
                out.append(f"<p>{_inline(block.text)}</p>")
            case Table():
                head = "".join(f"<th>{_inline(h)}</th>" for h in block.headers)
                body = "".join(
                    "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                    for row in block.rows
                )
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            case Image():
                data = base64.b64encode(block.path.read_bytes()).decode("ascii")
                alt = html.escape(block.alt)
                out.append(f'<p><img alt="{alt}" src="data:image/png;base64,{data}"></p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
