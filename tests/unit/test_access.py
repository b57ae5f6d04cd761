"""Document-level access control on fakes: the visibility rule
(chatbot.access), the access file (ingest.access_rules), labels through
ingestion and relabelling without re-embedding (ingest.sync), and the
pipeline and assistant answering only from what the audience may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from chatbot.access import PUBLIC, Audience, permitted
from chatbot.assistant import Assistant
from chatbot.domain import EVERYONE, Answer, Passage, Refusal, RefusalReason
from chatbot.errors import ConfigurationError
from chatbot.protocols import ChatMessage
from chatbot.settings import IngestSettings
from ingest.access_rules import AccessRules, AccessRulesError, load_access_rules
from ingest.sync import Ingestor
from ingest.sync_report import IngestReport
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    TEXTS,
    asker,
    make_chunk,
    pipeline_over,
    pipeline_over_chunks,
)
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator


def audience(*groups: str) -> Audience:
    return Audience(frozenset(groups))


def passage(chunk_id: int, groups: tuple[str, ...]) -> Passage:
    chunk = replace(make_chunk(chunk_id, "doc.md", None, f"text {chunk_id}"), groups=groups)
    return Passage(chunk, fused_score=1.0)


# -- the visibility rule ----------------------------------------------------------------


def test_an_audience_sharing_a_group_with_the_chunk_may_use_it() -> None:
    assert audience("staff", "board").allows(("board",))
    assert audience(EVERYONE).allows((EVERYONE, "board"))


def test_an_audience_disjoint_from_the_chunks_groups_may_not_use_it() -> None:
    assert not audience("staff").allows(("board", "credit-risk"))
    assert not PUBLIC.allows(("board",))


def test_a_chunk_with_no_groups_is_allowed_to_nobody() -> None:
    assert not audience(EVERYONE, "staff", "board").allows(())
    assert not PUBLIC.allows([])


def test_narrowed_keeps_only_the_groups_both_hold() -> None:
    mine = audience(EVERYONE, "staff", "board")
    assert mine.narrowed(["board", "credit-risk"]) == audience("board")
    assert mine.narrowed([]).empty
    assert mine.groups == frozenset({EVERYONE, "staff", "board"})  # unchanged itself


def test_an_empty_audience_sees_nothing() -> None:
    nobody = audience()
    assert nobody.empty and nobody.key() == ""
    assert not nobody.allows((EVERYONE,)) and not nobody.allows(())
    assert not audience(EVERYONE).empty


def test_audience_key_is_sorted_and_stable() -> None:
    assert audience("staff", "board", EVERYONE).key() == "board,everyone,staff"
    assert Audience.of(asker("alice", "staff")).key() == "everyone,staff"


def test_permitted_drops_the_passages_the_audience_may_not_see() -> None:
    passages = [passage(0, ("board",)), passage(1, (EVERYONE,)), passage(2, ())]
    assert [p.id for p in permitted(passages, PUBLIC)] == ["c1"]
    assert [p.id for p in permitted(passages, audience("board", EVERYONE))] == ["c0", "c1"]
    assert permitted(passages, audience()) == []


# -- the access file ----------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "access.toml"
    path.write_text(text, encoding="utf-8")
    return path


VALID = """\
groups = ["staff", "credit-risk", "board"]
default = ["staff"]

[[documents]]
match = "policies/**"
groups = ["everyone"]

[[documents]]
match = "policies/credit/**"
groups = ["credit-risk", "staff"]

