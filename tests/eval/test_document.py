"""The report's document model renders the same blocks as Markdown and HTML."""

from __future__ import annotations

from pathlib import Path

from eval.document import Heading, Image, Para, table, to_html, to_markdown


def test_markdown_and_html_carry_the_same_content(tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG fake")
    blocks = [
        Heading(2, "Outcomes"),
        Para("**2 errors**, see `questions.jsonl` and *notes* <here>"),
        table(("reason", "n"), [("a|b", 1), ("no_evidence", 2)]),
        Image(png, "a plot"),
    ]
    markdown = to_markdown(blocks)
    assert "## Outcomes" in markdown
    assert "| a\\|b | 1 |" in markdown and "|---|---|" in markdown
    assert "![a plot](plot.png)" in markdown

    html = to_html(blocks, "Report <1>")
    assert "<title>Report &lt;1&gt;</title>" in html
    assert "<strong>2 errors</strong>" in html and "<code>questions.jsonl</code>" in html
    assert "<em>notes</em> &lt;here&gt;" in html
    assert "<td>a|b</td><td>1</td>" in html
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in html
