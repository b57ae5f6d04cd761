"""Throw-away local servers for tests and benchmarks: a Chroma server
(``chroma run``) and a PostgreSQL server (``initdb`` into a temporary
folder, ``pg_ctl start``), each on a free loopback port and stopped at the
end. Nothing is installed or left running; the bank's own servers are
configured with ``CHATBOT_INDEX__CHROMA_HOST`` and
``CHATBOT_INDEX__POSTGRES_URL`` instead.

PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` account the Debian package creates (``runuser``), in a folder
that account owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eval.load import free_port

__all__ = ["PostgresMissing", "ServerMissing", "chroma_server", "find_postgres", "postgres_server"]


class ServerMissing(RuntimeError):
    """A server's program is not installed in this environment."""


@contextmanager
def chroma_server(folder: Path) -> Iterator[tuple[str, int, int]]:
    """A real Chroma server with its data and log in ``folder``; yields
    (host, port, pid). Raises ``ServerMissing`` without the ``chroma`` CLI."""
    exe = Path(sys.executable).parent / "chroma"
    if not exe.exists():
        raise ServerMissing("the chroma CLI is not installed in this environment")
    port = free_port()
    command = [str(exe), "run", "--path", str(folder / "data"), "--host", "127.0.0.1"]
    with (folder / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "chroma server did not start: see " + str(folder / "server.log")
                    ) from None
                time.sleep(0.1)
        yield "127.0.0.1", port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class PostgresMissing(ServerMissing):
    """No PostgreSQL server binaries on this machine."""


def find_postgres() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: the newest
    Debian ``/usr/lib/postgresql/<v>/bin``, else wherever ``pg_ctl`` is on PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresMissing(
        "PostgreSQL server binaries not found: install them with "
        "`apt-get install postgresql` (Debian/Ubuntu), or point CHATBOT_INDEX__POSTGRES_URL "
        "at an existing server"
    )


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server(*, database: str = "boundary") -> Iterator[str]:
    """Start a private PostgreSQL and yield its URL
    (``postgresql://boundary@127.0.0.1:<port>/<database>``, trust auth on
    loopback only). Raises ``PostgresMissing`` without the binaries."""
    bindir = find_postgres()
    root = Path(tempfile.mkdtemp(prefix="boundary-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    port = free_port()
    log = root / "server.log"

    def run(command: list[str]) -> None:
        result = subprocess.run(
            _as_server_user(command), capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )

    started = False
    try:
        run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "boundary",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c max_connections=200 -c shared_buffers=256MB"
        )
        run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"])
        started = True
        url = f"postgresql://boundary@127.0.0.1:{port}"
        run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "boundary",
                database,
            ]
        )
        yield f"{url}/{database}"
    finally:
        if started:
            subprocess.run(
                _as_server_user(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                timeout=60,
            )
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
