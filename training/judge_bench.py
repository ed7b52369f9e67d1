"""The judge benchmark: fit offline-v7 and v8 on train rows, choose each one's design on dev rows,
then measure every offline judge version on every source's test rows. `nox -s judge-bench`.

    python -m training.judge_bench            fit v7 and v8, write their weights and records, print the table
    python -m training.judge_bench --measure-only    keep the shipped weights; measure and print only

Sources and splits: training/judge_data.py. Nothing here reads a test row before the designs and
their thresholds are fixed; the test figures are computed once and written to docs/judge-benchmark.md.

offline-v7 and v8 are each two logistic models, one for short answers and one for sentences, over
the measures of their DESIGNS: v7 reads offline-v2's lexical measures and where the claim stands in
the evidence (evalkit.judges.span); v8 adds offline-v4's measures by meaning (evalkit.judges.semantic).
Each model is fitted on the train rows of its sources, with each source weighing the same, and within
a source each length bin weighing both labels the same (HaluEval's right answers are short spans and
its hallucinated ones sentences: unweighted, a model learns the length). Each model's threshold is
the one that maximises the mean macro-F1 over the dev sources that have at least MIN_DEV rows of
each label in that shape. For each shape, the candidate models (SETTINGS x the design's training
sources) are compared by that same mean dev macro-F1, and the best one ships.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalkit.analysis.agreement import confusion, macro_f1
from evalkit.core.records import Passage
from evalkit.judges.calibration import graded, judge_rows, with_ci
from evalkit.judges.features import FEATURES as LEXICAL_FEATURES
from evalkit.judges.offline import (
    SPAN,
    SPAN_SEMANTIC,
    ByShape,
    OfflineJudge,
    Weights,
    claims_of,
    measure,
    short_index,
)
from evalkit.judges.spec import shipped_file
from training.judge_data import DEFAULT_CACHE, ROOT, Example, all_sources

LENGTH_BINS = (1, 2, 3, 4, 6, 9, 14)  # upper word counts; longer answers form the last bin
MIN_DEV = 30
# each shape's model: its degree and inverse regularisation C; every pair is a candidate compared on dev rows
SETTINGS = ((1, 0.1), (2, 0.01), (2, 0.1))
ALL_SOURCES = ("attributionbench", "halueval-qa", "squad2")


@dataclass(frozen=True)
class Design:
    """What one version's models read, and which sources' train rows each shape's candidates learn from."""

    features: tuple[str, ...]
    trained_on: dict[str, tuple[tuple[str, ...], ...]]

    def columns(self) -> list[int]:
        """Where this design's measures stand among the measures claim_table keeps (SPAN_SEMANTIC)."""
        return [SPAN_SEMANTIC.index(name) for name in self.features]


SENTENCE_SOURCES = (ALL_SOURCES, ("attributionbench",))
DESIGNS = {"offline-v7": Design(SPAN, {"short": (ALL_SOURCES,), "sentence": SENTENCE_SOURCES}),
           "offline-v8": Design(SPAN_SEMANTIC, {"short": (ALL_SOURCES, ("halueval-qa", "squad2")),
                                                "sentence": SENTENCE_SOURCES})}
VERSIONS = ("offline-v2", "offline-v4", "offline-v6", *DESIGNS)
REFIT_V2 = "offline-v2 design, refitted on train rows"
# which shipped versions were fitted on rows that the benchmark's test splits hold
TRAINED_ON_TEST = {"offline-v2": {"attributionbench"}, "offline-v4": {"attributionbench"},
                   "offline-v6": {"attributionbench"}}


def passages(example: Example) -> list[Passage]:
    return [Passage(doc_id=f"context-{i}", text=text, rank=i + 1) for i, text in enumerate(example.contexts)]


def length_bin(answer: str) -> int:
    words = len(answer.split())
    return next((i for i, top in enumerate(LENGTH_BINS) if words <= top), len(LENGTH_BINS))


def claim_table(examples: list[Example]) -> list[list[list[float]]]:
    """Every example's claims, measured as offline-v8 measures them (v7's measures are a subset)."""
    return [[m.values for m in measure(claims_of(e.answer), passages(e), e.question, semantic=True, span=True)[2]]
            for e in examples]


