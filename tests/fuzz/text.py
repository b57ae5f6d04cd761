"""Hostile text files (Markdown, HTML, plain text: encodings, NUL bytes,
binary data, huge lines, pathological markup) and hostile names, links and
special files."""

from __future__ import annotations

import codecs
import os
import zlib
from pathlib import Path

from tests.fuzz.corpus import MUTE, OUTSIDE_CANARY, CorpusWriter, Expect
from tests.fuzz.pdf import good_pdf, page_pdf, stream, text_ops

# -- text formats ----------------------------------------------------------

TEXT_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt")


def _as_format(suffix: str, text: str) -> str:
    if suffix in (".html", ".htm"):
        return f"<html><head><title>Sample</title></head><body><p>{text}</p></body></html>\n"
    if suffix in (".md", ".markdown"):
        return f"# Sample\n\n{text}\n"
    return text + "\n"


# Each of these texts, so encoded, is not valid UTF-8 (checked as they are made).
_ENCODED = (
    ("latin-1", "Café crème: the fee is 5 € per month.".replace("€", "EUR")),
    ("cp1252", "“Smart quotes” and – dashes – cost £5."),
    ("big5", "存款保障計劃保障每名存款人的合資格存款。"),
    ("gbk", "存款保障计划保障每名存款人的合资格存款。"),
    ("shift_jis", "預金保険制度は預金者を保護します。"),
    ("euc-kr", "예금자 보호 제도는 예금자를 보호합니다."),
    ("utf-16", "UTF-16 with a byte-order mark."),
    ("utf-16-be", "UTF-16 big-endian, no mark: Ünïcödé."),
    ("utf-32", "UTF-32 with a byte-order mark."),
    ("cp437", "Box drawing ╔══╗ and ½ in an old DOS code page."),
    ("koi8-r", "Депозиты защищены."),
    ("mac-roman", "Mac Roman: café, naïve, ©."),
)

_BROKEN_UTF8 = (
    ("truncated multi-byte at the end", "中".encode()[:2]),
    ("lone continuation byte", b"\x80"),
    ("overlong slash", b"\xc0\xaf"),
    ("overlong NUL", b"\xc0\x80"),
    ("encoded surrogate", b"\xed\xa0\x80"),
    ("beyond U+10FFFF", b"\xf4\x90\x80\x80"),
    ("bytes F5 to FF", b"\xf5\xfe\xff"),
    ("five-byte sequence", b"\xf8\x88\x80\x80\x80"),
)


def text_encodings(c: CorpusWriter) -> None:
    kind = "text-bad-encoding"
    for codec, text in _ENCODED:
        for suffix in TEXT_SUFFIXES:
            data = _as_format(suffix, text).encode(codec)
            if codec == "utf-16" and not data.startswith(codecs.BOM_UTF16):
                data = codecs.BOM_UTF16 + data
            c.add(c.name(kind, suffix), data, kind, _invalid(data), codec, _utf8(data))
    for note, bad in _BROKEN_UTF8:
        for suffix in TEXT_SUFFIXES[::2]:
            data = _as_format(suffix, c.sentence()).encode() + bad
            c.add(c.name(kind, suffix), data, kind, _invalid(data), note, _utf8(data))
    mixed = "mixed-encoding"
    for suffix in TEXT_SUFFIXES:
        data = _as_format(
            suffix, c.sentence()
        ).encode() + "Second paragraph in cp1252: “quoted”.\n".encode("cp1252")
        c.add(c.name(mixed, suffix), data, mixed, _invalid(data), "UTF-8 then cp1252")
        data = "UTF-8 中文 first, ".encode() + "then Big5 中文.".encode("big5")
        c.add(c.name(mixed, suffix), data, mixed, _invalid(data), "UTF-8 then Big5")
    html = b'<html><head><meta charset="big5"></head><body><p>%s</p></body></html>' % (
        "存款保障".encode("big5")
    )
    c.add(c.name(mixed, ".html"), html, mixed, _invalid(html), "declared big5")


def _utf8(data: bytes) -> str:
    return "not valid UTF-8" if _invalid(data) == "fail" else ""


def _invalid(data: bytes) -> Expect:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "fail"
    return "may"


