"""Every string the web UI shows, in English and Traditional Chinese.

``text(key, language)`` looks one up; ``language`` is ``"en"`` or ``"zh"``
(anything else falls back to English). Answers and refusal messages are not
here: they come from the pipeline in the question's own language.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "zh"]

LANGUAGE_CHOICES: list[tuple[str, str]] = [("English", "en"), ("繁體中文", "zh")]

_STRINGS: dict[str, tuple[str, str]] = {
    # chat tab
    "title": ("Boundary", "Boundary 知識邊界助理"),
    "intro": (
        "Answers only from the indexed documents, with sources. When the documents "
        "do not hold the answer, it says so instead of guessing.",
        "只根據已索引的文件作答，並附上來源。文件中沒有答案時，會直接說明而不會猜測。",
    ),
    "tab_chat": ("Chat", "對話"),
    "tab_admin": ("Admin", "管理"),
    "conversation": ("Conversation", "對話紀錄"),
    "placeholder": ("Ask about the documents…", "請就文件內容提問…"),
    "ask": ("Ask", "提問"),
    "clear": ("Clear chat", "清除對話"),
    "examples": ("Example questions", "問題範例"),
    "language": ("Language", "語言"),
    # answers and refusals
    "sources": ("Sources", "來源"),
    "in_brief": ("In brief", "簡要答案"),
    "open": ("open", "開啟"),
    "not_answered": ("Not answered", "未作答"),
    "understood_as": ("Understood as", "理解為"),
    "page": ("p. {page}", "第 {page} 頁"),
    "slide": ("slide {page}", "第 {page} 張投影片"),
    "sheet": ("sheet {page}", "第 {page} 個工作表"),
    "ocr": ("scanned, read by OCR", "掃描件，經 OCR 辨識"),
    "ocr_low": (
        "scanned, read by OCR with low confidence ({confidence}%)",
        "掃描件，經 OCR 辨識，可信度低（{confidence}%）",
    ),
    "ocr_note": (
        "Some sources are scanned pages read by OCR: check the original before relying on "
        "exact names or figures.",
        "部分來源是經 OCR 辨識的掃描頁面：引用確切名稱或數字前，請核對原件。",
    ),
    "helpful_plain": ("Helpful", "有幫助"),
    "not_helpful_plain": ("Not helpful", "沒有幫助"),
    "closest": (
        "Closest passages looked at (they do not answer the question):",
        "曾查閱的最接近段落（它們並未回答此問題）：",
    ),
    "draft": (
        "Drafting; not yet checked against the sources…",
        "草擬中；尚未與來源核對…",
    ),
    "suggest_rephrase": (
        "Try rephrasing with words the documents use.",
        "請嘗試使用文件中的用詞重新提問。",
    ),
    "suggest_topics": ("The documents cover:", "文件涵蓋："),
    "unavailable": ("The assistant is not available right now.", "助理暫時無法使用。"),
    "starting": (
        "The language model is still starting{eta}. Questions the documents cannot answer "
        "are refused at once; please ask this one again in a moment.",
        "語言模型仍在啟動{eta}。文件無法回答的問題仍會即時回覆；請稍後再問這個問題。",
    ),
    "eta": (" (about {seconds} s more)", "（約需再等 {seconds} 秒）"),
    "llm_busy": (
        "The assistant is busy with other questions right now; please ask again in about "
        "{seconds} s.",
        "助理正忙於處理其他問題；請約 {seconds} 秒後再問。",
    ),
    "llm_down": (
        "The language model is not answering right now (the failure is recorded for the "
        "operators); please try again in a minute.",
        "語言模型暫時沒有回應（故障已記錄，營運人員可查閱）；請一分鐘後再試。",
    ),
    "llm_slow": (
        "The language model did not answer in time (the failure is recorded for the "
        "operators); please try again.",
        "語言模型未能及時回應（故障已記錄，營運人員可查閱）；請再試一次。",
    ),
    "llm_garbled": (
        "The language model's reply could not be used (the failure is recorded for the "
        "operators); please try again.",
        "語言模型的回覆無法使用（故障已記錄，營運人員可查閱）；請再試一次。",
    ),
    "llm_ready": ("Language model: ready", "語言模型：已就緒"),
    "llm_starting": (
        "Language model: warming up, {elapsed} s so far{eta}",
        "語言模型：啟動中，已用 {elapsed} 秒{eta}",
    ),
    "llm_unavailable": ("Language model: unavailable: {reason}", "語言模型：無法使用：{reason}"),
    # feedback
    "feedback_prompt": ("Was the last reply helpful?", "上一個回覆有幫助嗎？"),
    "helpful": ("👍 Helpful", "👍 有幫助"),
    "not_helpful": ("👎 Not helpful", "👎 沒有幫助"),
    "comment": ("Comment (optional)", "意見（選填）"),
    "feedback_saved": ("Thanks, your feedback was recorded.", "謝謝，已記錄您的意見。"),
    "feedback_off": ("Feedback is not stored: auditing is off.", "未儲存意見：審計紀錄已關閉。"),
    "feedback_unknown": (
        "That reply is no longer in the audit trail.",
        "該回覆已不在審計紀錄中。",
    ),
    # admin tab
    "status": ("Corpus status", "文件庫狀態"),
    "refresh": ("Refresh", "重新整理"),
    "documents": ("Documents", "文件"),
    "identities": ("Document identities (as detected)", "文件識別（系統偵測結果）"),
    "file": ("File", "檔案"),
    "label": ("Label", "標示"),
    "period": ("Period (from)", "期間（來源）"),
    "version": ("Version", "版本"),
    "access": ("Access groups", "存取群組"),
    "hidden_documents": (
        "{n} more indexed document(s) are outside your own groups and are not listed.",
        "另有 {n} 份已索引文件不在你的群組範圍內，未予列出。",
    ),
    "signed_out": (
        "You are not signed in (or your sign-in was not accepted). Reload the page through "
        "the bank's sign-on address.",
        "你尚未登入（或登入未獲接受）。請經銀行的單一登入網址重新載入頁面。",
    ),
    "admin_only": (
        "Only members of the admin group can see and change the corpus.",
        "只有管理員群組的成員可查看及更改文件庫。",
    ),
    "signed_in": (
        "Signed in as **{who}** · groups: {groups}",
        "已登入：**{who}** · 群組：{groups}",
    ),
    "local_mode": (
        "Single-user mode: no sign-in is configured, so this page is served on this "
        "computer only (127.0.0.1). See the README's access section to put it behind "
        "your single sign-on.",
        "單一用戶模式：尚未設定登入，此頁面只在本機（127.0.0.1）提供。"
        "如需接入單一登入，請參閱 README 的存取控制一節。",
    ),
    "more_documents": (
        "… and {n} more (chatbot-ingest --list shows all)",
        "……另有 {n} 份（chatbot-ingest --list 列出全部）",
    ),
    "pages": ("Pages", "頁數"),
    "chunks": ("Chunks", "段落"),
    "last_ingested": ("Last ingestion", "最近匯入"),
    "never": ("never", "從未"),
    "embedder": ("Embedder", "嵌入模型"),
    "llm": ("LLM", "語言模型"),
    "gate": ("Gate thresholds", "把關門檻"),
    "upload": ("Add documents", "新增文件"),
    "upload_hint": (
        "PDF (scans are read by OCR), Word, PowerPoint, Excel, e-mail (.eml, .msg), images, "
        "Markdown, HTML or plain text. Files are saved into the corpus folder and indexed.",
        "支援 PDF（掃描件以 OCR 辨識）、Word、PowerPoint、Excel、電郵（.eml、.msg）、圖片、"
        "Markdown、HTML 或純文字。檔案會存入文件庫資料夾並建立索引。",
    ),
    "upload_button": ("Upload and index", "上載並建立索引"),
    "reindex": ("Re-index corpus", "重新建立索引"),
    "rebuild": ("Full rebuild (re-embed everything)", "完整重建（重新嵌入全部內容）"),
    "no_files": ("Choose at least one file first.", "請先選擇至少一個檔案。"),
    "saved": ("Saved", "已儲存"),
    "rejected": ("Not saved", "未儲存"),
    "indexing": ("Indexing", "建立索引中"),
    "report": ("Ingestion", "匯入結果"),
    "failed": ("Not indexed", "未能建立索引"),
    "busy": (
        "Another ingestion is running; try again shortly.",
        "另一項匯入正在進行，請稍後再試。",
    ),
}


def language_of(value: str | None) -> Language:
    return "zh" if value == "zh" else "en"


def text(key: str, language: str | None = "en") -> str:
    english, chinese = _STRINGS[key]
    return chinese if language_of(language) == "zh" else english


def place(page: int | None, unit: str, section: str, language: str | None = "en") -> str:
    """Where in its file a passage is, in words: "p. 3", "slide 3", "sheet 2
    (Daily limits)"; the section when the file has no pages; "" for none."""
    if page is None:
        return section
    key = unit if unit in ("slide", "sheet") else "page"
    where = text(key, language).format(page=page)
    return f"{where} ({section})" if unit == "sheet" and section else where


def scan_note(ocr: str, confidence: str, language: str | None = "en") -> str:
    """How a passage read by OCR is marked ("" for text the file held)."""
    if ocr == "ocr-low":
        return text("ocr_low", language).format(confidence=confidence or "?")
    return text("ocr", language) if ocr == "ocr" else ""