def training_rows(examples: list[Example], claims: list[list[list[float]]], short: bool,
                  sources: tuple[str, ...], short_at: int) -> tuple[Any, Any, Any]:
    """Features, labels and weights of the train claims of one shape (short_at: where a claim's
    measures say it is short): sources weigh the same, and within a source both labels weigh the
    same in every length bin (a bin with one label is left out)."""
    import numpy as np

    chosen = [(e, v, len(c)) for e, c in zip(examples, claims, strict=True) if e.split == "train"
              and e.source in sources for v in c if bool(v[short_at]) == short]
    counts = Counter((e.source, length_bin(e.answer), e.label) for e, _, _ in chosen)
    usable = {(s, b) for s, b, _ in counts if counts[(s, b, 0)] and counts[(s, b, 1)]}
    per_source = Counter()
    for (source, b) in usable:
        per_source[source] += counts[(source, b, 0)] + counts[(source, b, 1)]
    features, labels, weights = [], [], []
    for example, values, n_claims in chosen:
        key = (example.source, length_bin(example.answer))
        if key not in usable:
            continue
        in_bin = counts[(*key, 0)] + counts[(*key, 1)]
        weight = in_bin / 2 / counts[(*key, example.label)] / per_source[example.source] / n_claims
        features.append(values)
        labels.append(example.label)
        weights.append(weight)
    weights_array = np.array(weights)
    return np.array(features), np.array(labels), weights_array / weights_array.mean()


