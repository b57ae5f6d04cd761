"""The change detector and the reopen gate (``chatbot.adapters.freshness``),
on plain SQLite files written by other connections."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from chatbot.adapters.freshness import ChangeWatch, UseGate


def commit(path: Path, value: int) -> None:
    """One committed write by a connection of its own (as another process's)."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (v)")
        db.execute("INSERT INTO t VALUES (?)", (value,))
        db.commit()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "chroma.sqlite3"
    commit(path, 0)
    return path


def test_a_commit_by_another_connection_is_reported_once(db: Path) -> None:
    watch = ChangeWatch(db, 0.0)
    watch.mark()
    assert not watch.changed()
    commit(db, 1)
    assert watch.changed()
    assert not watch.changed()
    commit(db, 2)
    commit(db, 3)
    assert watch.changed()
    assert not watch.changed()


def test_it_looks_at_most_once_per_interval(db: Path) -> None:
    clock = Clock()
    watch = ChangeWatch(db, 1.0, clock=clock)
    watch.mark()
    commit(db, 1)
    clock.now = 0.5
    assert not watch.changed()  # not looked yet
    clock.now = 1.0
    assert watch.changed()
    commit(db, 2)
    clock.now = 1.9
    assert not watch.changed()
    clock.now = 2.0
    assert watch.changed()


def test_a_pause_defers_the_next_look_without_losing_the_change(db: Path) -> None:
    clock = Clock()
    watch = ChangeWatch(db, 1.0, clock=clock)
    watch.mark()
    watch.pause(5.0)
    commit(db, 1)
    clock.now = 4.9
    assert not watch.changed()
    clock.now = 5.0
    assert watch.changed()
    watch.pause(0.1)  # shorter than the interval: the interval holds
    commit(db, 2)
    clock.now = 5.5
    assert not watch.changed()
    clock.now = 6.0
    assert watch.changed()


def test_a_file_removed_then_made_anew_is_a_change_each_time(db: Path, tmp_path: Path) -> None:
    watch = ChangeWatch(db, 0.0)
    watch.mark()
    db.unlink()
    assert watch.changed()
    assert not watch.changed()
    commit(db, 1)  # a new file
    assert watch.changed()
    assert not watch.changed()
    other = tmp_path / "other.sqlite3"
    commit(other, 2)
    os.replace(other, db)  # replaced in one step
    assert watch.changed()
    assert not watch.changed()


def test_a_commit_that_leaves_the_content_as_it_was_is_no_change(db: Path) -> None:
    with closing(sqlite3.connect(db)) as other:
        other.execute("CREATE TABLE locks (v)")
        other.commit()
    watch = ChangeWatch(db, 0.0, content="SELECT max(v) FROM t")
    watch.mark()
    with closing(sqlite3.connect(db)) as other:  # as chromadb does on opening
        other.execute("INSERT INTO locks VALUES (1)")
        other.commit()
    assert not watch.changed()
    commit(db, 7)
    assert watch.changed()
    assert not watch.changed()


def test_a_content_query_that_fails_counts_every_commit(db: Path) -> None:
    watch = ChangeWatch(db, 0.0, content="SELECT max(v) FROM no_such_table")
    watch.mark()
    commit(db, 1)
    assert watch.changed()


def test_a_writer_holding_its_lock_delays_the_look_but_the_change_is_not_lost(db: Path) -> None:
    watch = ChangeWatch(db, 0.0)
    watch.mark()
    with closing(sqlite3.connect(db, isolation_level=None)) as writer:
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO t VALUES (1)")
        started = time.monotonic()
        assert not watch.changed()  # cannot read now, and does not wait
        assert time.monotonic() - started < 0.5
        writer.execute("COMMIT")
    assert watch.changed()


def test_a_look_leaves_no_lock_behind(db: Path) -> None:
    watch = ChangeWatch(db, 0.0)
    watch.mark()
    commit(db, 1)
    assert watch.changed()
    # The file is in rollback-journal mode (as Chroma's is): a shared lock
    # left by the watch would make this writer fail at once.
    with closing(sqlite3.connect(db, timeout=0, isolation_level=None)) as writer:
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO t VALUES (2)")
        writer.execute("COMMIT")
    assert watch.changed()
    watch.close()


def test_it_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "chroma.sqlite3"
    watch = ChangeWatch(missing, 0.0)
    watch.mark()
    assert not watch.changed()
    assert not missing.parent.exists()


def test_exclusive_waits_for_uses_and_holds_new_ones_back() -> None:
    gate = UseGate()
    events: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def first_user() -> None:
        with gate.use():
            inside.set()
            release.wait(5)
            events.append("first use ends")

    def replacer() -> None:
        with gate.exclusive():
            events.append("replaced")

    def late_user() -> None:
        with gate.use():
            events.append("late use")

    threads = [threading.Thread(target=first_user)]
    threads[0].start()
    assert inside.wait(5)
    threads.append(threading.Thread(target=replacer))
    threads[1].start()
    time.sleep(0.05)
    threads.append(threading.Thread(target=late_user))
    threads[2].start()
    time.sleep(0.05)
    assert events == []  # the replacement waits for the use, the late use for it
    release.set()
    for thread in threads:
        thread.join(5)
    assert events == ["first use ends", "replaced", "late use"]


def test_a_use_is_reentrant_and_exclusive_inside_one_refuses() -> None:
    gate = UseGate()
    assert not gate.held()
    with gate.use():
        assert gate.held()
        with gate.use():
            assert gate.held()
        assert gate.held()
        with pytest.raises(RuntimeError), gate.exclusive():
            pass
    assert not gate.held()
    with gate.exclusive():  # nothing in use: at once
        pass
