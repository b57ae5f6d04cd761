"""E-mail as text blocks: ``.eml`` (RFC 5322, the standard library's
``email``) and Outlook ``.msg`` (an OLE compound file, read with olefile).

A mail becomes one block that starts with its envelope (subject, sender,
recipients, date: what staff ask about a circular), then the body, plain
text where the mail has it, else its HTML's visible text. Each attachment in
a supported format is read by that format's loader (``read_part``) and kept
as its own part: its blocks carry ``part`` = the attachment's file name, so
its chunks are named and cited by it, as an attachment of the mail, with the
mail's path as their source (they are deleted, replaced and access-checked
with the mail). Attachments that cannot be read, or are of other kinds, are
listed in the envelope block and logged, not silently dropped; a broken
attachment does not fail the mail.

Outlook ``.msg`` is read directly from its property streams (MS-OXMSG):
subject ``0x0037``, body ``0x1000``, HTML body ``0x1013``, sender
``0x0C1A``/``0x0C1F``, recipients ``0x0E04``, transport headers ``0x007D``
(for the date), and attachments' long/short names ``0x3707``/``0x3704`` with
data ``0x3701``. The extract-msg package would do this too, but needs a lark
version that vLLM's pin excludes.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage, MIMEPart
from typing import Any

from chatbot.errors import IngestionError, error_detail
from chatbot.text import normalise_whitespace
from ingest.blocks import Block, Loaded

log = logging.getLogger(__name__)

MAIL_SUFFIXES = frozenset({".eml", ".msg"})
MAX_ATTACHMENT_DEPTH = 2  # a mail attached to a mail attached to a mail: no further
MAX_ATTACHMENTS = 50
EMBEDDED_ITEM = " [embedded Outlook item]"  # marks an attachment held as a storage

ReadPart = Callable[[str, bytes, int], Loaded | None]
"""``read_part(file_name, data, depth)``: an attachment's (title, blocks,
pages), None for a format that is not read; raises IngestionError."""


def load_mail(data: bytes, suffix: str, source: str, read_part: ReadPart, depth: int = 0) -> Loaded:
    mail = _read_msg(data, source) if suffix == ".msg" else _read_eml(data, source)
    subject, envelope, body, attachments = mail
    notes: list[str] = []
    parts: list[Block] = []
    for name, content in attachments[:MAX_ATTACHMENTS]:
        read = _read_attachment(source, name, content, read_part, depth)
        if isinstance(read, str):
            notes.append(f"{name.removesuffix(EMBEDDED_ITEM)} ({read})")
            continue
        parts.extend(read)
        notes.append(name)
    if len(attachments) > MAX_ATTACHMENTS:
        notes.append(f"{len(attachments) - MAX_ATTACHMENTS} more (not read: over the limit)")
    head = [f"{label}: {value}" for label, value in envelope if value]
    if notes:
        head.append("Attachments: " + "; ".join(notes))
    text = _CONTROL.sub("", normalise_whitespace("\n".join(head) + "\n\n" + body))
    blocks = (Block(text=text),) if text else ()
    if not body.strip() and not parts:
        raise IngestionError(
            source, "the mail has no text and no readable attachment", "check the file"
        )
    return subject, blocks + tuple(parts), 0


def _read_attachment(
    source: str, name: str, content: bytes, read_part: ReadPart, depth: int
) -> list[Block] | str:
    """The attachment's blocks, or why it was not read."""
    if name.endswith(EMBEDDED_ITEM):
        return "not read: an embedded Outlook item; attach it as a .msg file instead"
    if depth >= MAX_ATTACHMENT_DEPTH:
        return "not read: attached too deep"
    try:
        loaded = read_part(name, content, depth + 1)
    except IngestionError as exc:
        log.warning("%s: attachment %s not read: %s", source, name, exc.reason)
        return f"not read: {exc.reason}"
    if loaded is None:
        log.info("%s: attachment %s is of a kind that is not read", source, name)
        return "not read: unsupported type"
    title, blocks, _pages = loaded
    label = f"{title} ({name})" if title and title != name else name
    return [replace(block, part=block.part or label) for block in blocks]


# -- .eml ------------------------------------------------------------------

Mail = tuple[str, list[tuple[str, str]], str, list[tuple[str, bytes]]]
"""(subject, envelope (label, value) pairs, body text, attachments (name, bytes))."""


def _html_text(html: str) -> str:
    from ingest.markup import load_html

    title, blocks = load_html(html)
    text = "\n\n".join(block.text for block in blocks)
    # load_html takes a lone leading <h1> as the page's title, out of the
    # blocks; in a mail body it is the first line of the message.
    return f"{title}\n\n{text}" if title and title not in text else text


MAX_HEADER_BYTES = 64 * 1024  # the email package's header parsing is quadratic in places


def _header_length(data: bytes) -> int:
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) if ends else len(data)


