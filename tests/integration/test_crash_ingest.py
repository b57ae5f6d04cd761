"""Crash safety of ingestion: SIGKILL ``chatbot-ingest`` mid-run, again and again.

The random test. A generated corpus (20 text and Markdown files of about
1 KB, copies of the two sample PDFs, an ``access.toml`` with three groups)
is ingested with the real embedder into a real keyword index and Chroma
under ``tmp_path``. Then the CLI is killed with SIGKILL at seeded random
moments, at least ``KILLS`` times; each next run (killed in its turn) carries
on from what the last one left. Between kills files are edited, deleted,
added, restored and regrouped, and some runs are ``--rebuild`` or re-chunk
everything (another chunk overlap, then resumed or reverted), so removals,
updates, relabelling, clearing and re-chunking are killed too. At the end
one run goes uninterrupted, ``chatbot-ingest --check`` must pass, and the
index must equal a clean build of the same folder: same catalog, same
keyword rows and search terms, same Chroma collections (main and groups)
with the same ids, texts and metadata, vectors within 1e-5.

Moments: each run is killed a uniform random amount into its own work. The
test works out from the catalog how many progress lines (``ingest.sync``'s
per-file log lines) the run will print, picks one uniformly, and kills at a
uniform delay (up to a slow file's time in the reference run) after it;
"before the first line" is measured from the start of the reference run's
work. So kills land from the start-up to the last file, in first builds,
rebuilds, re-chunkings and small follow-up syncs alike; the report printed
at the end (``-s``) says where they landed.

Start-up cost: ``import sentence_transformers`` alone takes 10-17 s on a
2-core machine, which would make 30 kills take over 10 minutes. So runs are
started from a zygote: a Python process that has imported the slow modules
once and forks a fresh child per run, which runs the real ``chatbot-ingest``
entry point (``ingest.cli:main``, same argv and environment, its own process
group, SIGKILLed like any process; the model is loaded in the child, as in
production). The first killed run and the final ``--check`` exec the real
console script instead, and ``BOUNDARY_CRASH_EXEC=1`` execs it for every run
(faithful, much slower). ``BOUNDARY_CRASH_KILLS`` changes the number of
kills.

The targeted tests below the random one replay, one by one and in a few
seconds each, the crash windows found while writing it (by the random runs,
and by reading the write order): each failed before its fix in
``ingest.sync`` or ``chatbot.adapters.chroma_index`` (see the comments there).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ingest.access_rules import load_access_rules

pytestmark = [pytest.mark.crash, pytest.mark.real]

REPO = Path(__file__).resolve().parents[2]
SEED = 1515
KILLS = int(os.environ.get("BOUNDARY_CRASH_KILLS", "30"))  # at least this many SIGKILLs
TEXT_FILES = 20
VECTOR_TOLERANCE = 1e-5
EXEC_ALL = os.environ.get("BOUNDARY_CRASH_EXEC") == "1"
SCRIPT = Path(sys.executable).parent / "chatbot-ingest"

# One line per unit of work that ``ingest.sync`` logs at -v.
PROGRESS = re.compile(r"ingest\.sync: .*(chunks written|removed \(file is gone\)|access groups)")

# The zygote: imports what makes a start slow, then forks one child per
# request. A request says what to run and when to kill it; the reply gives
# the exit code and every output line with its time since the fork.
ZYGOTE = r"""
import ctypes, json, os, re, select, signal, sys, time, traceback

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no run outlives the test


die_with_parent()
import chromadb, sentence_transformers, torch, transformers  # the slow imports
import ingest.chunking, ingest.loaders, ingest.sync, chatbot.adapters.chroma_index
import chatbot.adapters.sqlite_keyword, chatbot.adapters.st_embedder
from ingest.cli import main

PROGRESS = re.compile(sys.argv[1])