[[documents]]
match = "board/**"
groups = ["board"]
"""


def test_no_access_file_puts_every_document_in_everyone(tmp_path: Path) -> None:
    rules = load_access_rules(tmp_path / "access.toml")
    assert rules.path is None and rules.rules == ()
    assert rules.groups_for("board/minutes.pdf") == (EVERYONE,)
    assert rules.groups_for("anything.md") == (EVERYONE,)


def test_a_valid_file_gives_the_last_matching_rules_groups(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    rules = load_access_rules(path)
    assert rules.path == path and len(rules.rules) == 3
    assert rules.declared == frozenset({EVERYONE, "staff", "credit-risk", "board"})
    assert rules.groups_for("policies/leave.md") == (EVERYONE,)
    # the later, narrower rule overrides the broad one, and groups come sorted
    assert rules.groups_for("policies/credit/limits.md") == ("credit-risk", "staff")
    assert rules.groups_for("board/2024/minutes.pdf") == ("board",)
    assert rules.groups_for("board/minutes.pdf") == ("board",)  # "**/" matches no folder too
    assert rules.groups_for("other/notes.txt") == ("staff",)  # the default


def test_rules_record_the_line_they_start_on(tmp_path: Path) -> None:
    rules = load_access_rules(write(tmp_path, VALID))
    assert [r.line for r in rules.rules] == [4, 8, 12]
    assert [r.match for r in rules.rules] == ["policies/**", "policies/credit/**", "board/**"]


def test_everyone_needs_no_declaration(tmp_path: Path) -> None:
    path = write(tmp_path, '[[documents]]\nmatch = "**"\ngroups = ["everyone"]\n')
    assert load_access_rules(path).groups_for("a/b.md") == (EVERYONE,)


def test_the_default_default_is_no_group(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'groups = ["board"]\n\n[[documents]]\nmatch = "board/**"\ngroups = ["board"]\n'
    )
    rules = load_access_rules(path)
    assert rules.default == ()
    assert rules.groups_for("policies/leave.md") == ()
    assert not Audience(rules.declared).allows(rules.groups_for("policies/leave.md"))


def test_the_digest_follows_the_files_bytes(tmp_path: Path) -> None:
    first = load_access_rules(write(tmp_path, VALID)).signature()
    again = load_access_rules(write(tmp_path, VALID)).signature()
    changed = load_access_rules(write(tmp_path, VALID + "\n# reviewed\n")).signature()
    assert first == again != changed
    assert AccessRules().digest == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('groups = ["staff"]\ndefault = = []\n', "line 2"),
        ('groups = ["staff"]\nlabels = ["x"]\n', "unknown key(s) ['labels']"),
        (
            'groups = ["staff"]\n\n[[documents]]\nmatch = "a/**"\ngroups = ["staff"]\nwho = 1\n',
            "rule 1 (line 3): unknown key(s) ['who']",
        ),
        (
            'groups = ["staff"]\n\n[[documents]]\nmatch = "a/**"\ngroups = ["staff"]\n\n'
            '[[documents]]\nmatch = "b/**"\ngroups = ["board"]\n',
            "rule 2 (line 7): group 'board' is not declared",
        ),
        ('groups = ["a b"]\n', "'a b' is not a group name"),
        ('groups = ["x,y"]\n', "'x,y' is not a group name"),
        (
            '[[documents]]\nmatch = "a/**"\ngroups = ["x,y"]\n',
            "rule 1 (line 1): 'x,y' is not a group name",
        ),
        ('groups = "staff"\n', "groups must be a list of names"),
        (
            'groups = ["staff"]\n\n[[documents]]\nmatch = "a/**"\ngroups = "staff"\n',
            "rule 1 (line 3): groups must be a list of names",
        ),
        (
            'groups = ["staff"]\n\n[[documents]]\ngroups = ["staff"]\n',
            "rule 1 (line 3): needs match",
        ),
        ('[[documents]]\nmatch = "  "\ngroups = []\n', "rule 1 (line 1): needs match"),
        ('groups = ["staff"]\n\n[[documents]]\nmatch = "a/**"\n', "rule 1 (line 3): needs groups"),
        ('default = ["board"]\n', "default: group 'board' is not declared"),
        ("documents = 3\n", "[[documents]] table"),
    ],
    ids=[
        "toml-syntax",
        "unknown-top-key",
        "unknown-rule-key",
        "undeclared-group",
        "space-in-name",
        "comma-in-name",
        "comma-in-rule-group",
        "non-list-declared",
        "non-list-rule-groups",
        "missing-match",
        "blank-match",
        "missing-groups",
        "undeclared-default",
        "documents-not-tables",
    ],
)
def test_a_bad_access_file_is_refused_with_the_place_named(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AccessRulesError) as raised:
        load_access_rules(path)
    message = str(raised.value)
    assert str(path) in message
    assert expected in message
    assert isinstance(raised.value, ConfigurationError)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "access.toml"
    path.write_bytes('groups = ["caf\u00e9"]\n'.encode("latin-1"))
    with pytest.raises(AccessRulesError, match="not UTF-8"):
        load_access_rules(path)


# -- ingestion ----------------------------------------------------------------------


class CountingEmbedder(HashEmbedder):
    """A ``HashEmbedder`` that remembers every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed(texts)


