"""What a Chroma collection holds, read cheaply for ``chatbot-ingest --check``
(``VectorInventory``): every chunk id with the groups of its access label,
and a proof that the collection's vectors can be searched. No text is read,
and the labels are read per distinct label rather than per chunk.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from chatbot.adapters.chroma_session import ChromaSession
from chatbot.domain import groups_from_label
from chatbot.errors import BoundaryError

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

_PROBE = 64  # ids whose labels one round of ``read_labels`` reads
_ABSENT = object()


def stored_ids(
    session: ChromaSession, col: Collection, where: dict[str, Any] | None = None
) -> list[str]:
    """Every id in ``col`` (matching ``where``), paged: no metadata, text or
    vector is read (0.3 s for 100k ids)."""
    step = session.max_batch()
    found: list[str] = []
    while True:
        page = session.errors.call(
            "read from", col.get, where=where, limit=step, offset=len(found), include=[]
        )
        found.extend(page["ids"])
        if len(page["ids"]) < step:
            return found


def read_labels(session: ChromaSession, col: Collection) -> dict[str, tuple[str, ...]]:
    """The groups of every chunk's label in ``col``, and a proof that its
    vectors can be searched.

    Reading every metadata takes 13 s for 100k chunks (measured,
    ``get(include=["metadatas"])`` in pages), but a corpus has few distinct
    labels: read the labels of a few unlabelled ids, then fetch every id
    carrying each new label with a ``where`` filter and no payload (0.3 s
    per 20k). A round labels at least the ids it read, so this ends even
    when every chunk has its own label.
    """
    unlabelled = dict.fromkeys(stored_ids(session, col))
    labels: dict[str, tuple[str, ...]] = {}
    swept: set[str] = set()
    while unlabelled:
        probe = list(itertools.islice(unlabelled, _PROBE))
        read = session.errors.call("read from", col.get, ids=probe, include=["metadatas"])
        fresh: set[str] = set()
        for chunk_id, meta in zip(read["ids"], read.get("metadatas") or [], strict=True):
            raw = (meta or {}).get("acl")
            labels[chunk_id] = groups_from_label(raw)
            if isinstance(raw, str) and raw not in swept:
                fresh.add(raw)
        for chunk_id in probe:  # read, or deleted since it was listed
            unlabelled.pop(chunk_id, None)
        for raw in sorted(fresh):
            swept.add(raw)
            for chunk_id in stored_ids(session, col, where={"acl": raw}):
                if unlabelled.pop(chunk_id, _ABSENT) is not _ABSENT:
                    labels[chunk_id] = groups_from_label(raw)
    if labels:
        _search_once(session, col, next(iter(labels)))
    return labels


def _search_once(session: ChromaSession, col: Collection, chunk_id: str) -> None:
    """Search ``col`` with one of its own vectors: proves its vector index
    loads and answers (listing ids reads only the metadata store)."""
    call = session.errors.call
    stored = call("read from", col.get, ids=[chunk_id], include=["embeddings"])
    vectors = stored.get("embeddings")
    if vectors is None or len(vectors) == 0:
        return  # deleted since it was listed
    found = call(
        "search",
        col.query,
        query_embeddings=[list(map(float, vectors[0]))],
        n_results=1,
        include=[],
    )
    if not found["ids"] or not found["ids"][0]:
        raise BoundaryError(
            f"{session.describe()}: collection '{col.name}' holds chunks but a search "
            "finds none (its vector index is damaged): run `chatbot-ingest --rebuild`."
        )
