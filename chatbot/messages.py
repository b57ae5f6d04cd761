"""User-facing sentences for refusals and errors, in English and Chinese.

Channels show these; the reason enum stays the machine-readable part.
"""

from __future__ import annotations

from chatbot.domain import RefusalReason

_REFUSALS: dict[RefusalReason, dict[str, str]] = {
    RefusalReason.NO_EVIDENCE: {
        "en": "I can't find this in the documents I'm allowed to use, so I won't guess. "
        "Try rephrasing with terms from the reports, or ask the document owners.",
        "zh": "我在可使用的文件中找不到相關內容，因此不會猜測。請嘗試使用報告中的用詞重新提問，或聯絡文件負責人。",
    },
    RefusalReason.MODEL_DECLINED: {
        "en": "The passages I found are related but do not answer this question, "
        "so I won't answer it.",
        "zh": "我找到的段落雖然相關，但未能回答這個問題，因此我不會作答。",
    },
    RefusalReason.NO_VALID_CITATION: {
        "en": "I drafted an answer but could not tie it to a specific passage, "
        "so I'm not giving it. Try a more specific question.",
        "zh": "我草擬了答案，但無法對應到具體段落，因此不提供。請嘗試提出更具體的問題。",
    },
    RefusalReason.UNSUPPORTED: {
        "en": "I drafted an answer, but part of it is not backed by the passages it "
        "cites, so I'm not giving it. Try a narrower question.",
        "zh": "我草擬了答案，但部分內容未獲所引用段落支持，因此不提供。請嘗試縮窄問題範圍。",
    },
    RefusalReason.INVALID_QUESTION: {
        "en": "Please type a question (at most {limit} characters).",
        "zh": "請輸入問題（最多 {limit} 個字元）。",
    },
    RefusalReason.WEAK_EVIDENCE: {
        "en": "I found passages on this topic, but they probably don't contain the answer, "
        "so I won't guess. Try a more specific question, or ask the document owners.",
        "zh": "我找到與這個主題相關的段落，但它們很可能沒有包含答案，因此不會猜測。"
        "請嘗試提出更具體的問題，或聯絡文件負責人。",
    },
    RefusalReason.NOT_IN_PASSAGES: {
        "en": "I read the passages closest to your question, and none of them answers it, "
        "so I won't guess. They may cover a related point: check the sources below, or ask "
        "a more specific question.",
        "zh": "我已閱讀與你的問題最相關的段落，但沒有一段能回答它，因此不會猜測。"
        "這些段落或涉及相關內容，請查看下列來源，或提出更具體的問題。",
    },
    RefusalReason.PERIOD_NOT_COVERED: {
        "en": "The documents I'm allowed to use cover {covered}; none of them is about {asked}, "
        "so I won't guess. Ask about a period they cover, or ask the document owners.",
        "zh": "我可使用的文件涵蓋{covered}年，沒有關於{asked}年的文件，因此不會猜測。"
        "請就文件涵蓋的期間提問，或聯絡文件負責人。",
    },
    RefusalReason.NO_ACCESS: {
        "en": "You have no access to any of the documents I answer from here. If you "
        "should, ask your administrator to add you to a group (in a shared channel, "
        "the channel's audience may be what is missing: try a direct message).",
        "zh": "你在這裏沒有可查閱的文件。如你應有權限，請聯絡管理員把你加入相關群組"
        "（在共用頻道中，可能是該頻道未獲授權：請改用私訊）。",
    },
    RefusalReason.OUT_OF_SCOPE: {
        "en": "I only answer questions from the bank's approved documents, so I can't take "
        "this kind of request (such as writing, translating, personal investment or legal "
        "advice, or setting my rules aside). Please ask a question about the documents.",
        "zh": "我只會根據銀行認可的文件回答問題，因此未能處理這類要求（例如寫作、翻譯、"
        "個人投資或法律意見，或要求我擱置規則）。請就文件內容提問。",
    },
}


def refusal_message(reason: RefusalReason, language: str, **values: object) -> str:
    lang = "zh" if language == "zh" else "en"
    return _REFUSALS[reason][lang].format(**values)
