"""Run metadata: what was evaluated, with what, when, and from which commit.

``run.json`` in the output folder records the dataset and sampling, the
system, the model and embedder, the settings that shape outcomes (gate
thresholds, retrieval, generation, chunking) and the git commit. It is
written when a run starts and updated when it ends; a resumed run adds a
session. Resuming is only allowed with the same *fingerprint* (dataset,
sampling, system, model and settings): mixing outcomes produced under
different settings in one report would make its numbers meaningless.
"""

from __future__ import annotations

import copy
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatbot.errors import ConfigurationError
from chatbot.settings import Settings

RUN_FILE = "run.json"
REPO_ROOT = Path(__file__).resolve().parents[1]

FINGERPRINT_KEYS = ("dataset", "data_path", "limit", "seed", "options", "system", "model")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The checked-out commit and whether the tree has local changes (None
    when this is not a git checkout or git is missing)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """The settings that shape outcomes; never secrets."""
    llm = settings.llm
    return {
        "gate": settings.gate.model_dump(mode="json"),
        "retrieval": settings.retrieval.model_dump(mode="json"),
        "llm": {
            "mode": llm.mode,
            "base_url": llm.base_url if llm.mode == "remote" else "(embedded)",
            "temperature": llm.temperature,
            "seed": llm.seed,
            "max_tokens": llm.max_tokens,
        },
        "embedder": settings.embedder.model,
        "chunking": {
            "chunk_tokens": settings.ingest.chunk_tokens,
            "chunk_overlap": settings.ingest.chunk_overlap,
        },
        "max_question_chars": settings.max_question_chars,
    }


def fingerprint(meta: dict[str, Any]) -> dict[str, Any]:
    """What must match for a run to be resumed into the same folder."""
    snapshot = copy.deepcopy(meta.get("settings") or {})
    snapshot.get("llm", {}).pop("base_url", None)  # the server may move; the model may not
    return {**{k: meta.get(k) for k in FINGERPRINT_KEYS}, "settings": snapshot}


def read_meta(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / RUN_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not a run description; use another --out folder")
    return data


def write_meta(out_dir: Path, meta: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out_dir / RUN_FILE)


def start_session(out_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Merge ``meta`` with the folder's earlier run (refusing a mismatch) and
    open a new session; returns the metadata to keep updating."""
    earlier = read_meta(out_dir)
    if earlier is not None:
        before, after = fingerprint(earlier), fingerprint(meta)
        if before != after:
            changed = sorted(k for k in after if before.get(k) != after.get(k))
            raise ConfigurationError(
                f"{out_dir} holds a run with different {', '.join(changed)}; resume it with "
                "the same options and settings, or choose another --out folder"
            )
        meta = {**meta, "sessions": list(earlier.get("sessions", []))}
    else:
        meta = {**meta, "sessions": []}
    meta["sessions"].append({"started_at": now(), "ended_at": None, "wall_s": None, "asked": 0})
    write_meta(out_dir, meta)
    return meta


def end_session(out_dir: Path, meta: dict[str, Any], wall_s: float, asked: int | None) -> None:
    """Close the current session; ``asked`` is None when the run was interrupted."""
    meta["sessions"][-1].update({"ended_at": now(), "wall_s": wall_s, "asked": asked})
    write_meta(out_dir, meta)


def timing(meta: dict[str, Any]) -> dict[str, Any]:
    """Start of the first session, end of the last, and seconds spent in all."""
    sessions = meta.get("sessions") or []
    walls = [s["wall_s"] for s in sessions if s.get("wall_s") is not None]
    return {
        "started_at": sessions[0]["started_at"] if sessions else None,
        "ended_at": sessions[-1]["ended_at"] if sessions else None,
        "wall_s": sum(walls) if walls else None,
        "sessions": len(sessions),
    }