def _read_eml(data: bytes, source: str) -> Mail:
    if _header_length(data) > MAX_HEADER_BYTES:
        raise IngestionError(
            source,
            f"the mail's headers are over {MAX_HEADER_BYTES // 1024} KB (a mail's are a few KB)",
            "check that it is a mail saved as .eml; remove oversized headers",
        )
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        header = {key: str(message.get(key, "") or "") for key in ("Subject", "From", "To", "Date")}
        body = _eml_body(message)
        attachments = []
        for part in message.iter_attachments():
            name = part.get_filename() or ""
            payload = part.get_payload(decode=True)
            if part.get_content_type() == "message/rfc822" and not payload:
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else inner
                payload = inner.as_bytes() if hasattr(inner, "as_bytes") else b""
                name = name or "attached-message.eml"
            if isinstance(payload, bytes) and payload:
                attachments.append((_safe_name(name, part.get_content_type()), payload))
    except (IngestionError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # the email package is lenient; this is rare
        raise IngestionError(
            source,
            f"the mail could not be read ({error_detail(exc, 200)})",
            "save it again from the mail program (as .eml)",
        ) from exc
    if not message.keys() or not (any(header.values()) or body):
        raise IngestionError(
            source,
            "the file does not look like an e-mail (no header fields, or neither the usual "
            "ones nor a body)",
            "check that it is a mail saved as .eml",
        )
    if "\x00" in body:
        raise IngestionError(
            source,
            "the mail's body holds NUL bytes (binary data, not text)",
            "check that it is a mail saved as .eml",
        )
    envelope = [("Subject", header["Subject"]), ("From", header["From"])]
    envelope += [("To", header["To"]), ("Date", header["Date"])]
    return normalise_whitespace(header["Subject"]), envelope, body, attachments


def _eml_body(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _part_text(plain)
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return _html_text(_part_text(html))
    if not message.is_multipart() and message.get_content_maintype() == "text":
        return _part_text(message)
    return ""


def _part_text(part: MIMEPart) -> str:
    """A text part's content; one in a charset Python does not know is read
    as UTF-8, with replacement characters where that fails."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


_UNSAFE = re.compile(r"[\x00-\x1f/\\]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # padding, not text
_EXTENSIONS = {"text/plain": ".txt", "text/html": ".html", "message/rfc822": ".eml"}


def _safe_name(name: str, content_type: str) -> str:
    """A name to show and to choose the attachment's loader by: no path, no
    control characters; a nameless text part gets an extension from its type."""
    cleaned = _UNSAFE.sub("_", name).strip(" ._") or "attachment"
    if "." not in cleaned and content_type in _EXTENSIONS:
        cleaned += _EXTENSIONS[content_type]
    return cleaned[:120]


# -- .msg ------------------------------------------------------------------

_STRING = "001F"  # PT_UNICODE: UTF-16LE
_STRING8 = "001E"  # PT_STRING8: the message's code page (taken as cp1252)
_BINARY = "0102"


def _msg_property(ole: Any, storage: list[str], prop: str) -> str | bytes | None:
    for kind in (_STRING, _STRING8, _BINARY):
        path = [*storage, f"__substg1.0_{prop}{kind}"]
        if ole.exists(path):
            raw: bytes = ole.openstream(path).read()
            if kind == _STRING:
                return raw.decode("utf-16-le", "replace").rstrip("\x00")
            if kind == _STRING8:
                return raw.decode("cp1252", "replace").rstrip("\x00")
            return raw
    return None


def _msg_text(ole: Any, storage: list[str], prop: str) -> str:
    value = _msg_property(ole, storage, prop)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return value or ""


def _read_msg(data: bytes, source: str) -> Mail:
    import olefile

    try:
        if not olefile.isOleFile(io.BytesIO(data)):
            raise IngestionError(
                source,
                "the file is not an Outlook message (not an OLE compound file)",
                "save it again from Outlook (File > Save As > Outlook Message Format)",
            )
        # DEFECT_INCORRECT: a truncated file fails, instead of loading cut short.
        with olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT) as ole:
            subject = _msg_text(ole, [], "0037")
            body = _msg_text(ole, [], "1000")
            if not body.strip():
                html = _msg_text(ole, [], "1013")
                body = _html_text(html) if html.strip() else ""
            sender = _msg_text(ole, [], "0C1A")
            address = _msg_text(ole, [], "0C1F")
            headers = _msg_text(ole, [], "007D")
            dates = [line[5:] for line in headers.splitlines() if line.lower().startswith("date:")]
            date = dates[0].strip() if dates else ""
            envelope = [
                ("Subject", subject),
                ("From", f"{sender} <{address}>" if sender and address else sender or address),
                ("To", _msg_text(ole, [], "0E04")),
                ("Date", date),
            ]
            attachments = _msg_attachments(ole)
    except (IngestionError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # olefile raises OSError and its own errors on damage
        raise IngestionError(
            source,
            f"the Outlook message is damaged ({error_detail(exc, 200)})",
            "save it again from Outlook, or as .eml",
        ) from exc
    return normalise_whitespace(subject), envelope, body, attachments


def _msg_attachments(ole: Any) -> list[tuple[str, bytes]]:
    storages = sorted(
        {
            entry[0]
            for entry in ole.listdir(streams=True, storages=True)
            if entry and entry[0].startswith("__attach_version1.0_")
        }
    )
    found = []
    for storage in storages:
        name = _msg_text(ole, [storage], "3707") or _msg_text(ole, [storage], "3704")
        content = _msg_property(ole, [storage], "3701")
        if isinstance(content, bytes) and content:
            found.append((_safe_name(name, ""), content))
        else:
            # An attached Outlook item is a storage, not bytes: named, not read.
            label = _msg_text(ole, [storage], "3001") or name or "attached item"
            found.append((_safe_name(label, "") + EMBEDDED_ITEM, b""))
    return found


__all__ = ["MAIL_SUFFIXES", "load_mail"]