def child(req, w):
    os.setpgid(0, 0)  # its own group: helpers it starts are swept with it
    die_with_parent()
    os.dup2(w, 1)
    os.dup2(w, 2)
    env = {**os.environ, **req["env"]}
    if req["exec"]:
        os.execve(req["script"], [req["script"], *req["argv"]], env)
    os.environ.update(req["env"])
    sys.argv = ["chatbot-ingest", *req["argv"]]
    code = 0
    try:
        main(req["argv"], prog_name="chatbot-ingest")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(req):
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child(req, w)
        finally:
            os._exit(71)
    os.close(w)
    pidfd = os.pidfd_open(pid)
    lines, buf, progress = [], b"", 0
    kill_at = req.get("kill_at")  # seconds after the fork
    after, delay = req.get("after_line"), req.get("delay", 0.0)
    killed_at = None
    open_ = True
    while True:
        now = time.monotonic() - start
        timeout = None if kill_at is None or killed_at is not None else max(0.0, kill_at - now)
        ready, _, _ = select.select([r, pidfd] if open_ else [pidfd], [], [], timeout)
        now = time.monotonic() - start
        if r in ready:
            data = os.read(r, 1 << 16)
            if not data:
                open_ = False
            buf += data
            *done, buf = buf.split(b"\n")
            for raw in done:
                text = raw.decode("utf-8", "replace")
                lines.append((round(now, 3), text))
                if PROGRESS.search(text):
                    progress += 1
                    if after is not None and progress == after and kill_at is None:
                        kill_at = now + delay
        if killed_at is None and kill_at is not None and now >= kill_at:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            killed_at = now
        if pidfd in ready or (not open_ and killed_at is not None):
            break
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    os.set_blocking(r, False)
    try:
        while open_ and (data := os.read(r, 1 << 16)):
            buf += data
    except BlockingIOError:
        pass
    if buf:
        lines.append((round(seconds, 3), buf.decode("utf-8", "replace")))
    os.close(r)
    os.close(pidfd)
    helpers = 0
    try:  # anything the run started (a parsing worker) dies with it
        os.killpg(pid, 0)
        helpers = 1
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    code = os.waitstatus_to_exitcode(status)
    return {"code": code, "killed_at": killed_at, "seconds": seconds, "lines": lines,
            "helpers_left": helpers, "cpu_s": usage.ru_utime + usage.ru_stime}


print("ready", flush=True)
for line in sys.stdin:
    print(json.dumps(run(json.loads(line))), flush=True)
"""


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    code: int
    killed_at: float | None  # seconds after the start, when it was killed
    seconds: float
    lines: tuple[tuple[float, str], ...]
    helpers_left: int
    cpu_s: float  # user + system time of the run (and the helpers it waited for)

    @property
    def killed(self) -> bool:
        return self.killed_at is not None and self.code == -9

    def progress(self) -> list[tuple[float, str]]:
        return [(t, text) for t, text in self.lines if PROGRESS.search(text)]

    def output(self) -> str:
        return "\n".join(text for _, text in self.lines)


class Launcher:
    """Starts ``chatbot-ingest`` runs from the zygote and kills them on cue."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self._env = env
        self._proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, PROGRESS.pattern],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        assert self._proc.stdout is not None
        assert self._proc.stdout.readline().strip() == "ready", "the zygote did not start"

    def run(
        self,
        argv: list[str],
        index: Path,
        *,
        kill_at: float | None = None,
        after_line: int | None = None,
        delay: float = 0.0,
        exec_script: bool = EXEC_ALL,
        env: dict[str, str] | None = None,
    ) -> Run:
        request = {
            "argv": argv,
            "env": {"CHATBOT_INDEX__PATH": str(index), **(env or {})},
            "exec": exec_script,
            "script": str(SCRIPT),
            "kill_at": kill_at,
            "after_line": after_line,
            "delay": delay,
        }
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._proc.stdout.readline())
        return Run(
            argv=tuple(argv),
            code=reply["code"],
            killed_at=reply["killed_at"],
            seconds=reply["seconds"],
            lines=tuple((t, text) for t, text in reply["lines"]),
            helpers_left=reply["helpers_left"],
            cpu_s=reply["cpu_s"],
        )

    def close(self) -> None:
        # Nothing to flush: it only forks. Exiting would tear torch down (slow).
        self._proc.kill()
        self._proc.wait(timeout=30)


