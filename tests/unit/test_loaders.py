from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from chatbot.errors import IngestionError
from ingest.loaders import file_sha256, is_supported, load_document
from ingest.pdf import _pdf_headings
from tests.builders import load_failure, load_file
from tests.samples import (
    POLICY_PAGE_1,
    POLICY_PAGE_2,
    pdf_bytes,
    write_encrypted_pdf,
    write_image_only_pdf,
    write_pdf,
)

# -- formats -----------------------------------------------------------------


def test_pdf_one_block_per_page_with_numbers_and_title(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "policy.pdf", [POLICY_PAGE_1, POLICY_PAGE_2], title="DPS Guide")
    doc = load_file(path)
    assert doc.title == "DPS Guide"
    assert doc.pages == 2
    assert [b.page for b in doc.blocks] == [1, 2]
    assert "HKD 800,000" in doc.blocks[0].text
    assert "Structured deposits" in doc.blocks[1].text
    assert doc.file_hash == file_sha256(path, "policy.pdf")


def test_pdf_headings_and_section_carried_across_pages(tmp_path: Path) -> None:
    doc = load_file(write_pdf(tmp_path / "p.pdf", [POLICY_PAGE_1, POLICY_PAGE_2]))
    first, second = doc.blocks
    assert [h for _, h in first.headings] == ["1. Deposit Protection", "2. Eligible Deposits"]
    assert first.section == ""
    assert second.section == "2. Eligible Deposits"  # last heading of page 1
    assert [h for _, h in second.headings] == ["3. Exclusions", "4. Claims"]


def test_pdf_heading_guess_rejects_wrapped_lines() -> None:
    text = "\n".join(
        [
            "3.2 Deposit Limits",  # numbered heading
            "The Hong Kong Monetary Authority and the",
            "Monetary Authority (HKMA) and Cyberport",  # wrapped proper nouns
            "launched the Sandbox in",
            "2024. The idea behind it is simple and clear",  # wrapped, starts with a year
            "15 use cases came from ten banks",
            "e.g. small print",
            "and more text here.",
            "ANNEX A: Tables",  # after a full stop: a heading again
            "See below.",
            "Key Terms",
            "Body.",
            "Page Footer Title Case",  # last line: not a heading
        ]
    )
    assert [h for _, h in _pdf_headings(text)] == [
        "3.2 Deposit Limits",
        "ANNEX A: Tables",
        "Key Terms",
    ]
    assert [h for _, h in _pdf_headings("第三章 存款保障\n內容。\nCHAPTER 4 FEES\nBody.")] == [
        "第三章 存款保障",
        "CHAPTER 4 FEES",
    ]


def test_pdf_title_falls_back_to_first_heading_then_stem(tmp_path: Path) -> None:
    assert (
        load_file(write_pdf(tmp_path / "a.pdf", [POLICY_PAGE_1])).title == "1. Deposit Protection"
    )
    plain = write_pdf(tmp_path / "notes-2024.pdf", ["just a sentence of body text."])
    assert load_file(plain).title == "notes-2024"


def test_pdf_whitespace_is_normalised(tmp_path: Path) -> None:
    doc = load_file(write_pdf(tmp_path / "w.pdf", ["Wide     gaps   here.\n\n\n\nNext paragraph."]))
    assert doc.blocks[0].text == "Wide gaps here.\nNext paragraph."


def test_pdf_running_headers_and_page_footers_are_dropped(tmp_path: Path) -> None:
    header = "Example Bank - internal use only"
    pages = [
        f"{header}\n{POLICY_PAGE_1}\nPage 1 of 3",
        f"{header}\n{POLICY_PAGE_2}\nPage 2 of 3",
        f"{header}\nAnnex\nTables follow.\nPage 3 of 3",
    ]
    doc = load_file(write_pdf(tmp_path / "r.pdf", pages))
    for block in doc.blocks:
        assert header not in block.text and "Page " not in block.text
    assert doc.blocks[0].text.startswith("1. Deposit Protection")
    assert doc.blocks[0].headings[0] == (0, "1. Deposit Protection")


def test_a_line_on_one_page_only_is_kept(tmp_path: Path) -> None:
    doc = load_file(write_pdf(tmp_path / "k.pdf", [f"Intro\n{POLICY_PAGE_1}", POLICY_PAGE_2]))
    assert doc.blocks[0].text.startswith("Intro\n")


def test_pdf_with_empty_owner_password_is_read(tmp_path: Path) -> None:
    path = write_encrypted_pdf(tmp_path / "perm.pdf", [POLICY_PAGE_1], user_password="")
    assert "HKD 800,000" in load_file(path).blocks[0].text