def text_nul(c: CorpusWriter) -> None:
    kind = "text-nul-bytes"
    for suffix in TEXT_SUFFIXES:
        sentence = c.sentence()
        samples = {
            "UTF-16LE without a mark": _as_format(suffix, sentence).encode("utf-16-le"),
            "one NUL in the middle": _as_format(suffix, sentence)
            .encode()
            .replace(b" ", b"\x00", 1),
            "NUL at the end": _as_format(suffix, sentence).encode() + b"\x00",
            "NULs only": b"\x00" * 4096,
        }
        for note, data in samples.items():
            c.add(c.name(kind, suffix), data, kind, "fail", note, "NUL bytes")


def text_binary(c: CorpusWriter) -> None:
    kind = "wrong-extension"
    blobs = {
        "a PDF": good_pdf(c.sentence()),
        "a PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + c.random_bytes(800),
        "a JPEG": b"\xff\xd8\xff\xe0\x00\x10JFIF" + c.random_bytes(800),
        "a zip": b"PK\x03\x04\x14\x00" + c.random_bytes(800),
        "a gzip": b"\x1f\x8b\x08\x00" + zlib.compress(c.sentence().encode()),
        "an ELF binary": b"\x7fELF\x02\x01\x01\x00" + c.random_bytes(800),
        "random bytes": c.random_bytes(3000),
    }
    for note, data in blobs.items():
        for suffix in TEXT_SUFFIXES:
            c.add(c.name(kind, suffix), data, kind, _invalid(data), note)
    # Sound text under another format's extension: legitimately indexable.
    c.add(
        c.name(kind, ".html"), f"# Markdown\n\n{c.sentence()}\n".encode(), kind, "may", "md as html"
    )
    c.add(
        c.name(kind, ".md"), _as_format(".html", c.sentence()).encode(), kind, "may", "html as md"
    )
    c.add(c.name(kind, ".txt"), b'{"json": "%s"}' % c.sentence().encode(), kind, "may", "json")


def text_empty(c: CorpusWriter) -> None:
    kind = "empty-or-blank"
    blanks = {
        "0 bytes": b"",
        "spaces and newlines": b"  \n\t\n \r\n",
        "byte-order mark only": codecs.BOM_UTF8,
        "no-break spaces": "\u00a0\u3000\u00a0\n".encode(),
        "zero-width spaces": "\u200b\u200b\u2060\n".encode(),
        "punctuation only": b"... --- *** ??? !!!\n",
    }
    for note, data in blanks.items():
        for suffix in (*TEXT_SUFFIXES, ".pdf"):
            c.add(c.name(kind, suffix), data, kind, "fail", note)
    c.add(
        c.name(kind, ".md"),
        b"# Heading\n\n## Another\n\n### Third\n",
        kind,
        "fail",
        "headings only",
    )
    c.add(c.name(kind, ".md"), b"![](a.png)\n<!-- comment -->\n", kind, "fail", "image and comment")
    c.add(
        c.name(kind, ".html"),
        b"<html><head><style>p{}</style><script>var a = 'text';</script></head><body>"
        b"<!-- only a comment --></body></html>",
        kind,
        "fail",
        "script, style and comment only",
    )


def text_huge_lines(c: CorpusWriter) -> None:
    kind = "huge-single-line"
    size = min(1_500_000, c.limit - 4096)
    sentence = c.sentence()
    lines = {
        ".txt": [
            ("spaces around a sentence", " " * size + sentence + " " * 100),
            # Letters chunk and embed (a long word: many one-token chunks), so this
            # one stays short; the other huge lines carry one sentence at most.
            ("one word of 20 KB", "x" * 20_000),
            ("punctuation", "-." * 50_000),  # kept as text: chunked in the parent
        ],
        ".md": [
            ("link with a 1.5 MB URL", f"[{sentence}](http://x/{'a' * size})"),
            ("1.5 MB heading line", "# " + " " * size + "x"),
            ("100 KB of emphasis marks", "_" * 100_000 + " " + sentence),
        ],
        ".html": [
            ("1.5 MB attribute", f'<p title="{"A" * size}">{sentence}</p>'),
            ("1.5 MB comment", f"<p>{sentence}</p><!-- {'-' * size} -->"),
            ("1.5 MB script", f"<p>{sentence}</p><script>{'x=1;' * (size // 4)}</script>"),
            ("1.5 MB title", f"<title>{'T' * size}</title><p>{sentence}</p>"),
        ],
    }
    for suffix, samples in lines.items():
        for note, text in samples:
            c.add(c.name(kind, suffix), text.encode(), kind, "may", note)