BOARD_TEXT = "The board approved a dividend of HKD 2.10 per share on 14 March 2025."
STAFF_TEXT = "Annual leave is 18 working days for every permanent employee."

ACCESS = """\
groups = ["staff", "board"]

[[documents]]
match = "**"
groups = ["staff"]

[[documents]]
match = "board/**"
groups = ["board"]
"""


class Corpus:
    """A corpus folder and an ingestor over the fakes."""

    def __init__(self, root: Path, **ingest: object) -> None:
        self.root = root
        self.embedder = CountingEmbedder()
        self.vectors = InMemoryVectorIndex()
        self.keywords = InMemoryKeywordIndex()
        settings = IngestSettings(chunk_tokens=40, chunk_overlap=5, **ingest)
        self.ingestor = Ingestor(self.embedder, self.vectors, self.keywords, settings)
        (root / "board").mkdir()
        (root / "board" / "minutes.md").write_text(f"# Minutes\n\n{BOARD_TEXT}\n", "utf-8")
        (root / "hr").mkdir()
        (root / "hr" / "leave.md").write_text(f"# Leave\n\n{STAFF_TEXT}\n", "utf-8")

    def access(self, text: str, name: str = "access.toml") -> None:
        (self.root / name).write_text(text, encoding="utf-8")

    def sync(self) -> IngestReport:
        return self.ingestor.sync(self.root)

    def groups_by_source(self) -> dict[str, set[tuple[str, ...]]]:
        out: dict[str, set[tuple[str, ...]]] = {}
        for chunk in self.keywords.chunks.values():
            out.setdefault(chunk.source, set()).add(chunk.groups)
        for chunk, _ in self.vectors.items.values():
            out.setdefault(chunk.source, set()).add(chunk.groups)
        return out

    def keyword_sources(self, query: str, seen_by: Audience) -> set[str]:
        return {h.chunk.source for h in self.keywords.search(query, 10, audience=seen_by)}

    def vector_sources(self, query: str, seen_by: Audience) -> set[str]:
        vector = HashEmbedder().embed([query])[0]
        return {h.chunk.source for h in self.vectors.query(vector, 10, audience=seen_by)}


@pytest.fixture
def corpus(corpus_dir: Path) -> Corpus:
    return Corpus(corpus_dir)


def test_chunks_and_catalog_records_carry_the_groups_of_the_access_file(
    corpus: Corpus,
) -> None:
    corpus.access(ACCESS)
    report = corpus.sync()
    assert report.ok and report.added == 2
    assert corpus.groups_by_source() == {
        "board/minutes.md": {("board",)},
        "hr/leave.md": {("staff",)},
    }
    catalog = corpus.keywords.catalog()
    assert catalog["board/minutes.md"].groups == ("board",)
    assert catalog["hr/leave.md"].groups == ("staff",)


def test_without_an_access_file_every_chunk_is_in_everyone(corpus: Corpus) -> None:
    corpus.sync()
    assert corpus.groups_by_source() == {
        "board/minutes.md": {(EVERYONE,)},
        "hr/leave.md": {(EVERYONE,)},
    }
    assert corpus.keyword_sources("dividend per share", PUBLIC) == {"board/minutes.md"}


def test_a_document_no_rule_covers_is_seen_by_nobody(corpus: Corpus) -> None:
    corpus.access('groups = ["board"]\n\n[[documents]]\nmatch = "board/**"\ngroups = ["board"]\n')
    corpus.sync()
    assert corpus.keywords.catalog()["hr/leave.md"].groups == ()
    everybody = audience(EVERYONE, "board", "staff")
    assert corpus.keyword_sources("annual leave working days", everybody) == set()
    assert "hr/leave.md" not in corpus.vector_sources(STAFF_TEXT, everybody)


