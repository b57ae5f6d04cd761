"""Fine-tuning the reader on labelled pairs, with checkpoints that resume.

The loss is the SQuAD 2.0 reader's: cross-entropy over where the answer starts
and ends, with the ``[CLS]`` position standing for "no answer", plus a binary
answerable loss on the ``[CLS]`` head. The word-embedding table stays frozen
(half the parameters; see ``chatbot.adapters.reader``). On a CPU with bf16
instructions the forward pass runs under bf16 autocast (2.4x faster on AMX).

A run lives in one folder: ``checkpoint.pt`` every ``checkpoint_every`` steps
(weights, optimiser, step, the shuffled order), ``train.log`` (one JSON line
per logged step) and, at the end, ``reader.safetensors``. Re-running the same
command resumes from the checkpoint, so a session that is cut off loses at
most ``checkpoint_every`` steps.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatbot.adapters.reader import WEIGHTS_FILE, build_network, encode, trained_state
from chatbot.adapters.st_embedder import resolve_model
from eval.training.near_misses import Pair

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup: float = 0.06  # share of steps with a rising learning rate
    max_length: int = 256
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 20
    bf16: bool = True  # used only where the CPU has bf16 instructions
    threads: int = 0  # torch threads; 0 = all cores
    init_from: str = ""  # a finished run's reader.safetensors to start from


@dataclass(frozen=True, slots=True)
class Feature:
    input_ids: list[int]
    token_type_ids: list[int]
    start: int  # token index of the answer's start; 0 ([CLS]) for a near miss
    end: int
    answerable: bool


def featurize(tokenizer: Any, pairs: Sequence[Pair], max_length: int) -> tuple[list[Feature], int]:
    """Token ids and answer positions; answerable pairs whose answer the
    truncation cut off are dropped (returned count)."""
    features: list[Feature] = []
    dropped = 0
    step = 512
    for first in range(0, len(pairs), step):
        chunk = pairs[first : first + step]
        encoded = encode(
            tokenizer, [p.question for p in chunk], [p.context for p in chunk], max_length
        )
        ids = encoded.tensors["input_ids"].tolist()
        types = encoded.tensors["token_type_ids"].tolist()
        mask = encoded.tensors["attention_mask"].tolist()
        for row, pair in enumerate(chunk):
            length = sum(mask[row])
            start = end = 0
            if pair.answer is not None:
                a, b = pair.answer_start, pair.answer_start + len(pair.answer)
                positions = [
                    i
                    for i, o in enumerate(encoded.offsets[row])
                    if o is not None and o[0] < b and o[1] > a
                ]
                if not positions:
                    dropped += 1
                    continue
                start, end = positions[0], positions[-1]
            features.append(
                Feature(ids[row][:length], types[row][:length], start, end, pair.answer is not None)
            )
    return features, dropped


def _batches(features: Sequence[Feature], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (less padding), in random order."""
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = size * 50
    batches: list[list[int]] = []
    for first in range(0, len(order), pool):
        block = sorted(order[first : first + pool], key=lambda i: len(features[i].input_ids))
        batches.extend(block[i : i + size] for i in range(0, len(block), size))
    rng.shuffle(batches)
    return batches


def _collate(features: Sequence[Feature], rows: Sequence[int]) -> dict[str, Any]:
    import torch

    width = max(len(features[i].input_ids) for i in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    passage = torch.zeros((len(rows), width), dtype=torch.bool)
    for r, i in enumerate(rows):
        f = features[i]
        n = len(f.input_ids)
        ids[r, :n] = torch.tensor(f.input_ids)
        types[r, :n] = torch.tensor(f.token_type_ids)
        mask[r, :n] = 1
        passage[r, :n] = torch.tensor(f.token_type_ids, dtype=torch.bool)
    passage[:, 0] = True  # [CLS] stands for "no answer"
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": types,
        "allowed": passage,
        "start": torch.tensor([features[i].start for i in rows]),
        "end": torch.tensor([features[i].end for i in rows]),
        "answerable": torch.tensor([float(features[i].answerable) for i in rows]),
    }


def train(features: Sequence[Feature], out: Path, config: TrainConfig, use_bf16: bool) -> Path:
    """Fine-tune on ``features``, resuming from ``out/checkpoint.pt``; returns
    the path of the finished ``reader.safetensors``."""
    import torch
    from safetensors.torch import load_file, save_file

    if config.threads:
        torch.set_num_threads(config.threads)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    network = build_network(resolve_model("all-MiniLM-L6-v2")[0])
    if config.init_from:
        state = {k: v.float() for k, v in load_file(config.init_from).items()}
        network.load_state_dict(state, strict=False)
    network.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    parameters = [p for p in network.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.01)
    rng = random.Random(config.seed)
    epochs = max(1, math.ceil(config.epochs))
    plan = [b for _ in range(epochs) for b in _batches(features, config.batch_size, rng)]
    plan = plan[: max(1, int(len(plan) * config.epochs / epochs))]
    total = len(plan)
    warmup = max(1, int(total * config.warmup))

    def rate(step: int) -> float:
        return step / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    step = 0
    checkpoint = out / "checkpoint.pt"
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        if saved["config"] != asdict(config) or saved["total"] != total:
            raise RuntimeError(f"{checkpoint} is from another configuration; delete {out}")
        network.load_state_dict(saved["model"], strict=False)
        optimiser.load_state_dict(saved["optimiser"])
        scheduler.load_state_dict(saved["scheduler"])
        step = int(saved["step"])
        log.info("resuming at step %d of %d", step, total)
    network.train()
    started = time.perf_counter()
    logfile = (out / "train.log").open("a", encoding="utf-8")
    losses: list[float] = []
    while step < total:
        batch = _collate(features, plan[step])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            starts, ends, answerable = network(
                batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
            )
        blocked = ~batch["allowed"]
        starts = starts.float().masked_fill(blocked, -1e4)
        ends = ends.float().masked_fill(blocked, -1e4)
        loss = (
            torch.nn.functional.cross_entropy(starts, batch["start"])
            + torch.nn.functional.cross_entropy(ends, batch["end"])
        ) / 2
        loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(
            answerable.float(), batch["answerable"]
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        scheduler.step()
        optimiser.zero_grad(set_to_none=True)
        step += 1
        losses.append(float(loss.detach()))
        if step % config.log_every == 0 or step == total:
            elapsed = time.perf_counter() - started
            record = {
                "step": step,
                "total": total,
                "loss": sum(losses) / len(losses),
                "lr": scheduler.get_last_lr()[0],
                "elapsed_s": round(elapsed, 1),
            }
            logfile.write(json.dumps(record) + "\n")
            logfile.flush()
            log.info("step %d/%d loss %.4f (%.1f s)", step, total, record["loss"], elapsed)
            losses.clear()
        if step % config.checkpoint_every == 0 and step < total:
            torch.save(
                {
                    "model": {
                        k: v
                        for k, v in network.state_dict().items()
                        if k != "encoder.embeddings.word_embeddings.weight"
                    },
                    "optimiser": optimiser.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "total": total,
                    "config": asdict(config),
                },
                checkpoint,
            )
    logfile.close()
    network.eval()
    weights = out / WEIGHTS_FILE
    save_file(trained_state(network), str(weights))
    checkpoint.unlink(missing_ok=True)
    return weights