# -- the corpus -------------------------------------------------------------

TOPICS = (
    "deposit protection",
    "card fees",
    "mortgage lending",
    "liquidity risk",
    "model risk",
    "complaints handling",
    "branch operations",
    "anti-money laundering",
    "interest rate risk",
    "outsourcing",
)
SUBJECTS = ("The bank", "The credit committee", "Each branch", "The risk team", "Staff")
VERBS = ("reviews", "approves", "records", "reports", "limits", "monitors", "escalates")
OBJECTS = (
    "exposures above the board limit",
    "every exception to the policy",
    "customer complaints within seven days",
    "the liquidity coverage ratio each month",
    "collateral valuations before drawdown",
    "suspicious transactions to the compliance officer",
    "changes to the scoring model",
    "fees charged on foreign currency payments",
)
WHENS = ("each quarter", "before approval", "within 30 days", "at year end", "on request")

ACCESS_VARIANTS = (
    # The first is the corpus's starting point; regrouping switches between them.
    """groups = ["staff", "board", "risk"]
default = ["staff"]

[[documents]]
match = "public/**"
groups = ["everyone"]

[[documents]]
match = "board/**"
groups = ["board"]

[[documents]]
match = "risk/**"
groups = ["board", "risk"]
""",
    """groups = ["staff", "board", "risk"]
default = ["staff"]

[[documents]]
match = "public/**"
groups = ["everyone", "staff"]

[[documents]]
match = "risk/**"
groups = ["risk"]

[[documents]]
match = "board/**"
groups = ["board"]
""",
    """groups = ["staff", "board", "risk"]
default = ["staff", "risk"]

[[documents]]
match = "public/**"
groups = ["everyone"]

[[documents]]
match = "board/**"
groups = ["board", "risk"]

[[documents]]
match = "staff/note-0*"
groups = ["everyone"]
""",
)
FOLDERS = ("public", "staff", "board", "risk")


def document(rng: random.Random, title: str, paragraphs: int) -> str:
    parts = [f"# {title}\n"]
    for p in range(paragraphs):
        topic = rng.choice(TOPICS)
        sentences = [
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(WHENS)} under rule {rng.randint(1, 99)}.{rng.randint(1, 9)} on {topic}."
            for _ in range(rng.randint(3, 6))
        ]
        parts.append(f"## {p + 1}. {topic.capitalize()}\n\n" + " ".join(sentences) + "\n")
    return "\n".join(parts)


TEXT_PDFS = ("hkma-genai-sandbox-overview.pdf", "illustrative-bank-genai-usage-guidance.pdf")