def test_moving_a_document_to_another_group_relabels_it_without_re_embedding(
    corpus: Corpus,
) -> None:
    corpus.access(ACCESS)
    corpus.sync()
    board, staff = audience("board"), audience("staff")
    assert corpus.keyword_sources("dividend per share", board) == {"board/minutes.md"}
    assert corpus.keyword_sources("dividend per share", staff) == set()
    ids_before = set(corpus.vectors.items)
    embedded = len(corpus.embedder.texts)

    corpus.access(ACCESS.replace('match = "board/**"', 'match = "hr/**"'))
    report = corpus.sync()

    assert report.regrouped == 2 and report.unchanged == 2
    assert (report.added, report.updated, report.chunks_written) == (0, 0, 0)
    assert len(corpus.embedder.texts) == embedded  # nothing embedded again
    assert not any(BOARD_TEXT in t or STAFF_TEXT in t for t in corpus.embedder.texts[embedded:])
    assert set(corpus.vectors.items) == ids_before  # same chunks, new labels
    assert corpus.groups_by_source() == {
        "board/minutes.md": {("staff",)},
        "hr/leave.md": {("board",)},
    }
    assert corpus.keywords.catalog()["board/minutes.md"].groups == ("staff",)
    # Both indexes now return the board minutes to staff only.
    assert corpus.keyword_sources("dividend per share", staff) == {"board/minutes.md"}
    assert corpus.keyword_sources("dividend per share", board) == set()
    assert "board/minutes.md" in corpus.vector_sources(BOARD_TEXT, staff)
    assert "board/minutes.md" not in corpus.vector_sources(BOARD_TEXT, board)
    assert "hr/leave.md" in corpus.vector_sources(STAFF_TEXT, board)


def test_a_relabelled_document_is_not_counted_again_on_the_next_sync(corpus: Corpus) -> None:
    corpus.access(ACCESS)
    corpus.sync()
    corpus.access(ACCESS.replace('groups = ["board"]\n', 'groups = ["everyone"]\n', 1))
    assert corpus.sync().regrouped == 1
    again = corpus.sync()
    assert again.regrouped == 0 and again.unchanged == 2
    assert corpus.keyword_sources("dividend per share", PUBLIC) == {"board/minutes.md"}


def test_a_malformed_access_file_stops_the_sync_and_leaves_the_index_as_it_was(
    corpus: Corpus,
) -> None:
    corpus.access(ACCESS)
    corpus.sync()
    catalog = corpus.keywords.catalog()
    vector_ids, keyword_ids = set(corpus.vectors.items), set(corpus.keywords.chunks)
    groups = corpus.groups_by_source()
    (corpus.root / "hr" / "new.md").write_text("# New\n\nA brand new policy page.\n", "utf-8")

    corpus.access(ACCESS.replace('groups = ["board"]\n', 'groups = ["boardroom"]\n', 1))
    with pytest.raises(AccessRulesError, match="'boardroom' is not declared"):
        corpus.sync()

    assert corpus.keywords.catalog() == catalog
    assert set(corpus.vectors.items) == vector_ids
    assert set(corpus.keywords.chunks) == keyword_ids
    assert corpus.groups_by_source() == groups


def test_the_access_file_itself_is_never_ingested(corpus_dir: Path) -> None:
    # Named .txt, a supported type, so only the exclusion keeps it out.
    corpus = Corpus(corpus_dir, access_file=Path("access.txt"))
    corpus.access(ACCESS, name="access.txt")
    report = corpus.sync()
    assert report.files_seen == 2 and report.added == 2
    assert set(corpus.keywords.catalog()) == {"board/minutes.md", "hr/leave.md"}
    assert "access.txt" not in {s.source for s in report.skipped}
    assert corpus.keywords.ids_for_source("access.txt") == []
    assert corpus.keywords.catalog()["board/minutes.md"].groups == ("board",)


def test_the_default_access_file_is_neither_ingested_nor_reported_skipped(
    corpus: Corpus,
) -> None:
    corpus.access(ACCESS)
    report = corpus.sync()
    assert "access.toml" not in corpus.keywords.catalog()
    assert "access.toml" not in {s.source for s in report.skipped}


# -- answering ----------------------------------------------------------------------

BOARD_QUESTION = "What dividend per share did the board approve in March 2025?"
BOARD_REPLY = "The board approved a dividend of HKD 2.10 per share [1]."


def board_pipeline(generator: ScriptedGenerator) -> Assistant:
    chunks = [make_chunk(i, *row) for i, row in enumerate(TEXTS)]
    board = replace(
        make_chunk(len(chunks), "board/minutes.md", None, BOARD_TEXT),
        title="Minutes",
        groups=("board",),
    )
    return Assistant(pipeline_over_chunks([*chunks, board], generator), None)


def cite_the_board_passage(messages: Sequence[ChatMessage]) -> str:
    user = messages[-1].content
    number = next(n for n in range(1, 9) if f"[{n}] (Minutes)\n{BOARD_TEXT}" in user)
    return f"The board approved a dividend of HKD 2.10 per share [{number}]."


