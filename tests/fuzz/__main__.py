"""``python -m tests.fuzz OUTDIR --seed N``: write a fuzz corpus, print its counts."""

from __future__ import annotations

import argparse
from pathlib import Path

from tests import fuzz
from tests.fuzz.corpus import counts_by_expect, counts_by_kind


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(fuzz.__doc__ or "").split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="folder to write the corpus into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-file-mb", type=float, default=2.0)
    args = parser.parse_args(argv)
    corpus = fuzz.generate(args.outdir, seed=args.seed, max_file_mb=args.max_file_mb)
    print(f"{len(corpus.files)} files in {corpus.folder} (links point into {corpus.outside})")
    for kind, count in counts_by_kind(corpus.files).items():
        print(f"{count:5d}  {count / len(corpus.files):6.1%}  {kind}")
    print("by expectation:", counts_by_expect(corpus.files))
    for line in corpus.not_made:
        print(f"not made: {line}")


if __name__ == "__main__":
    main()
