"""Where a passage is, in every channel: slides, sheets, attachments and
OCR'd scans are named as such, and an answer citing a scan says so."""

from __future__ import annotations

import json
from dataclasses import replace

from chatbot.channels.i18n import place, scan_note
from chatbot.channels.render import render_answer, source_line
from chatbot.channels.slack_bot import outcome_blocks
from chatbot.channels.teams_bot import outcome_card
from chatbot.channels.view import view
from chatbot.domain import Answer, Citation, DocumentContext, Passage
from tests.builders import make_chunk


def passage(page: int | None, section: str = "", **context: str) -> Passage:
    chunk = replace(
        make_chunk(1, "deck.pptx", page, "The pilot cut review time by 35 percent."),
        section=section,
        title="Committee deck",
        context=DocumentContext(**context),
    )
    return Passage(chunk=chunk, fused_score=1.0)


def answer(*passages: Passage) -> Answer:
    citations = tuple(Citation(i, p) for i, p in enumerate(passages, start=1))
    return Answer(
        text="It fell by 35 percent [1].", citations=citations, passages=passages, model="m"
    )


def test_place_names_pages_slides_and_sheets_in_both_languages() -> None:
    assert place(3, "", "Intro") == "p. 3"
    assert place(3, "slide", "Pilot results") == "slide 3"
    assert place(2, "sheet", "Daily limits") == "sheet 2 (Daily limits)"
    assert place(None, "", "2 Retention periods") == "2 Retention periods"
    assert place(3, "slide", "", "zh") == "第 3 張投影片"
    assert place(2, "sheet", "限額", "zh") == "第 2 個工作表 (限額)"


def test_location_given_to_the_model_names_the_unit() -> None:
    assert passage(2, unit="slide").location() == "Committee deck, slide 2"
    assert passage(2, "Daily limits", unit="sheet").location() == (
        "Committee deck, sheet 2 (Daily limits)"
    )
    assert passage(4).location() == "Committee deck, p. 4"


def test_a_low_confidence_scan_is_flagged_in_the_source_line_and_the_answer() -> None:
    scanned = passage(1, ocr="ocr-low", ocr_confidence="48")
    line = source_line(scanned)
    assert "p. 1" in line and "low confidence (48%)" in line and "⚠" in line
    rendered = render_answer(answer(scanned))
    assert rendered.endswith("_" + scan_note_text() + "_")
    plain = render_answer(answer(passage(1)))
    assert "OCR" not in plain


def scan_note_text() -> str:
    from chatbot.channels.i18n import text

    return text("ocr_note")


def test_scan_note_words() -> None:
    assert scan_note("ocr", "91") == "scanned, read by OCR"
    assert scan_note("", "") == ""
    assert "48%" in scan_note("ocr-low", "48", "zh")


def test_slack_teams_and_api_views_carry_the_unit_and_the_scan() -> None:
    slide = passage(2, "Pilot results", unit="slide")
    scanned = passage(1, ocr="ocr", ocr_confidence="93")
    scan = replace(scanned, chunk=replace(scanned.chunk, id="c2"))
    shown = view(answer(slide, scan))
    first, second = shown.sources
    assert (first.unit, first.section, first.place()) == ("slide", "Pilot results", "slide 2")
    assert (second.ocr, second.ocr_confidence) == ("ocr", "93")
    slack = json.dumps(outcome_blocks(shown, None), ensure_ascii=False)
    assert "slide 2" in slack and "scanned, read by OCR" in slack and scan_note_text() in slack
    teams = json.dumps(outcome_card(shown, None), ensure_ascii=False)
    assert "slide 2" in teams and scan_note_text() in teams


def test_an_attachment_is_named_with_its_mail() -> None:
    attached = passage(
        None,
        "Outline",
        attachment_of="Circular 2025-07",
        label="outline.docx · attachment to Circular 2025-07",
    )
    shown = view(answer(attached)).sources[0]
    assert shown.attachment_of == "Circular 2025-07"
    assert shown.title == "outline.docx · attachment to Circular 2025-07"