def fit(features: Any, labels: Any, weights: Any, degree: int, c: float, names: tuple[str, ...]) -> Weights:
    """A logistic model over standardised features (and their pairwise products for degree 2)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = (features - scaler.mean_) / scale
    expanded = PolynomialFeatures(degree, include_bias=False).fit_transform(z)
    second = StandardScaler().fit(expanded)
    second_scale = np.where(second.scale_ > 0, second.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=20000).fit((expanded - second.mean_) / second_scale, labels,
                                                        sample_weight=weights)
    coef = model.coef_[0] / second_scale  # the second standardisation folded into the weights
    intercept = float(model.intercept_[0] - coef @ second.mean_)
    return Weights(tuple(float(m) for m in scaler.mean_), tuple(float(s) for s in scale),
                   tuple(float(x) for x in coef), intercept, 0.5, names, degree)


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def choose_threshold(examples: list[Example], claims: list[list[list[float]]], weights: Weights,
                     short: bool) -> tuple[float, float]:
    """The logit threshold for one shape that maximises the mean dev macro-F1 over the sources with
    at least MIN_DEV dev rows of each label whose claims are all of that shape, and that mean."""
    import numpy as np

    short_at = short_index(weights.features)

    by_source: dict[str, tuple[list[int], list[float]]] = {}
    for example, values in zip(examples, claims, strict=True):
        if example.split != "dev" or not values or any(bool(v[short_at]) != short for v in values):
            continue
        labels, scores = by_source.setdefault(example.source, ([], []))
        labels.append(example.label)
        scores.append(min(_logit(weights.probability(v)) for v in values))
    usable = [(np.array(y), np.array(s)) for y, s in by_source.values()
              if min(y.count(0), y.count(1)) >= MIN_DEV]
    if not usable:
        return 0.0, 0.0
    grid = np.linspace(-4, 4, 161)
    means = [np.mean([macro_f1(*confusion(y, s >= t)) for y, s in usable]) for t in grid]
    best = int(np.argmax(means))
    return float(grid[best]), float(means[best])


def choose_shape_model(examples: list[Example], claims: list[list[list[float]]], shape: str, design: Design
                       ) -> tuple[Weights, dict[str, Any]]:
    """Each candidate model for one answer shape (SETTINGS x the design's sources), fitted on train rows and
    thresholded on dev rows; the one with the best mean dev macro-F1 on rows of that shape wins.
    Its threshold is folded into the intercept, so a claim is supported at 0.5."""
    short = shape == "short"
    tried: dict[str, Any] = {}
    best: tuple[float, Weights | None, str] = (-1.0, None, "")
    short_at = short_index(design.features)
    for sources in design.trained_on[shape]:
        for degree, c in SETTINGS:
            name = f"degree {degree}, C {c}, trained on {'+'.join(sources)}"
            weights = fit(*training_rows(examples, claims, short, sources, short_at), degree, c, design.features)
            threshold, dev_f1 = choose_threshold(examples, claims, weights, short)
            tried[name] = {"dev_macro_f1": round(dev_f1, 4), "threshold_logit": threshold}
            print(f"  {shape}: {name}: mean dev macro-F1 {dev_f1:.3f}", flush=True)
            if dev_f1 > best[0]:
                best = (dev_f1, replace(weights, intercept=weights.intercept - threshold), name)
    assert best[1] is not None
    return best[1], {"chosen": best[2], "tried": tried}


def refit_v2(examples: list[Example], claims: list[list[list[float]]]) -> OfflineJudge:
    """offline-v2's design (its lexical measures, one linear model, AttributionBench only) fitted on
    AttributionBench's train rows alone, its threshold chosen on the dev rows: what v2 gives on test
    rows it never saw, since the shipped v2 was fitted on all of AttributionBench dev."""
    import numpy as np

    lexical = len(LEXICAL_FEATURES)
    rows = [(e, c) for e, c in zip(examples, claims, strict=True) if e.source == "attributionbench" and c]
    train = [(v[:lexical], e.label, 1 / len(c)) for e, c in rows if e.split == "train" for v in c]
    features, labels, weights = (np.array(column) for column in zip(*train, strict=True))
    fitted = fit(features, labels, weights, 1, 0.1, LEXICAL_FEATURES)
    dev = [(e.label, min(fitted.probability(v[:lexical]) for v in c)) for e, c in rows if e.split == "dev"]
    y, scores = np.array([d[0] for d in dev]), np.array([d[1] for d in dev])
    grid = np.linspace(0.05, 0.95, 91)
    threshold = float(grid[int(np.argmax([macro_f1(*confusion(y, scores >= t)) for t in grid]))])
    return OfflineJudge(replace(fitted, threshold=threshold), REFIT_V2)


def judge_figures(judge: OfflineJudge, rows: list[Example]) -> dict[str, Any]:
    """macro-F1 and AUROC (bootstrap 95% CIs) of a judge on rows, and its seconds per claim."""
    from evalkit.judges.calibration import LabelledRow

    labelled = [LabelledRow(e.answer, list(e.contexts), e.label, e.question, e.source) for e in rows]
    started = time.perf_counter()
    verdicts = asyncio.run(judge_rows(judge, labelled))
    seconds = time.perf_counter() - started
    claims = sum(max(1, len(v.claims)) for v in verdicts)
    predicted = [int(v.score == 1.0) for v in verdicts]
    figures = with_ci([e.label for e in rows], predicted, [graded(v) for v in verdicts])
    return {"n": len(rows), "macro_f1": figures["macro_f1"], "auroc": figures["auroc"],
            "ms_per_claim": round(1000 * seconds / claims, 2)}


def views(examples: list[Example], split: str) -> dict[str, list[Example]]:
    """Each source's rows of a split, and the length-matched view of each short-answer source."""
    found: dict[str, list[Example]] = {}
    for example in examples:
        if example.split == split:
            found.setdefault(example.source, []).append(example)
            if example.source == "halueval-qa" and example.length_matched:
                found.setdefault("halueval-qa, length-matched", []).append(example)
    return found


def shipped_judge(version: str) -> OfflineJudge:
    from evalkit.judges.factory import shipped_scorer

    return OfflineJudge(shipped_scorer(version), version)


def mean_dev_f1(judge: OfflineJudge, examples: list[Example]) -> tuple[float, dict[str, float]]:
    per_view = {name: judge_figures(judge, rows)["macro_f1"]["value"]
                for name, rows in views(examples, "dev").items()}
    return sum(per_view.values()) / len(per_view), per_view


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    names = list(next(iter(results.values())))
    lines = ["| judge | " + " | ".join(names) + " | ms per claim |",
             "| --- | " + " | ".join("---" for _ in names) + " | --- |"]
    for version, by_view in results.items():
        cells = []
        for name in names:
            f = by_view[name]
            mark = " *" if name.split(",")[0] in TRAINED_ON_TEST.get(version, set()) else ""
            cells.append(f"{f['macro_f1']['value']:.3f} [{f['macro_f1']['ci_low']:.2f}, {f['macro_f1']['ci_high']:.2f}]"
                         f" / {f['auroc']['value']:.3f}{mark}")
        speed = sorted(f["ms_per_claim"] for f in by_view.values())[len(by_view) // 2]
        lines.append(f"| {version} | " + " | ".join(cells) + f" | {speed:.1f} |")
    return "\n".join(lines)


def fit_design(examples: list[Example], claims: list[list[list[float]]], version: str
               ) -> tuple[ByShape, dict[str, Any]]:
    """One version's two models, each chosen on dev rows; its weights file is written."""
    design = DESIGNS[version]
    columns = design.columns()
    projected = [[[values[i] for i in columns] for values in c] for c in claims]
    notes: dict[str, Any] = {}
    print(f"{version}:", flush=True)
    short, notes["short"] = choose_shape_model(examples, projected, "short", design)
    sentence, notes["sentence"] = choose_shape_model(examples, projected, "sentence", design)
    chosen = ByShape(short, sentence)
    weights_file = Path(str(shipped_file(f"{version}.weights.json")))
    weights_file.write_text(json.dumps(chosen.as_dict(), indent=2) + "\n", encoding="utf-8")
    return chosen, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure-only", action="store_true", help="keep the shipped offline-v7 and v8 weights")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the HaluEval files are kept")
    parser.add_argument("--versions", default=",".join(VERSIONS), help="the judge versions to measure")
    parser.add_argument("--dev-only", action="store_true", help="fit and print the dev figures; read no test row")
    args = parser.parse_args()
    started = time.perf_counter()
    examples = all_sources(args.cache)
    counts = Counter((e.source, e.split) for e in examples)
    print("rows:", ", ".join(f"{s} {split} {n}" for (s, split), n in sorted(counts.items())), flush=True)
    claims = claim_table(examples)
    fitted = {} if args.measure_only else {version: fit_design(examples, claims, version) for version in DESIGNS}
    judges = {version: OfflineJudge(fitted[version][0], version) if version in fitted else shipped_judge(version)
              for version in args.versions.split(",")}
    judges[REFIT_V2] = refit_v2(examples, claims)
    design_notes = {version: notes for version, (_, notes) in fitted.items()}
    for version, notes in design_notes.items():
        notes["dev"] = mean_dev_f1(OfflineJudge(fitted[version][0], version), examples)[1]
        print(f"{version} chosen on dev: short {notes['short']['chosen']}; sentence {notes['sentence']['chosen']}"
              f"; dev macro-F1 {notes['dev']}", flush=True)
    if design_notes:
        print(f"{REFIT_V2}: dev macro-F1 {mean_dev_f1(judges[REFIT_V2], examples)[1]}", flush=True)
    if args.dev_only:
        return
    test = views(examples, "test")
    results = {}
    for version, judge in judges.items():
        results[version] = {name: judge_figures(judge, rows) for name, rows in test.items()}
        print(f"{version}: " + ", ".join(f"{name} {f['macro_f1']['value']:.3f}/{f['auroc']['value']:.3f}"
                                         for name, f in results[version].items()), flush=True)
    designs = {}
    for version in DESIGNS:
        record_path = Path(str(shipped_file(f"{version}.json")))
        record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
        if version in design_notes:
            record["design"] = design_notes[version]
        if version in results:
            record.update({"judge": version, "data": "judge benchmark test splits (training/judge_data.py)",
                           "by_source": results[version], "by_shape": by_shape(results[version])})
            record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        designs[version] = record.get("design", {})
    bench_file = ROOT / "docs" / "judge-benchmark.json"  # versions not measured this time keep their figures
    kept = json.loads(bench_file.read_text(encoding="utf-8")) if bench_file.is_file() else {}
    results = {version: results.get(version, kept.get(version)) for version in (*VERSIONS, REFIT_V2)
               if version in results or version in kept}
    bench_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (ROOT / "docs" / "judge-benchmark.md").write_text(page(results, designs), encoding="utf-8")
    print()
    print(table(results))
    print(f"\n(done in {time.perf_counter() - started:.0f} s)")


def page(results: dict[str, dict[str, dict[str, Any]]], designs: dict[str, dict[str, Any]]) -> str:
    """docs/judge-benchmark.md: the table and how it was made (written by this script, not by hand)."""
    counts = {name: figures["n"] for name, figures in next(iter(results.values())).items()}
    chosen = "".join(f"- {version}, {shape}: {design[shape]['chosen']} (mean dev macro-F1 "
                     f"{design[shape]['tried'][design[shape]['chosen']]['dev_macro_f1']:.3f})\n"
                     for version, design in designs.items() for shape in ("short", "sentence") if shape in design)
    return f"""# The judge benchmark

Written by `nox -s judge-bench` (training/judge_bench.py); do not edit by hand. Every offline judge
version on every source's **test** rows: macro-F1 [95% bootstrap CI] / AUROC. How the rows are
split: training/judge_data.py. Test rows: {", ".join(f"{name} {n:,}" for name, n in counts.items())}.

{table(results)}

- `*`: that version was fitted on these rows (offline-v2, v4 and v6 on all of AttributionBench dev),
  so its figure there is in-sample and optimistic. The refitted row is offline-v2's design fitted on
  AttributionBench's train rows only: what v2 gives on rows it never saw.
- "length-matched": the HaluEval QA test rows whose hallucinated answer has at most 4 words, so
  that a judge cannot win by answer length (its right answers are short spans).
- ms per claim: the median over the sources of this run's wall time per claim, one process, no
  cache warm; compare versions within one run only (benchmarks/bench_judge.py measures speed).

offline-v7 (the default, `features: span`) and offline-v8 (`features: span-semantic`) were fitted on
train rows and chosen on dev rows, one model per answer shape (why v8 is not the default:
docs/calibration.md):
{chosen}"""


def by_shape(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a report says of the judge's validity for an answer shape: the test figures of the
    sources whose answers have that shape (short answers: SQuAD and HaluEval QA length-matched;
    sentences: AttributionBench)."""
    shapes = {"short": ("squad2", "halueval-qa, length-matched"), "sentence": ("attributionbench",)}
    return {shape: {name: {"macro_f1": figures[name]["macro_f1"]["value"], "auroc": figures[name]["auroc"]["value"],
                           "n": figures[name]["n"]} for name in names if name in figures}
            for shape, names in shapes.items()}


if __name__ == "__main__":
    main()
