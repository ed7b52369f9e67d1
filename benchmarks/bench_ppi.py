"""How far the judge alone misses people's rate, and what a few human labels buy with PPI.

On AttributionBench dev (1,198 answers with a person's label: 599 supported), the offline judge
scores faithfulness for every answer; the benchmark draws `--labels` of them at random as the
"labelled" set, many times, and reports for each estimate how often its 95% interval holds the
true rate (0.500) and its median width:
- the judge alone (bootstrap-free normal interval of its mean over all 1,198),
- the labels alone (the classical interval of their mean),
- PPI (lam = 1) and PPI++ (lam tuned), which use both.
Then the same on a simulation with a known biased judge (90% of good and 50% of bad answers
called supported), where the rate is 0.70.
Usage: python benchmarks/bench_ppi.py [--labels 100] [--draws 1000]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from evalkit.analysis.ppi import ppi_mean_ci
from evalkit.judges.calibration import load_labels
from evalkit.judges.offline import OfflineJudge

LABELS = Path(__file__).resolve().parents[1] / "suites" / "data" / "attributionbench" / "dev.jsonl.gz"


def coverage(human: np.ndarray, judge: np.ndarray, n: int, draws: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """(share of draws whose 95% interval holds the true rate, median width) per estimator."""
    rng = np.random.default_rng(seed)
    truth = human.mean()
    hits: dict[str, list[tuple[bool, float]]] = {"judge alone": [], "labels alone": [], "PPI": [], "PPI++": []}
    half = 1.96 * judge.std() / math.sqrt(len(judge))
    for _ in range(draws):
        order = rng.permutation(len(human))
        labelled, rest = order[:n], order[n:]
        hits["judge alone"].append((abs(judge.mean() - truth) <= half, 2 * half))
        for name, lam in (("labels alone", 0.0), ("PPI", 1.0), ("PPI++", None)):
            _, low, high, _ = ppi_mean_ci(human[labelled], judge[labelled], judge[rest], lam=lam)
            hits[name].append((low <= truth <= high, high - low))
    return {name: (sum(h for h, _ in rows) / draws, float(np.median([w for _, w in rows])))
            for name, rows in hits.items()}


def report(title: str, human: np.ndarray, judge: np.ndarray, n: int, draws: int) -> None:
    print(f"{title}: people's rate {human.mean():.3f}, the judge's mean {judge.mean():.3f}; "
          f"{n} of {len(human)} labelled, {draws} draws")
    for name, (covered, width) in coverage(human, judge, n, draws).items():
        print(f"  {name:<13} 95% interval holds the true rate in {covered:6.1%} of draws; median width {width:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    rows = load_labels(LABELS)
    judge = OfflineJudge()
    scores = [judge.judge(r.answer, r.passages(), r.question).score for r in rows]
    keep = [i for i, s in enumerate(scores) if not math.isnan(s)]  # an answer with no claim has no score
    human = np.array([rows[i].label for i in keep], dtype=float)
    report("AttributionBench dev, offline judge (faithfulness)", human, np.array([scores[i] for i in keep]),
           args.labels, args.draws)
    rng = np.random.default_rng(1)
    simulated = (rng.random(1000) < 0.7).astype(float)
    biased = np.where(simulated == 1, rng.random(1000) < 0.9, rng.random(1000) < 0.5).astype(float)
    report("simulated biased judge", simulated, biased, args.labels, args.draws)


if __name__ == "__main__":
    main()
