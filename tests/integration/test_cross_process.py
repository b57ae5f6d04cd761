"""Documents ingested by another process are answered from without a restart.

Process A answers, built the way the channels build it (``chatbot.compose``:
both real indexes and the examining pipeline); process B ingests with the real
``Ingestor`` (a fresh process per run, as ``chatbot-ingest`` is) or the real
``chatbot-ingest`` CLI. After each run of B, A must see the change within
``REFRESH_S`` and a little: a new document in dense and keyword retrieval, in
the pipeline's candidates, in the catalog, the periods and the status; an
updated one only in its new wording; a removed or restricted one nowhere.
Once on disk and once against a Chroma server.

This file is also the two processes' program: ``python <this file> answer``
reads questions from stdin and writes what it found as JSON lines; ``python
<this file> ingest [--rebuild]`` syncs the corpus folder once and exits, as
the CLI does, and ``ingest --serve`` syncs at each line it reads, as the web
process does for an upload (one start instead of six keeps the test quick).
The fast tests embed with the test suite's hash embedder (in both processes,
so the vectors compare); the slow one uses the packaged model and the CLI.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.servers import chroma_server as start_chroma_server

REPO_ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()

QUESTION = "What is the vault code of the Harbour branch?"
BASE = """# Branch handbook

## Opening hours

Branches open at nine in the morning and close at five in the afternoon.

## Cash limits

A teller may pay out at most HKD 50,000 in cash to one customer per day.

## Complaints

Complaints are answered in writing within ten working days.

## Lost cards

A lost card is blocked at once by calling the hotline.
"""
FIRST = "# Vault\n\nThe vault code of the Harbour branch is zebraquartz.\n"
SECOND = "# Vault\n\nThe vault code of the Harbour branch is lunarcobalt.\n"
RESTRICT = """groups = ["treasury"]
default = ["everyone"]

[[documents]]
match = "2031/**"
groups = ["treasury"]
"""
EVERYONE = ["everyone"]
TREASURY = ["everyone", "treasury"]


# -- the two processes --------------------------------------------------------


class Reopens(logging.Handler):
    """Counts the vector adapter's reopens (it logs each one)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "reopened" in record.getMessage()


def _answer(real: bool) -> int:
    from chatbot.access import Audience
    from chatbot.catalog import visible_status
    from chatbot.compose import (
        Stores,
        build_examiner,
        build_keyword_index,
        build_stores,
        build_vector_index,
        limit_answering_threads,
    )
    from chatbot.errors import BoundaryError
    from chatbot.settings import Settings

    reopens = Reopens()
    logging.getLogger("chatbot.adapters.chroma_session").addHandler(reopens)
    logging.getLogger("chatbot.adapters.chroma_session").setLevel(logging.INFO)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    if real:
        limit_answering_threads(settings)
        stores = build_stores(settings)
    else:
        from tests.fakes import HashEmbedder

        stores = Stores(HashEmbedder(), build_vector_index(settings), build_keyword_index(settings))
    examiner = build_examiner(settings, stores)
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        ask = json.loads(line)
        audience = Audience(frozenset(ask["groups"]))
        try:
            vector = stores.embedder.embed([ask["question"]])[0]
            dense = stores.vectors.query(vector, 3, audience=audience)
            keyword = stores.keywords.search(ask["question"], 3, audience=audience)
            found = examiner.examine(ask["question"], audience)
            status = visible_status(stores.keywords, audience)
            reply: dict[str, Any] = {
                "pid": os.getpid(),
                "dense": [h.chunk.text for h in dense],
                "keyword": [h.chunk.text for h in keyword],
                "candidates": [p.chunk.text for p in found.candidates],
                "chunks": stores.vectors.count(),
                "documents": status.documents,
                "sources": sorted(
                    r.source
                    for r in stores.keywords.catalog().values()
                    if audience.allows(r.groups)
                ),
                "periods": sorted(stores.keywords.periods(audience)),
                "reopens": reopens.count,
                "shown": [p.chunk.id for p in found.shown],
                "scores": [round(h.score, 6) for h in keyword],
                "refusal": found.refusal[0].value if found.refusal else None,
            }
        except BoundaryError as exc:
            reply = {"pid": os.getpid(), "error": str(exc)}
        print(json.dumps(reply), flush=True)
    return 0