def test_markdown_sections_get_heading_paths(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "# Card Guide\n\nIntro text.\n\n## Fees\n\nAnnual fee is waived.\n\n"
        "### Late fees\n\nLate fee is HKD 300.\n\n```\n# not a heading\n```\n\n"
        "## Limits\n\nSee [the table](http://x/y) for limits.\n",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.title == "Card Guide"
    assert doc.pages == 0
    sections = [(b.section, b.text) for b in doc.blocks]
    assert sections[0] == ("", "Intro text.")
    assert sections[1] == ("Fees", "Fees\n\nAnnual fee is waived.")
    assert sections[2][0] == "Fees > Late fees"
    assert "# not a heading" in sections[2][1]  # fenced code is body, not a heading
    assert sections[3] == ("Limits", "Limits\n\nSee the table for limits.")
    assert all(b.page is None for b in doc.blocks)


def test_markdown_inline_markup_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "m.md"
    path.write_text(
        "> **Note:** use `chatbot-ingest` and ![logo](x.png) __now__.\n\nA * B * C_d_e\n",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.blocks[0].text == "Note: use chatbot-ingest and logo now.\n\nA * B * C_d_e"


def test_markdown_with_several_top_headings_keeps_them_in_paths(tmp_path: Path) -> None:
    path = tmp_path / "parts.md"
    path.write_text("# Part A\n\n## Rules\n\nText A.\n\n# Part B\n\nText B.\n", encoding="utf-8")
    doc = load_file(path)
    assert doc.title == "Part A"
    assert [b.section for b in doc.blocks] == ["Part A > Rules", "Part B"]


def test_markdown_setext_headings_and_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "s.md"
    path.write_text(
        "---\ntitle: Front Title\n---\nOverview\n========\n\nBody one.\n\n"
        "Details\n-------\n\nBody two.\n\n---\n\nAfter rule.\n",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.title == "Front Title"
    assert [b.section for b in doc.blocks] == ["", "Details"]
    assert doc.blocks[1].text == "Details\n\nBody two.\n\nAfter rule."


def test_html_drops_scripts_keeps_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Mortgage FAQ</title><style>p{color:red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Mortgages</h1><p>Loan-to-value up to 70%.</p>"
        "<h2>Stress test</h2><p>Rates are tested at <b>+2%</b>.</p><ul><li>One</li>"
        "<li>Two</li></ul></body></html>",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.title == "Mortgage FAQ"
    joined = "\n".join(b.text for b in doc.blocks)
    assert "secret" not in joined and "color" not in joined
    assert [b.section for b in doc.blocks] == ["", "Stress test"]
    assert doc.blocks[1].text == "Stress test\n\nRates are tested at +2%.\n\nOne\nTwo"


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    path = tmp_path / "x.htm"
    path.write_text("<h1>Branch Hours</h1><p>9 to 5.</p>", encoding="utf-8")
    assert load_file(path).title == "Branch Hours"


def test_text_file_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes("\ufeffFirst line.\r\nSecond  line.\n".encode())
    doc = load_file(path)
    assert doc.title == "note"
    assert doc.blocks[0].text == "First line.\nSecond line."


def test_chinese_text_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "zh.md"
    path.write_text("# 存款保障\n\n存款保障計劃保障每名存款人最高80萬港元。\n", encoding="utf-8")
    doc = load_file(path)
    assert doc.title == "存款保障"
    assert "80萬港元" in doc.blocks[0].text


def test_supported_extensions() -> None:
    assert is_supported(Path("a.PDF")) and is_supported(Path("b.markdown"))
    assert all(is_supported(Path(f"d.{ext}")) for ext in ("docx", "PPTX", "xlsx", "eml", "msg"))
    assert is_supported(Path("scan.tif")) and is_supported(Path("scan.JPG"))
    assert not is_supported(Path("c.doc")) and not is_supported(Path("m.xlsm"))
    with pytest.raises(ValueError):
        load_document(Path("c.doc"), "c.doc", max_file_mb=1)


# -- bad input ---------------------------------------------------------------


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(pdf_bytes([POLICY_PAGE_1])[:300])
    assert "damaged" in load_failure(path).reason


def test_not_a_pdf_at_all(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"<html>this was saved with the wrong name</html>")
    assert "damaged" in load_failure(path).reason


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = write_encrypted_pdf(tmp_path / "locked.pdf", [POLICY_PAGE_1], user_password="s3cret")
    error = load_failure(path)
    assert "password" in error.reason
    assert "decrypted copy" in error.hint


@pytest.mark.parametrize("content", [b"", b"   \n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    for name in ("empty.txt", "empty.md", "empty.pdf"):
        path = tmp_path / name
        path.write_bytes(content)
        assert "empty" in load_failure(path).reason


def test_markdown_with_only_headings_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "h.md"
    path.write_text("# Title\n\n## Section\n", encoding="utf-8")
    assert "no text" in load_failure(path).reason


def test_image_only_pdf(tmp_path: Path) -> None:
    error = load_failure(write_image_only_pdf(tmp_path / "scan.pdf", pages=3))
    assert "no extractable text" in error.reason and "3 pages" in error.reason
    assert "ocrmypdf" in error.hint


def test_pdf_with_some_blank_pages_keeps_the_others(tmp_path: Path) -> None:
    doc = load_file(write_pdf(tmp_path / "gaps.pdf", [POLICY_PAGE_1, "", POLICY_PAGE_2]))
    assert [b.page for b in doc.blocks] == [1, 3]
    assert doc.pages == 3


def test_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 5000, encoding="utf-8")
    error = load_failure(path, max_file_mb=0.01)
    assert "over the 0.01 MB limit" in error.reason
    assert "CHATBOT_INGEST__MAX_FILE_MB" in error.hint


def test_non_utf8_text_is_rejected_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "big5.txt"
    path.write_bytes("存款保障計劃".encode("big5"))
    error = load_failure(path)
    assert "not valid UTF-8" in error.reason
    assert "UTF-8" in error.hint


def test_unreadable_path(tmp_path: Path) -> None:
    # A folder with a file's name: reading it fails like an unreadable file.
    path = tmp_path / "folder.txt"
    path.mkdir()
    assert "cannot read" in load_failure(path).reason
    with pytest.raises(IngestionError, match="cannot read"):
        file_sha256(path, "folder.txt")


NOBODY = 65534


def test_file_without_read_permission() -> None:
    """chmod 000 means nothing to root, so as root the read is tried in a
    forked child that has dropped to uid/gid 'nobody' (65534)."""
    folder = Path(tempfile.mkdtemp(prefix="boundary-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "secret.txt"
        path.write_text("restricted", encoding="utf-8")
        path.chmod(0o000)
        if os.geteuid() != 0:
            assert "Permission denied" in load_failure(path).reason
            return
        pid = os.fork()
        if pid == 0:  # child: never return into pytest
            code = 3
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                try:
                    load_document(path, "secret.txt", max_file_mb=1)
                    code = 1
                except IngestionError as exc:
                    code = 0 if "Permission denied" in exc.reason and exc.hint else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        path.chmod(0o644)
        path.unlink()
        folder.rmdir()


# -- hostile input (issue 15) ------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "Card fees".encode("utf-16-le"),  # UTF-16 without a mark decodes as UTF-8
        b"Card\x00fees",
        b"\x00" * 64,
    ],
)
def test_text_with_nul_bytes_is_rejected(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(data)
    error = load_failure(path)
    assert "NUL bytes" in error.reason and "UTF-8" in error.hint


@pytest.mark.parametrize(
    "text",
    [
        "**- " * 60_000,  # strong without a closer
        "[- " * 60_000,  # links without "]"
        "[-](- " * 60_000,  # links without ")"
        "<!-- " * 60_000,  # comments without "-->"
        "# " + " \t" * 100_000 + "x",  # a heading line of blanks
    ],
)
def test_markdown_takes_linear_time_on_unclosed_markup(tmp_path: Path, text: str) -> None:
    # Each of these took minutes with patterns that rescan the line per opener.
    path = tmp_path / "probe.md"
    path.write_text(f"A sentence.\n\n{text}\n", "utf-8")
    started = time.perf_counter()
    load_file(path)
    assert time.perf_counter() - started < 3


def test_markdown_inline_markup_still_reads_the_same() -> None:
    from ingest.markup import load_markdown

    _, (block,) = load_markdown(
        "**bold** and __under__ and ***both***, [the guide](http://x/a_(b)) "
        "![chart](c.png) `code` ## not a heading"
    )
    assert block.text == "bold and under and *both*, the guide chart code ## not a heading"
    assert load_markdown("## Fees ##\n\ntext")[1][0].section == "Fees"


@pytest.mark.parametrize("tail", ["<a b" * 50_000, "<x a='" * 50_000, "<![CDATA[ > " * 50_000])
def test_html_takes_linear_time_on_markup_left_open(tmp_path: Path, tail: str) -> None:
    # CPython's HTMLParser (before 3.11.13) rescans the rest per unclosed opener.
    path = tmp_path / "probe.html"
    path.write_text(f"<p>A sentence.</p>{tail}", "utf-8")
    started = time.perf_counter()
    doc = load_file(path)
    assert time.perf_counter() - started < 3
    assert doc.blocks[0].text.startswith("A sentence.")


@pytest.mark.parametrize("declaration", ["<![<", "<![ x", "<![foo[ a ]]>"])
def test_html_marked_sections_that_break_htmlparser_are_skipped(
    tmp_path: Path, declaration: str
) -> None:
    # The standard library raises AssertionError on these.
    path = tmp_path / "page.html"
    path.write_text(f"<p>Before.</p>{declaration}<p>After.</p>", "utf-8")
    assert "Before." in load_file(path).blocks[0].text


def test_a_huge_title_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(f"<title>{'T' * 100_000}</title><p>Text.</p>", "utf-8")
    title = load_file(path).title
    assert len(title) == 200 and title.endswith("…")