def near_limit(c: CorpusWriter) -> None:
    kind = "size-limit"
    sentence = f"{c.sentence()}\n".encode()

    def padded(size: int) -> bytes:
        return sentence + b" " * (size - len(sentence) - 1) + b"\n"

    c.add(c.name(kind, ".txt"), padded(c.limit), kind, "index", "exactly at the limit")
    c.add(c.name(kind, ".md"), padded(c.limit - 1), kind, "index", "one byte under")
    over = "MB limit"
    c.add(c.name(kind, ".txt"), padded(c.limit + 1), kind, "fail", "one byte over", over)
    c.add(c.name(kind, ".html"), padded(c.limit + 4096), kind, "fail", "4 KB over", over)
    pdf = good_pdf(c.sentence())
    pad = c.limit - len(pdf) - 200
    padded_pdf = page_pdf(
        [text_ops(c.sentence())], extra_objects=[stream(b"%" * pad)], compress=True
    )
    c.add(c.name(kind, ".pdf"), padded_pdf, kind, "may", f"{len(padded_pdf)} bytes")

    def sparse(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(c.limit * 64)

    c.special(c.name(kind, ".md"), sparse, kind, "fail", "MB limit")
    c.special(c.name(kind, ".pdf"), sparse, kind, "fail", "MB limit")


def markdown_pathological(c: CorpusWriter) -> None:
    """Inputs that make naive regular expressions backtrack quadratically,
    and structure at absurd depth. Filled with punctuation, so what survives
    has no words to index but the one sentence."""
    kind = "markdown-pathological"
    # Large enough that a pattern rescanning per opener would take seconds;
    # what survives is chunked by the parent, so no larger (the unit tests
    # time 60k openers of each against the loaders alone).
    n = 8_000
    sentence = c.sentence()
    samples = {
        "unclosed strong": "**- " * n,
        "unclosed links": "[- " * n,
        "links without a closing parenthesis": "[-](- " * n,
        "images without a closing parenthesis": "![-](- " * n,
        "unclosed comments": "<!-- " * n,
        "unclosed code spans": "`- " * n,
        "heading with trailing spaces": "# " + "- " * n + " \t" * n + "x",
        "heading of hashes": "# " + "# " * n,
        "front matter never closed": "---\n" + "- : -\n" * n,
        "fence never closed": "```\n" + "-\n" * n,
        "setext underlines": "-\n===\n" * (n // 4),
        "quotes 20k deep": "> " * 20_000 + sentence,
        "list 5k deep": "".join("  " * i + "- -\n" for i in range(5000)),
        "table of 20k columns": "|" + "-|" * 20_000 + "\n",
        "html blocks": "<div>" * 400,  # letters: kept short, they would be indexed
        "emphasis maze": "*_" * n,
    }
    for index, (note, text) in enumerate(samples.items()):
        words = sentence if index % 3 == 0 else MUTE
        body = f"{words}\n\n{text}\n" if "deep" not in note else text.replace(sentence, words)
        suffix = ".markdown" if len(c.files) % 2 else ".md"
        c.add(c.name(kind, suffix), body.encode(), kind, "may", note)


def html_pathological(c: CorpusWriter) -> None:
    kind = "html-pathological"
    n = 100_000  # where the markup is dropped
    kept = 10_000  # where it ends up as text, which the parent chunks
    sentence = c.sentence()
    samples = {
        "divs 100k deep": "<div>" * n + sentence + "</div>" * n,
        "unclosed inline tags": "<b><i>" * n + sentence,
        "tables 20k deep": "<table><tr><td>" * 20_000 + sentence,
        "headings nested": "<h1><h2><h3>" * 20_000 + sentence,
        "entities": f"<p>{sentence}</p><p>" + "&amp;" * kept + "</p>",
        "numeric entities out of range": f"<p>{sentence}" + "&#99999999999;&#0;&#xD800;" * 5000,
        "entity-encoded script": f"<p>{sentence}</p>&lt;script&gt;alert(1)&lt;/script&gt;",
        "billion laughs doctype": '<!DOCTYPE html [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "&a{i - 1};&a{i - 1};&a{i - 1};">' for i in range(1, 10))
        + f"]><html><body><p>{sentence} &a9;</p></body></html>",
        "unclosed comment": f"<p>{sentence}</p><!--" + "-" * kept,
        "unclosed script": f"<p>{sentence}</p><script>" + "x" * n,
        "unclosed cdata": f"<p>{sentence}</p><![CDATA[" + "x" * kept,
        # Inside a title that never closes, so the 100k "<a" end up in the
        # title, not in 200 KB of chunks to embed.
        "many incomplete tags": f"<p>{sentence}</p><title>" + "<a" * n,
        "many incomplete tags with attributes": f"<p>{sentence}</p><title>" + "<a b" * n,
        "many end-tag starts": f"<p>{sentence}</p>" + "</" * kept,
        "many declarations": f"<p>{sentence}</p>" + "<!" * kept,
        "many processing instructions": f"<p>{sentence}</p>" + "<?" * kept,
        "tag with 50k attributes": "<p "
        + " ".join(f"a{i}=x" for i in range(50_000))
        + f">{sentence}",
        "attributes never quoted closed": f'<p>{sentence}</p><a href="' + "x" * kept,
        "nested svg and script": f"<p>{sentence}</p>" + "<svg><script>" * 10_000,
        "title never closed": f"<title>{sentence}" + "<p>x" * 10_000,
        "control characters": f"<p>{sentence}\x1b[31m\x07\x08\x0b</p>",
    }
    for index, (note, text) in enumerate(samples.items()):
        if index % 3:
            text = text.replace(sentence, MUTE)
        suffix = ".htm" if len(c.files) % 2 else ".html"
        c.add(c.name(kind, suffix), text.encode(), kind, "may", note)


_SOUP = (
    *("<", ">", "</", "/>", "<!--", "-->", "--!>", "<![CDATA[", "]]>", "<![", "<?", "<!"),
    *("<!DOCTYPE x [", "<!ENTITY a 'b'>", "<a href='", "<p ", "<b>", "</b>", "<h1>", "</h2>"),
    *("<script>", "</script>", "<style>", "<title>", "<table><tr><td>", "<svg>", "'", '"'),
    *("=", "&", "&#", "&#x", "&amp", ";", "&#0;", "&#x110000;", "\n", "\n\n", "\r", "# "),
    *("## ", "###### ", "**", "__", "*", "_", "`", "```", "~~~", "[", "]", "(", ")", "!["),
    *("](", "> ", "- ", "1. ", "---", "===", "|", "\\", " ", "\t", "\u00a0", "\u200b"),
    *("\u202e", "\ufeff", "\x1b[2J", "é", "中", "😀", "x"),
)


def markup_soup(c: CorpusWriter) -> None:
    """Random runs of markup fragments (unbalanced tags, comments, entities,
    emphasis, links): the Markdown and HTML loaders must take any of them."""
    for suffix, kind in ((".html", "html-token-soup"), (".md", "markdown-token-soup")):
        for _ in range(8):
            tokens = c.rng.choices(_SOUP, k=c.rng.randrange(20, 80))
            text = f"{c.sentence()} " + "".join(tokens)
            c.add(c.name(kind, suffix), text.encode(), kind, "may")


# -- names, links and special files ----------------------------------------


def odd_names(c: CorpusWriter) -> None:
    kind = "odd-name"
    good = lambda: f"# Named\n\n{c.sentence()}\n".encode()  # noqa: E731
    names: list[tuple[str | bytes, Expect, str]] = [
        ("names/存款保障 with spaces.md", "index", "unicode and spaces"),
        ("names/emoji-😀-report.md", "index", "emoji"),
        ("names/-rf.md", "index", "leading dash"),
        ("names/--help.txt", "index", "looks like an option"),
        ("names/'quotes' and \"double\".txt", "index", "quotes"),
        ("names/$(touch pwned).md", "index", "shell substitution"),
        ("names/`backtick`;semi&amp.md", "index", "shell metacharacters"),
        ("names/percent%s%n%x.txt", "index", "format specifiers"),
        ("names/nfc-caf\u00e9.md", "index", "NFC é"),
        ("names/nfd-cafe\u0301.md", "index", "NFD é"),
        ("names/rtl-\u202egnp.md", "may", "right-to-left override"),
        ("names/UPPER.MD", "index", "upper-case extension"),
        ("names/" + "a" * 252 + ".md", "index", "255-byte name"),
        ("names/" + "中" * 84 + ".md", "index", "255-byte name in CJK"),
        ("names/" + "b" * 253 + ".md", "skip", "256-byte name"),
        ("names/" + "/".join(["d" * 200] * 15) + "/deep.md", "index", "3 KB path"),
        ("names/line\nbreak.md", "fail", "newline"),
        ("names/carriage\rreturn.txt", "fail", "carriage return"),
        ("names/tab\there.md", "fail", "tab"),
        ("names/esc\x1b[31mred.html", "fail", "terminal escape"),
        ("names/bell\x07.txt", "fail", "bell"),
        (b"names/latin1-caf\xe9.md", "fail", "Latin-1 byte"),
        (b"names/\xff\xfe.txt", "fail", "invalid bytes"),
        (b"names/overlong-\xc0\xaf.md", "fail", "overlong"),
        (b"names/dir-\xff/inside.md", "fail", "invalid folder name"),
        ("names/dir\nnewline/inside.md", "fail", "newline in folder name"),
        ("names/trailing-space.md ", "skip", "trailing space"),
        ("names/trailing-dot.md.", "skip", "trailing dot"),
        ("names/no-extension", "skip", "no extension"),
        ("names/double.md.bak", "skip", "backup extension"),
        ("names/x.md/inside.txt", "index", "folder named like a file"),
    ]
    for name, expect, note in names:
        reason = "the file name" if expect == "fail" else ""
        c.add(name, good(), kind, expect, note, reason)  # the 256-byte one lands in not_made


def links(c: CorpusWriter) -> None:
    kind = "symlink"
    c.outside.mkdir(parents=True, exist_ok=True)
    secret = c.outside / "secret.md"
    secret.write_text(f"# Outside\n\nThe outside code is {OUTSIDE_CANARY}.\n", encoding="utf-8")
    (c.outside / "folder").mkdir(exist_ok=True)
    (c.outside / "folder" / "also-secret.md").write_text(f"# X\n\n{OUTSIDE_CANARY}\n", "utf-8")
    c.add("links/target.md", f"# Target\n\n{c.sentence()}\n".encode(), kind, "index", "a target")
    out, lost, loop = "links outside the corpus folder", "does not exist", "loop"
    c.link("links/inside.md", "target.md", kind, "index")
    c.link("links/inside-abs.md", str(c.folder.resolve() / "links/target.md"), kind, "index")
    c.link("links/inside-via-dots.md", "../links/./target.md", kind, "index")
    c.link("links/out-abs.md", str(secret.resolve()), kind, "fail", out)
    c.link("links/out-rel.md", secret, kind, "fail", out)
    c.link("links/out-hop.md", "out-rel.md", kind, "fail", out)
    dots = "../links/" + os.path.relpath(secret, c.folder / "links")
    c.link("links/out-via-dots.md", dots, kind, "fail", out)
    c.link("links/out-into-folder.md", c.outside / "folder" / "also-secret.md", kind, "fail", out)
    c.link("links/etc-passwd.txt", "/etc/passwd", kind, "fail")  # out, or lost where absent
    c.link("links/dev-zero.txt", "/dev/zero", kind, "fail", out)
    c.link("links/proc-environ.txt", "/proc/self/environ", kind, "fail", out)
    c.link("links/dangling.md", "no-such-file.md", kind, "fail", lost)
    c.link("links/dangling-out.pdf", "/no/such/file.pdf", kind, "fail", lost)
    c.link("links/self-loop.md", "self-loop.md", kind, "fail", loop)
    c.link("links/loop-a.html", "loop-b.html", kind, "fail", loop)
    c.link("links/loop-b.html", "loop-a.html", kind, "fail", loop)
    c.link("links/folder-out", c.outside / "folder", kind, "skip")
    c.link("links/folder-root", "..", kind, "skip")  # a loop, were it followed
    c.link("links/folder-named.md", c.outside / "folder", kind, "skip")
    c.link("links/out-unsupported.odt", str(secret.resolve()), kind, "skip")


def special_files(c: CorpusWriter) -> None:
    kind = "special-file"
    regular = "not a regular file"
    c.special("special/pipe.txt", lambda p: os.mkfifo(p), kind, "fail", regular)
    c.special("special/pipe.bin", lambda p: os.mkfifo(p), kind, "skip")
    c.link("special/to-pipe.md", "pipe.txt", kind, "fail", regular)
    c.link("special/to-dev-null.md", "/dev/null", kind, "fail", "links outside the corpus folder")
