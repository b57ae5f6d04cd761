"""How long the answerability reader takes per question, next to retrieval.

For a seeded sample of the SQuAD 2.0 *test* half, each question goes through
the real retrieval and gate (no LLM); the gate-passing ones are then read by
the shipped reader against the passages they would be shown. Both are timed
in the same run, with the same torch thread count the app answers with
(CHATBOT_EMBEDDER__ANSWER_THREADS, 1 by default), so the ratio says what the
reader adds to the no-LLM part of an answer. Also timed: loading the reader
(torch already imported, as it is in the app).

    python benchmarks/reader_latency.py --limit 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200, help="questions sampled (seed 0)")
    parser.add_argument("--index-cache", type=Path, default=Path("runs/.index-cache"))
    args = parser.parse_args()

    from chatbot.adapters.reader import PACKAGED_READER, TransformerReader
    from chatbot.compose import Stores, build_embedder, build_examiner, limit_answering_threads
    from chatbot.llm.cpu import detect
    from chatbot.settings import Settings
    from eval.indexing import build_context_index
    from eval.loaders import SQUAD2_PATH, load_squad2

    if not SQUAD2_PATH.is_file():
        print(f"skipped: {SQUAD2_PATH} is not here")
        return 0
    import torch

    settings = Settings()
    limit_answering_threads(settings)
    eval_set = load_squad2(SQUAD2_PATH, args.limit, 0, split="test")
    embedder = build_embedder(settings)
    index = build_context_index(eval_set, settings, embedder, args.index_cache)
    stores = Stores(embedder, index.vectors, index.keywords)
    # the reader is timed on its own, below
    pipeline = build_examiner(settings, stores, index_path=index.folder)
    started = time.perf_counter()
    reader = TransformerReader(PACKAGED_READER)
    assert reader.info  # loads weights, checksum, tokenizer
    load_s = time.perf_counter() - started
    pipeline.examine(eval_set.items[0].question)  # warm both once
    reader.read(eval_set.items[0].question, pipeline.examine(eval_set.items[0].question).shown)

    examine_s: list[float] = []
    read_s: list[float] = []
    passages: list[int] = []
    for item in eval_set.items:
        t0 = time.perf_counter()
        found = pipeline.examine(item.question)
        examine_s.append(time.perf_counter() - t0)
        if found.refusal is not None or not found.shown:
            continue
        t0 = time.perf_counter()
        reader.read(item.question, found.shown)
        read_s.append(time.perf_counter() - t0)
        passages.append(len(found.shown))

    print(f"machine: {detect().describe()}; torch threads {torch.get_num_threads()}")
    print(
        f"questions {len(eval_set.items)}, read (gate passed) {len(read_s)}, "
        f"passages per read {statistics.mean(passages):.2f}"
    )
    print(f"reader load (torch imported): {load_s * 1000:.0f} ms")
    print(f"{'step':28} {'p50 ms':>8} {'p95 ms':>8}")
    for name, values in (("retrieve + gate (baseline)", examine_s), ("reader", read_s)):
        print(
            f"{name:28} {percentile(values, 0.5) * 1000:8.1f} "
            f"{percentile(values, 0.95) * 1000:8.1f}"
        )
    ratio = percentile(read_s, 0.95) / percentile(examine_s, 0.95)
    print(f"reader p95 / retrieve+gate p95: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