@dataclass
class Corpus:
    """The folder under test, its changes, and what the next run has to do."""

    root: Path
    rng: random.Random
    deleted: dict[str, bytes] = field(default_factory=dict)
    variant: int = 0
    added: int = 0
    changes: Counter[str] = field(default_factory=Counter)

    def build(self) -> None:
        for folder in FOLDERS:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(TEXT_FILES):
            folder = FOLDERS[i % len(FOLDERS)]
            suffix = ".md" if i % 3 else ".txt"
            name = f"note-{i:02d}{suffix}" if folder == "staff" else f"{folder}-{i:02d}{suffix}"
            text = document(self.rng, f"{folder.capitalize()} note {i}", self.rng.randint(1, 3))
            (self.root / folder / name).write_text(text, encoding="utf-8")
        # the two sample PDFs with a text layer (the scanned one would add OCR time)
        first, second = (REPO / "corpus" / name for name in TEXT_PDFS)
        shutil.copy(first, self.root / "board" / first.name)
        shutil.copy(second, self.root / "risk" / second.name)
        (self.root / "access.toml").write_text(ACCESS_VARIANTS[0], encoding="utf-8")

    def sources(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and p.name != "access.toml"
        )

    def mutate(self, kind: str = "") -> None:
        """One change to the folder, of ``kind`` or a random one."""
        kind = kind or self.rng.choice(["edit", "edit", "delete", "add", "restore", "regroup"])
        texts = [s for s in self.sources() if s.endswith((".md", ".txt"))]
        if kind == "restore" and not self.deleted:
            kind = "add"
        if kind == "delete" and len(texts) < TEXT_FILES // 2:
            kind = "edit"
        self.changes[kind] += 1
        if kind == "edit":
            path = self.root / self.rng.choice(texts)
            paragraphs = path.read_text(encoding="utf-8").split("\n## ")
            at = self.rng.randrange(1, len(paragraphs))
            paragraphs[at] = document(self.rng, "x", 1).split("\n## ", 1)[1].rstrip("\n")
            path.write_text("\n## ".join(paragraphs), encoding="utf-8")
            return
        if kind == "delete":
            source = self.rng.choice(self.sources())
            self.deleted[source] = (self.root / source).read_bytes()
            (self.root / source).unlink()
            return
        if kind == "add":
            self.added += 1
            folder = self.rng.choice(FOLDERS)
            text = document(self.rng, f"Added note {self.added}", self.rng.randint(1, 3))
            (self.root / folder / f"added-{self.added:02d}.md").write_text(text, encoding="utf-8")
            return
        if kind == "restore":
            source = self.rng.choice(sorted(self.deleted))
            (self.root / source).write_bytes(self.deleted.pop(source))
            return
        others = [v for v in range(len(ACCESS_VARIANTS)) if v != self.variant]
        self.variant = self.rng.choice(others)
        (self.root / "access.toml").write_text(ACCESS_VARIANTS[self.variant], encoding="utf-8")

    def lines_to_do(self, index: Path, *, everything: bool) -> int:
        """How many progress lines the next sync will print, worked out from
        the catalog it will read: one per file gone, relabelled, or new or
        changed (every file when ``everything`` is redone)."""
        db = sqlite3.connect(index / "keywords.sqlite3")
        try:
            records = dict(
                (
                    (s, (h, g))
                    for s, h, g in db.execute("SELECT source, file_hash, groups FROM documents")
                )
            )
            stored = {row[0] for row in db.execute("SELECT DISTINCT source FROM chunks")}
        finally:
            db.close()
        rules = load_access_rules(self.root / "access.toml")
        files = self.sources()
        lines = len((set(records) | stored) - set(files))
        for source in files:
            record = records.get(source)
            if record is not None and record[1] != ",".join(rules.groups_for(source)):
                lines += 1
            digest = hashlib.sha256((self.root / source).read_bytes()).hexdigest()
            if everything or record is None or record[0] != digest:
                lines += 1
        return lines


# -- comparing two indexes ------------------------------------------------------


def keyword_snapshot(index: Path) -> dict[str, Any]:
    db = sqlite3.connect(index / "keywords.sqlite3")
    try:
        chunks = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT id, text, source, title, page, section, language, content_hash, "
                "file_hash, position, context, groups FROM chunks"
            )
        }
        terms = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT c.id, f.terms, f.acl FROM chunks AS c JOIN chunks_fts AS f "
                "ON f.rowid = c.rowid"
            )
        }
        stray_terms = db.execute(
            "SELECT count(*) FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)"
        ).fetchone()[0]
        documents = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT source, file_hash, title, pages, chunk_count, chunk_ids, language, "
                "context, period_from, groups FROM documents"
            )
        }
        meta = dict(db.execute("SELECT key, value FROM meta"))
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    return {
        "chunks": chunks,
        "terms": terms,
        "stray_terms": stray_terms,
        "documents": documents,
        "meta": meta,
        "integrity": integrity,
    }