def _ingest(rebuild: bool, serve: bool) -> int:
    from chatbot.compose import Stores, build_keyword_index, build_vector_index, ingestor_for
    from chatbot.settings import Settings
    from tests.fakes import HashEmbedder

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    stores = Stores(HashEmbedder(), build_vector_index(settings), build_keyword_index(settings))
    ingestor = ingestor_for(stores, settings)
    if not serve:
        report = ingestor.sync(settings.ingest.corpus_dir, rebuild=rebuild)
        print(report.summary(), flush=True)
        return 0 if report.ok else 1
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        report = ingestor.sync(settings.ingest.corpus_dir, rebuild=json.loads(line)["rebuild"])
        print(json.dumps({"ok": report.ok, "summary": report.summary()}), flush=True)
    return 0


# -- driving them from the tests -------------------------------------------------


class Process:
    """A process of this program: one JSON line in, one out."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        command = [sys.executable, str(THIS), *args]
        self.proc = subprocess.Popen(
            command,
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.pid = int(self._next(120)["ready"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            return dict(json.loads(self._lines.get(timeout=timeout)))
        except queue.Empty:
            pytest.fail(f"{self.proc.args} gave no reply in {timeout:.0f} s")

    def send(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self._next(timeout)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Answerer(Process):
    """Process A: a question in, what it retrieved out."""

    def __init__(self, env: dict[str, str], *, real: bool = False) -> None:
        super().__init__(env, "answer", *(["--real"] if real else []))

    def look(self, groups: list[str] = EVERYONE, question: str = QUESTION) -> dict[str, Any]:
        reply = self.send({"question": question, "groups": groups}, 30)
        assert reply["pid"] == self.pid  # the same process throughout: no restart
        return reply

    def until(
        self, check: Callable[[dict[str, Any]], bool], groups: list[str] = EVERYONE
    ) -> dict[str, Any]:
        """The first reply that passes ``check``; fails after the refresh
        interval and a margin for a busy machine (a reload right before
        rests the watch for nine times what it took)."""
        from chatbot.adapters.freshness import REFRESH_S

        within = REFRESH_S + 14.0
        deadline = time.monotonic() + within
        while True:
            reply = self.look(groups)
            if "error" not in reply and check(reply):
                return reply
            if time.monotonic() > deadline:
                pytest.fail(f"not seen within {within:.0f} s; last reply: {reply}")
            time.sleep(0.05)


class Ingester(Process):
    """Process B, staying up: syncs the corpus folder at each call."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env, "ingest", "--serve")

    def sync(self, rebuild: bool = False) -> None:
        reply = self.send({"rebuild": rebuild}, 120)
        assert reply["ok"], reply["summary"]