def test_a_question_answered_only_by_a_restricted_document_is_refused_to_others() -> None:
    generator = ScriptedGenerator(BOARD_REPLY)
    assistant = board_pipeline(generator)
    outcome = assistant.pipeline.answer(BOARD_QUESTION, audience=PUBLIC)
    assert isinstance(outcome, Refusal), outcome
    assert outcome.reason is not RefusalReason.NO_ACCESS
    assert all(p.chunk.source != "board/minutes.md" for p in outcome.passages)
    assert not any(BOARD_TEXT in m.content for call in generator.calls for m in call)
    assert "HKD 2.10" not in outcome.message


def test_the_same_question_is_answered_for_the_restricted_group() -> None:
    generator = ScriptedGenerator(cite_the_board_passage)
    assistant = board_pipeline(generator)
    outcome = assistant.pipeline.answer(BOARD_QUESTION, audience=audience(EVERYONE, "board"))
    assert isinstance(outcome, Answer), outcome
    assert [c.source for c in outcome.citations] == ["board/minutes.md"]


def test_an_empty_audience_is_refused_as_no_access_without_calling_the_llm() -> None:
    generator = ScriptedGenerator(IN_CORPUS_REPLY)
    outcome = pipeline_over(TEXTS, generator).answer(IN_CORPUS, audience=audience())
    assert isinstance(outcome, Refusal)
    assert outcome.reason is RefusalReason.NO_ACCESS
    assert outcome.passages == () and not outcome.llm_called
    assert generator.calls == []


def test_an_asker_without_groups_is_refused_by_the_assistant() -> None:
    generator = ScriptedGenerator(IN_CORPUS_REPLY)
    assistant = Assistant(pipeline_over(TEXTS, generator), None)
    stranger = replace(asker("stranger"), groups=frozenset())
    recorded = assistant.ask(IN_CORPUS, channel="api", principal=stranger)
    assert isinstance(recorded.outcome, Refusal)
    assert recorded.outcome.reason is RefusalReason.NO_ACCESS and generator.calls == []


# -- conversation memory ------------------------------------------------------------

FOLLOW_UP = "And who launched it?"
CONDENSED = "Who launched the GenA.I. Sandbox?"


def reply_or_rewrite(messages: Sequence[ChatMessage]) -> str:
    """The condense call gets the standalone question, an answering call the reply."""
    if "Rewritten question:" in messages[-1].content:
        return CONDENSED
    return IN_CORPUS_REPLY


def test_two_principals_in_one_conversation_do_not_share_history() -> None:
    generator = ScriptedGenerator(*[reply_or_rewrite] * 6)
    assistant = Assistant(pipeline_over(TEXTS, generator), None)
    alice, bob = asker("alice"), asker("bob")

    first = assistant.ask(IN_CORPUS, channel="slack", principal=alice, conversation_id="C1/t1")
    assert isinstance(first.outcome, Answer), first.outcome
    calls = len(generator.calls)

    theirs = assistant.ask(FOLLOW_UP, channel="slack", principal=bob, conversation_id="C1/t1")
    # No history for bob: nothing was condensed from alice's answer.
    assert theirs.outcome.standalone_question is None
    bob_calls = generator.calls[calls:]
    assert not any(IN_CORPUS in m.content for call in bob_calls for m in call)
    assert not any("Rewritten question:" in call[-1].content for call in bob_calls)

    # The control: alice's own follow-up in the same conversation is condensed.
    before = len(generator.calls)
    mine = assistant.ask(FOLLOW_UP, channel="slack", principal=alice, conversation_id="C1/t1")
    assert mine.outcome.standalone_question == CONDENSED
    condense_call = generator.calls[before]
    assert IN_CORPUS in condense_call[-1].content


def test_one_principal_under_two_audiences_does_not_share_history() -> None:
    generator = ScriptedGenerator(*[reply_or_rewrite] * 4)
    assistant = Assistant(pipeline_over(TEXTS, generator), None)
    alice = asker("alice", "board")
    assistant.ask(IN_CORPUS, channel="slack", principal=alice, conversation_id="C9")
    narrowed = assistant.ask(
        FOLLOW_UP,
        channel="slack",
        principal=alice,
        audience=Audience.of(alice).narrowed([EVERYONE]),
        conversation_id="C9",
    )
    assert narrowed.outcome.standalone_question is None