def chroma_snapshot(index: Path) -> dict[str, dict[str, tuple[str, dict[str, Any], list[float]]]]:
    """Every non-empty collection: id -> (text, metadata, vector). A group
    collection left empty by a regrouping is not part of what the index holds."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(index / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    out: dict[str, dict[str, tuple[str, dict[str, Any], list[float]]]] = {}
    for listed in client.list_collections():
        col = client.get_collection(listed.name, embedding_function=None)
        got = col.get(include=["documents", "metadatas", "embeddings"])
        if not got["ids"]:
            continue
        out[listed.name] = {
            i: (d, dict(m or {}), [float(x) for x in e])
            for i, d, m, e in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }
    return out


def assert_same_index(crashed: Path, clean: Path) -> dict[str, int]:
    """The crashed-and-resumed index equals the clean build; returns sizes."""
    mine, theirs = keyword_snapshot(crashed), keyword_snapshot(clean)
    assert mine["integrity"] == "ok" and theirs["integrity"] == "ok"
    assert mine["stray_terms"] == 0, "search rows left without their chunk"
    assert set(mine["documents"]) == set(theirs["documents"]), "catalog sources differ"
    for source, record in theirs["documents"].items():
        assert mine["documents"][source] == record, f"catalog record of {source} differs"
    assert set(mine["chunks"]) == set(theirs["chunks"]), "keyword chunk ids differ"
    assert mine["chunks"] == theirs["chunks"], "keyword chunk rows differ"
    assert mine["terms"] == theirs["terms"], "keyword search rows differ"
    for key in ("embedder", "chunking", "identity_rules", "schema_version"):
        assert mine["meta"].get(key) == theirs["meta"].get(key), f"meta {key} differs"
    catalog_ids = {i for r in theirs["documents"].values() for i in json.loads(r[4])}
    assert catalog_ids == set(theirs["chunks"])

    vectors, reference = chroma_snapshot(crashed), chroma_snapshot(clean)
    assert set(vectors) == set(reference), "Chroma collections differ"
    worst = 0.0
    for name, items in reference.items():
        assert set(vectors[name]) == set(items), f"ids in {name} differ"
        for chunk_id, (text, meta, vector) in items.items():
            got_text, got_meta, got_vector = vectors[name][chunk_id]
            assert got_text == text, f"text of {chunk_id} in {name} differs"
            assert got_meta == meta, f"metadata of {chunk_id} in {name} differs"
            worst = max(worst, max(abs(a - b) for a, b in zip(got_vector, vector, strict=True)))
    assert worst <= VECTOR_TOLERANCE, f"vectors differ by up to {worst}"
    main = next(n for n in reference if "-g-" not in n)
    assert set(reference[main]) == catalog_ids
    return {
        "documents": len(theirs["documents"]),
        "chunks": len(catalog_ids),
        "group_collections": len(reference) - 1,
    }


# -- the test -------------------------------------------------------------------


@dataclass
class Plan:
    """Where the next kill goes: one of the progress lines the next run has to
    print (or before the first), then a delay into the work after it."""

    rng: random.Random
    startup: float  # reference: seconds from the start to the first file's work
    gap: float  # reference: a slow file's time

    def next_kill(self, lines_expected: int) -> dict[str, float | int]:
        k = self.rng.randrange(0, max(1, lines_expected))
        delay = self.rng.uniform(0.0, self.gap)
        if k == 0:
            return {"kill_at": self.startup + delay}
        return {"after_line": k, "delay": delay}


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    zygote = Launcher(tmp_path, env)
    yield zygote
    zygote.close()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 4 minutes on an idle 2-core machine; far more when shared
def test_sigkill_at_random_moments_then_resume_equals_a_clean_build(
    tmp_path: Path, launcher: Launcher
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    corpus = Corpus(tmp_path / "corpus", rng)
    corpus.build()
    crashed, clean = tmp_path / "crashed-index", tmp_path / "clean-index"
    sync = ["--corpus", str(corpus.root), "-v"]

    # The reference: an uninterrupted first build, timed line by line.
    reference = launcher.run(sync, crashed)
    assert reference.code == 0, reference.output()
    print(f"reference: {reference.seconds:.1f}s, {len(reference.progress())} lines", flush=True)
    times = [t for t, _ in reference.progress()]
    assert len(times) == len(corpus.sources())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Delays up to the 75th percentile of the files' times: a kill lands in
    # the next file's work (later, for the slow PDFs) without often running
    # past the end of a short run.
    gap = sorted(gaps)[(3 * len(gaps)) // 4]
    plan = Plan(random.Random(SEED + 1), startup=times[0] - min(gaps), gap=gap)

    runs: list[Run] = []
    kills: list[dict[str, Any]] = []
    epoch = "rebuild"  # the next run: "rebuild", "rechunk" (other settings) or "sync"
    stored = "40"  # the chunk overlap the index was last set to (40: the default)
    overlap = "40"  # the overlap of the next run
    while len(kills) < KILLS:
        assert len(runs) < 2 * KILLS, "too many runs finished before their kill moment"
        argv = [*sync, "--rebuild"] if epoch == "rebuild" else list(sync)
        env = {"CHATBOT_INGEST__CHUNK_OVERLAP": overlap}
        kind = epoch
        if epoch == "rebuild":
            expected = len(corpus.sources())
        else:
            # Other chunking settings than the index's: every file is
            # re-chunked (replaced); the final run re-chunks them back.
            if overlap != stored:
                kind = "rechunk" if overlap != "40" else "re-chunk back"
            expected = corpus.lines_to_do(crashed, everything=overlap != stored)
        exec_script = EXEC_ALL or not kills
        cue = plan.next_kill(expected)
        if exec_script and "kill_at" in cue:
            # The console script's own start-up takes far longer than the
            # reference's: count from its first file instead.
            cue = {"after_line": 1, "delay": float(cue["kill_at"]) - plan.startup}
        run = launcher.run(
            argv,
            crashed,
            env=env,
            exec_script=exec_script,
            kill_at=cue.get("kill_at"),
            after_line=int(cue["after_line"]) if "after_line" in cue else None,
            delay=float(cue.get("delay", 0.0)),
        )
        runs.append(run)
        done = len(run.progress())
        print(
            f"run {len(runs)} ({kind}, overlap {overlap}): "
            + (f"killed at {run.killed_at:.1f}s" if run.killed else f"finished, {run.seconds:.1f}s")
            + f" after {done} of {expected} lines, {run.cpu_s:.1f} cpu-s, cue {cue}",
            flush=True,
        )
        assert run.code in (-9, 0), f"a run failed on its own:\n{run.output()}"
        assert run.helpers_left == 0 or run.killed
        # Set as a run starts (``ingest.sync._mark_unfinished``).
        stored = "40" if epoch == "rebuild" else overlap
        if run.killed:
            kills.append(
                {
                    "kind": kind,
                    "at_line": cue.get("after_line", 0),
                    "of_lines": expected,
                    "seconds": run.killed_at,
                    "last": run.progress()[-1][1].split(": ", 1)[-1] if done else "(start)",
                }
            )
        # Mostly the next run finishes the rest (after a killed re-chunking it
        # resumes it, or goes back to the default settings: all files again);
        # now and then, and after a run that finished, something new starts
        # over whatever is half done: a rebuild, a re-chunking or a burst of
        # changes. Full rebuilds and re-chunkings are the costly runs.
        epoch = "sync"
        if run.killed and overlap != "40" and rng.random() < 0.5:
            overlap = "40"
        if not run.killed or rng.random() < 0.3:
            epoch = rng.choice(["rebuild", "rechunk", "sync", "sync"])
            others = [o for o in ("24", "32") if o != stored]
            overlap = rng.choice(others) if epoch == "rechunk" else "40"
            if epoch == "sync":  # a burst of changes, one of them to the groups
                corpus.mutate("regroup")
                for _ in range(rng.randint(2, 5)):
                    corpus.mutate()
        if rng.random() < 0.6:
            corpus.mutate()

    final = launcher.run(sync, crashed)
    assert final.code == 0, final.output()
    check = launcher.run(["--check", "--corpus", str(corpus.root)], crashed, exec_script=True)
    assert check.code == 0, check.output()
    assert "index consistent" in check.output()
    build = launcher.run(sync, clean)
    assert build.code == 0, build.output()
    sizes = assert_same_index(crashed, clean)

    moments = sorted(k["at_line"] / max(1, k["of_lines"]) for k in kills)
    report = {
        "kills": len(kills),
        "runs": len(runs) + 4,
        "finished_before_their_moment": sum(1 for r in runs if not r.killed),
        "kills_by_run": dict(Counter(k["kind"] for k in kills)),
        "kills_by_quarter_of_the_run": dict(Counter(min(3, int(m * 4)) for m in moments)),
        "kills_before_the_first_line": sum(1 for k in kills if k["at_line"] == 0),
        "kills_just_after": dict(
            Counter(
                next(
                    (w for w in ("written", "removed", "access groups") if w in k["last"]), "start"
                )
                for k in kills
            )
        ),
        "changes": dict(corpus.changes),
        "files": len(corpus.sources()),
        **sizes,
        "reference_s": round(reference.seconds, 1),
        "cpu_s_of_all_runs": round(
            sum(r.cpu_s for r in [reference, *runs, final, check, build]), 1
        ),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print("crash report:", json.dumps(report, sort_keys=True))
    (tmp_path / "crash-report.json").write_text(json.dumps({**report, "detail": kills}, indent=1))
    assert len(kills) >= KILLS
    # The moments spread over the whole run, not only the start-up.
    assert sum(1 for m in moments if m >= 0.5) >= KILLS // 5
    assert not math.isnan(sum(moments))


# -- the crash windows, one by one ---------------------------------------------
#
# Each test stops a sync at one precise write (an exception standing in for
# the kill: every earlier write is committed, no later one happens), changes
# what the kill left behind, and checks that the next plain sync repairs it.
# Real SQLite and Chroma, the hash embedder (fast).


class Crash(Exception):
    """Stands in for SIGKILL at one write."""


class DiesAt:
    """A real adapter that dies at the first call of ``method`` for which
    ``when`` (given the call's arguments) is true."""

    def __init__(self, inner: Any, method: str, when: Any = None) -> None:
        self._inner, self._method, self._when = inner, method, when
        self.died = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.died and (self._when is None or self._when(*args, **kwargs)):
                self.died = True
                raise Crash(name)
            return attr(*args, **kwargs)

        return call


@dataclass
class Stores:
    index: Path
    vectors: Any = None
    keywords: Any = None

    def __post_init__(self) -> None:
        from chatbot.adapters.chroma_index import ChromaVectorIndex
        from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

        self.vectors = ChromaVectorIndex(collection="boundary", path=self.index / "chroma")
        self.keywords = SqliteKeywordIndex(self.index / "keywords.sqlite3")

    def sync(self, corpus: Path, *, vectors: Any = None, keywords: Any = None, **kw: Any) -> Any:
        from chatbot.settings import IngestSettings
        from ingest.sync import Ingestor
        from tests.fakes import HashEmbedder

        tokens = kw.pop("tokens", 40)
        settings = IngestSettings(chunk_tokens=tokens, chunk_overlap=5, parse_memory_mb=0)
        ingestor = Ingestor(
            HashEmbedder(), vectors or self.vectors, keywords or self.keywords, settings
        )
        return ingestor.sync(corpus, **kw)

    def check(self, corpus: Path) -> Any:
        from ingest.check import check_index

        return check_index(self.keywords, self.vectors, corpus)

    def catalog_ids(self) -> dict[str, tuple[str, ...]]:
        return {s: r.chunk_ids for s, r in self.keywords.catalog().items()}


def small_corpus(root: Path, variant: int = 0) -> Path:
    rng = random.Random(SEED)
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            text = document(rng, f"{folder} {i}", 2)
            (root / folder / f"{folder}-{i}.md").write_text(text, encoding="utf-8")
    (root / "access.toml").write_text(ACCESS_VARIANTS[variant], encoding="utf-8")
    return root


def assert_repaired(stores: Stores, corpus: Path, tmp_path: Path, **settings: Any) -> None:
    report = stores.check(corpus)
    assert report.ok, [p.line() for p in report.problems]
    assert not report.needs_sync
    clean = Stores(tmp_path / "clean")
    assert clean.sync(corpus, **settings).ok
    assert stores.catalog_ids() == clean.catalog_ids()
    assert stores.vectors.stored_labels() == clean.vectors.stored_labels()
    mine = {g: m for g, m in stores.vectors.group_labels().items() if m}
    assert mine == {g: m for g, m in clean.vectors.group_labels().items() if m}


def test_new_file_killed_before_its_record_then_regrouped(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    stores = Stores(tmp_path / "index")
    assert stores.sync(corpus).ok
    (corpus / "risk" / "new.md").write_text(document(random.Random(1), "New", 2), "utf-8")
    # Killed after both indexes hold the new file's chunks (in 'board' and
    # 'risk'), before its catalog record.
    dying = DiesAt(stores.keywords, "record_document", lambda r: r.source == "risk/new.md")
    with pytest.raises(Crash):
        stores.sync(corpus, keywords=dying)
    (corpus / "access.toml").write_text(ACCESS_VARIANTS[1], encoding="utf-8")  # risk: [risk]
    assert stores.sync(corpus).ok
    assert_repaired(stores, corpus, tmp_path)


def test_regroup_killed_before_its_record_then_reverted(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    stores = Stores(tmp_path / "index")
    assert stores.sync(corpus).ok
    (corpus / "access.toml").write_text(ACCESS_VARIANTS[1], encoding="utf-8")
    # Killed once both indexes relabelled public/ (everyone -> everyone,
    # staff), before the catalog says so; then the change is undone.
    dying = DiesAt(stores.keywords, "record_document", lambda r: r.groups == ("everyone", "staff"))
    with pytest.raises(Crash):
        stores.sync(corpus, keywords=dying)
    (corpus / "access.toml").write_text(ACCESS_VARIANTS[0], encoding="utf-8")
    assert stores.sync(corpus).ok
    assert_repaired(stores, corpus, tmp_path)


@pytest.mark.parametrize("again", [25, 40], ids=["resumed", "reverted"])
def test_rechunking_killed_then_resumed_or_reverted(tmp_path: Path, again: int) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    stores = Stores(tmp_path / "index")
    assert stores.sync(corpus).ok
    # Smaller chunks re-chunk every file; killed after three of them.
    records = iter(range(100))
    dying = DiesAt(
        stores.keywords, "record_document", lambda r: bool(r.file_hash) and next(records) == 3
    )
    with pytest.raises(Crash):
        stores.sync(corpus, keywords=dying, tokens=25)
    report = stores.sync(corpus, tokens=again)
    assert report.ok
    # The same settings again: only the files not yet re-chunked are redone.
    assert report.updated == (len(stores.catalog_ids()) - 3 if again == 25 else 8)
    assert_repaired(stores, corpus, tmp_path, tokens=again)


def test_rebuild_killed_between_the_two_clears(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    stores = Stores(tmp_path / "index")
    assert stores.sync(corpus).ok
    (corpus / "board" / "board-0.md").unlink()
    # The keyword index and catalog are empty, Chroma still full.
    dying = DiesAt(stores.vectors, "clear")
    with pytest.raises(Crash):
        stores.sync(corpus, vectors=dying, rebuild=True)
    assert stores.sync(corpus).ok
    assert_repaired(stores, corpus, tmp_path)