def ingest(env: dict[str, str], *args: str) -> None:
    """Process B: one sync of the corpus folder, in a process of its own."""
    done = subprocess.run(
        [sys.executable, str(THIS), "ingest", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def mentions(reply: dict[str, Any], word: str, where: tuple[str, ...]) -> bool:
    return any(word in text for part in where for text in reply[part])


EVERYWHERE = ("dense", "keyword", "candidates")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server (``chroma run``) on a free local port."""
    with start_chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
        yield address


@pytest.fixture(params=["persistent", "http", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment both processes run in (the corpus holds the handbook)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "handbook.md").write_text(BASE, encoding="utf-8")
    env = dict(os.environ)  # already without the developer's CHATBOT_* (conftest)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HF_HUB_OFFLINE="1",
        CHATBOT_INDEX__PATH=str(tmp_path / "index"),
        CHATBOT_INGEST__CORPUS_DIR=str(corpus),
    )
    if request.param in ("http", "postgres"):
        host, port = request.getfixturevalue("chroma_server")
        env.update(
            CHATBOT_INDEX__BACKEND="http",
            CHATBOT_INDEX__CHROMA_HOST=host,
            CHATBOT_INDEX__CHROMA_PORT=str(port),
            CHATBOT_INDEX__COLLECTION=f"cross-{uuid.uuid4().hex[:10]}",
        )
    if request.param == "postgres":
        # The replica set-up: nothing of the index on this machine's disk.
        env.update(
            CHATBOT_INDEX__KEYWORD_BACKEND="postgres",
            CHATBOT_INDEX__POSTGRES_URL=request.getfixturevalue("postgres_url"),
            CHATBOT_INDEX__POSTGRES_SCHEMA=f"cross_{uuid.uuid4().hex[:10]}",
        )
    return env


def corpus_of(env: dict[str, str]) -> Path:
    return Path(env["CHATBOT_INGEST__CORPUS_DIR"])


# -- the tests ---------------------------------------------------------------


pytestmark = pytest.mark.real


def test_add_update_restrict_delete_and_rebuild_are_seen(env: dict[str, str]) -> None:
    corpus = corpus_of(env)
    ingester = Ingester(env)
    ingester.sync()
    answerer = Answerer(env)
    try:
        before = answerer.look()
        assert before["documents"] == 1 and before["chunks"] == 4 and len(before["dense"]) == 3
        assert not mentions(before, "zebraquartz", EVERYWHERE)
        # Another answering process opening the index (which commits) makes
        # no one reload: else the API and the bots would keep reloading.
        other = Answerer(env)
        other.look()
        other.close()
        time.sleep(1.2)
        assert answerer.look()["reopens"] == answerer.look()["reopens"] == 0

        # Added, while A keeps asking (B's writes must not trip A up either).
        (corpus / "2031").mkdir()
        (corpus / "2031" / "vault.md").write_text(FIRST, encoding="utf-8")
        writer = threading.Thread(target=ingester.sync)
        writer.start()
        during = []
        while writer.is_alive():
            during.append(answerer.look())
        writer.join()
        assert not [r for r in during if "error" in r]
        added = answerer.until(lambda r: mentions(r, "zebraquartz", ("dense",)))
        assert "zebraquartz" in added["dense"][0]
        assert mentions(added, "zebraquartz", ("keyword",))
        assert mentions(added, "zebraquartz", ("candidates",))
        assert added["documents"] == 2 and added["chunks"] == 5
        assert added["sources"] == ["2031/vault.md", "handbook.md"]
        assert added["periods"] == ["2031"]
        if env.get("CHATBOT_INDEX__BACKEND") != "http":
            assert added["reopens"] >= 1

        # Updated: only the new wording is found.
        (corpus / "2031" / "vault.md").write_text(SECOND, encoding="utf-8")
        ingester.sync()
        updated = answerer.until(lambda r: mentions(r, "lunarcobalt", ("dense",)))
        assert mentions(updated, "lunarcobalt", ("keyword", "candidates"))
        assert not mentions(updated, "zebraquartz", EVERYWHERE)
        assert len(updated["dense"]) == 3 and updated["chunks"] == 5

        # Restricted to a new group: gone for everyone, there for treasury
        # (whose group collection B has only just made).
        (corpus / "access.toml").write_text(RESTRICT, encoding="utf-8")
        ingester.sync()
        # A stale graph would still rank the chunk for everyone; the label
        # check then drops it, but the place it took stays empty.
        hidden = answerer.until(lambda r: len(r["dense"]) == 3)
        assert not mentions(hidden, "lunarcobalt", EVERYWHERE)
        assert hidden["documents"] == 1 and hidden["periods"] == []
        shown = answerer.until(lambda r: mentions(r, "lunarcobalt", ("dense",)), TREASURY)
        assert "lunarcobalt" in shown["dense"][0] and shown["periods"] == ["2031"]

        # Deleted: nowhere, for no one; retrieval fills its places from the rest.
        (corpus / "2031" / "vault.md").unlink()
        ingester.sync()
        gone = answerer.until(lambda r: len(r["dense"]) == 3 and r["chunks"] == 4, TREASURY)
        assert not mentions(gone, "lunarcobalt", EVERYWHERE)
        assert gone["documents"] == 1 and gone["sources"] == ["handbook.md"]
        assert gone["periods"] == []

        # Rebuilt from scratch by B: A keeps answering from the new collections.
        (corpus / "2031" / "vault.md").write_text(FIRST, encoding="utf-8")
        ingester.sync(rebuild=True)
        rebuilt = answerer.until(lambda r: mentions(r, "zebraquartz", ("dense",)), TREASURY)
        assert rebuilt["documents"] == 2 and rebuilt["chunks"] == 5
        assert not mentions(answerer.look(EVERYONE), "zebraquartz", EVERYWHERE)
    finally:
        answerer.close()
        ingester.close()


def test_an_index_folder_removed_and_ingested_again_is_followed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "handbook.md").write_text(BASE, encoding="utf-8")
    (corpus / "2031").mkdir()
    (corpus / "2031" / "vault.md").write_text(FIRST, encoding="utf-8")
    index = tmp_path / "index"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        CHATBOT_INDEX__PATH=str(index),
        CHATBOT_INGEST__CORPUS_DIR=str(corpus),
    )
    ingest(env)
    answerer = Answerer(env)
    try:
        assert mentions(answerer.look(), "zebraquartz", EVERYWHERE)
        # The operator deletes the index and ingests a changed corpus anew:
        # the old files stay open in A until it lets go of them.
        shutil.rmtree(index)
        (corpus / "2031" / "vault.md").write_text(SECOND, encoding="utf-8")
        ingest(env)
        again = answerer.until(lambda r: mentions(r, "lunarcobalt", ("dense",)))
        assert mentions(again, "lunarcobalt", ("keyword", "candidates"))
        assert not mentions(again, "zebraquartz", EVERYWHERE)
        assert again["documents"] == 2 and again["chunks"] == 5
    finally:
        answerer.close()


def test_reopening_never_breaks_a_query_in_flight(tmp_path: Path) -> None:
    """Reopens, as after other processes' writes, while four threads ask
    through the group collections (the adapter's own query threads): every
    answer is whole and allowed, and no file is left open."""
    from chatbot.access import Audience
    from chatbot.adapters.chroma_index import ChromaVectorIndex
    from chatbot.domain import Chunk
    from tests.fakes import HashEmbedder

    groups = [("everyone",), ("treasury",), ("board",), ("everyone", "board")]
    chunks = [
        Chunk(f"c{i}", f"note {i} on vault codes", "n.md", "N", None, "", "en", "h", "f", i)
        for i in range(40)
    ]
    chunks = [replace(c, groups=groups[i % 4]) for i, c in enumerate(chunks)]
    chunks[0] = replace(chunks[0], text="vault codes")  # the one best answer
    embedder = HashEmbedder()
    index = ChromaVectorIndex(collection="boundary", path=tmp_path / "chroma", threads=4)
    index.upsert(chunks, embedder.embed([c.text for c in chunks]))
    vector = embedder.embed(["vault codes"])[0]
    audience = Audience(frozenset({"everyone", "treasury"}))  # not every group: the pool
    allowed = {c.id for c in chunks if audience.allows(c.groups)}
    assert index.query(vector, 8, audience=audience)[0].chunk.id == "c0"
    fds = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else None
    answers: list[list[str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answers.append([h.chunk.id for h in index.query(vector, 8, audience=audience)])
            except BaseException as exc:  # any failure is the finding
                errors.append(exc)

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for thread in askers:
        thread.start()
    for _ in range(10):
        index._session.reopen("test")
        time.sleep(0.02)
    stop.set()
    for thread in askers:
        thread.join(30)
    assert not errors, errors[:3]
    assert len(answers) > 10
    # Whole and allowed; among near-equal scores an approximate search may
    # order the rest differently after a reload.
    assert all(len(a) == 8 and a[0] == "c0" and set(a) <= allowed for a in answers)
    index.close()
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) <= fds


@pytest.mark.slow
def test_the_real_cli_and_embedder_in_the_apps_composition(tmp_path: Path) -> None:
    """The API's own stores (packaged embedder), started before anything was
    ingested, then ``chatbot-ingest`` run beside it. (One run: a process
    that loads the model takes 10-30 s here; the tests above cover the rest.)"""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "handbook.md").write_text(BASE, encoding="utf-8")
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HF_HUB_OFFLINE="1",
        CHATBOT_INDEX__PATH=str(tmp_path / "index"),
        CHATBOT_INGEST__CORPUS_DIR=str(corpus),
    )
    cli = Path(sys.executable).parent / "chatbot-ingest"

    answerer = Answerer(env, real=True)
    try:
        empty = answerer.look()
        assert empty["chunks"] == 0 and empty["dense"] == [] and empty["documents"] == 0
        (corpus / "vault.md").write_text(FIRST, encoding="utf-8")
        done = subprocess.run([str(cli)], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        added = answerer.until(lambda r: mentions(r, "zebraquartz", ("dense",)))
        assert "zebraquartz" in added["dense"][0] and "zebraquartz" in added["candidates"][0]
        assert added["documents"] == 2 and added["chunks"] == 5
    finally:
        answerer.close()


# -- replicas on PostgreSQL and a Chroma server ---------------------------------

OTHER_QUESTIONS = [
    QUESTION,
    "When do branches open in the morning?",
    "How much cash may a teller pay out to one customer?",
    "What is the capital adequacy ratio of the bank in 2040?",
]


def same_view(reply: dict[str, Any]) -> dict[str, Any]:
    """What two replicas must agree on: everything but who answered."""
    return {k: v for k, v in reply.items() if k not in ("pid", "reopens")}


@pytest.fixture
def replica_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "handbook.md").write_text(BASE, encoding="utf-8")
    host, port = request.getfixturevalue("chroma_server")
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HF_HUB_OFFLINE="1",
        # each replica would have its own disk; none holds the index
        CHATBOT_INDEX__PATH=str(tmp_path / "unused-index-folder"),
        CHATBOT_INGEST__CORPUS_DIR=str(corpus),
        CHATBOT_INDEX__BACKEND="http",
        CHATBOT_INDEX__CHROMA_HOST=host,
        CHATBOT_INDEX__CHROMA_PORT=str(port),
        CHATBOT_INDEX__COLLECTION=f"replica-{uuid.uuid4().hex[:10]}",
        CHATBOT_INDEX__KEYWORD_BACKEND="postgres",
        CHATBOT_INDEX__POSTGRES_URL=request.getfixturevalue("postgres_url"),
        CHATBOT_INDEX__POSTGRES_SCHEMA=f"replica_{uuid.uuid4().hex[:10]}",
    )
    return env


@pytest.mark.postgres
def test_two_replicas_answer_alike_and_both_see_new_documents(replica_env: dict[str, str]) -> None:
    env = replica_env
    ingest(env)
    first, second = Answerer(env), Answerer(env)
    ingester = Ingester(env)
    try:
        for question in OTHER_QUESTIONS:
            one = first.look(question=question)
            two = second.look(question=question)
            assert "error" not in one, one
            assert same_view(one) == same_view(two)
        assert first.look(question=OTHER_QUESTIONS[-1])["refusal"] is not None

        # A document ingested through a third process (the web replica's
        # upload) is answered from by both, neither restarted.
        (corpus_of(env) / "2031").mkdir()
        (corpus_of(env) / "2031" / "vault.md").write_text(FIRST, encoding="utf-8")
        ingester.sync()
        seen = [a.until(lambda r: mentions(r, "zebraquartz", ("dense",))) for a in (first, second)]
        assert same_view(seen[0]) == same_view(seen[1])
        assert mentions(seen[0], "zebraquartz", ("keyword", "candidates"))
        assert seen[0]["documents"] == 2 and seen[0]["periods"] == ["2031"]
        # Restricted: hidden from everyone on both replicas at once.
        (corpus_of(env) / "access.toml").write_text(RESTRICT, encoding="utf-8")
        ingester.sync()
        for answerer in (first, second):
            hidden = answerer.until(lambda r: not mentions(r, "zebraquartz", EVERYWHERE))
            assert hidden["documents"] == 1
        assert same_view(first.look(TREASURY)) == same_view(second.look(TREASURY))
        assert mentions(first.look(TREASURY), "zebraquartz", ("dense", "keyword"))
    finally:
        for process in (first, second, ingester):
            process.close()


@pytest.mark.postgres
def test_two_ingestions_at_once_take_turns_and_leave_one_consistent_index(
    replica_env: dict[str, str],
) -> None:
    env = replica_env
    corpus = corpus_of(env)
    for n in range(60):
        (corpus / f"note-{n:02d}.md").write_text(
            f"# Note {n}\n\n"
            + " ".join(f"Circular {n} clause {i} says item{n}x{i}." for i in range(40)),
            encoding="utf-8",
        )
    runs = [
        subprocess.Popen(
            [sys.executable, str(THIS), "ingest"],
            env={**env, "CHATBOT_LOG_LEVEL": "INFO"},
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # One did the work; the other waited for it, then found nothing to do.
    assert sorted("(61 added" in out for out in outputs) == [False, True], outputs
    assert sorted("61 unchanged" in out for out in outputs) == [False, True], outputs
    check = subprocess.run(
        [str(Path(sys.executable).parent / "chatbot-ingest"), "--check"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    answerer = Answerer(env)
    try:
        reply = answerer.look(question="Which circular says item7x3?")
        assert reply["documents"] == 61
        assert mentions(reply, "item7x3", ("keyword",))
    finally:
        answerer.close()


if __name__ == "__main__":
    role, flags = sys.argv[1], sys.argv[2:]
    if role == "answer":
        sys.exit(_answer("--real" in flags))
    sys.exit(_ingest("--rebuild" in flags, "--serve" in flags))
