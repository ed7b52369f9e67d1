"""Fit the offline judge's weights on human labels, and measure it by 5-fold cross-validation.

    python -m training.learn suites/data/attributionbench/dev.jsonl.gz

The model is fitted on claims, as the judge decides: every claim of a labelled answer gets its
answer's label, weighted 1 / (the answer's claims) so that long answers do not dominate. It is a
logistic regression on the standardised features and their pairwise products (strongly
regularised: 464 weights from 1,198 answers). The threshold is the one that maximises macro-F1 of
the whole judge, hard checks included, on the rows it was fitted on. Each fold fits both on four
fifths of the rows and runs the complete judge on the remaining fifth; the pooled held-out
verdicts give the agreement figures, written as the judge's calibration on record. The weights
shipped are then fitted on all rows. Needs scikit-learn (`pip install -e '.[test]'`); judging
itself needs only the weights file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalkit.judges.calibration import LabelledRow, best_threshold, graded, judge_rows, judged_figures, load_labels
from evalkit.judges.offline import OfflineJudge, Weights, claims_of, measure
from evalkit.judges.spec import OFFLINE_VERSIONS

NAME = OFFLINE_VERSIONS["semantic"]  # what this fits: offline-v2's weights are kept as fitted
FOLDS = 5
C = 0.01  # inverse L2 strength: 0.003 and 0.01 agree within 0.01 macro-F1 under CV


CALIBRATIONS = Path(__file__).resolve().parents[1] / "evalkit" / "judges" / "calibrations"

def claim_rows(rows: list[LabelledRow]) -> tuple[Any, Any, Any, Any]:
    """Features, labels and weights of every claim, and the row each claim belongs to."""
    import numpy as np

    features, labels, weights, owner = [], [], [], []
    for index, row in enumerate(rows):
        claims = claims_of(row.answer)
        for measured in measure(claims, row.passages(), row.question)[2]:
            features.append(measured.values)
            labels.append(row.label)
            weights.append(1.0 / len(claims))
            owner.append(index)
    return np.array(features), np.array(labels), np.array(weights), np.array(owner)


def fit(features: Any, labels: Any, weights: Any) -> Weights:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    scaler = StandardScaler().fit(features)
    expanded = PolynomialFeatures(2, include_bias=False).fit_transform(scaler.transform(features))
    second = StandardScaler().fit(expanded)
    model = LogisticRegression(C=C, max_iter=10000).fit(second.transform(expanded), labels, sample_weight=weights)
    # fold the second standardisation into the weights: coef * (x - m) / s = (coef / s) x - coef m / s
    coef = model.coef_[0] / second.scale_
    intercept = float(model.intercept_[0] - coef @ second.mean_)
    scale = [float(s) if s > 0 else 1.0 for s in scaler.scale_]
    return Weights(tuple(float(m) for m in scaler.mean_), tuple(scale), tuple(float(c) for c in coef), intercept)


def fit_judge(rows: list[LabelledRow], features: Any, labels: Any, weights: Any) -> Weights:
    """Weights fitted on these rows' claims, with the threshold that serves these rows best."""
    fitted = fit(features, labels, weights)
    verdicts = asyncio.run(judge_rows(OfflineJudge(replace(fitted, threshold=0.5)), rows))
    threshold = best_threshold([r.label for r in rows], [graded(v) for v in verdicts])["threshold"]
    return replace(fitted, threshold=threshold)


def cross_validate(rows: list[LabelledRow], data_name: str) -> tuple[dict[str, Any], Weights]:
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    features, labels, weights, owner = claim_rows(rows)
    row_labels = np.array([r.label for r in rows])
    verdicts: list[Any] = [None] * len(rows)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    for train, test in folds.split(row_labels, row_labels):
        mine = np.isin(owner, train)
        judge = OfflineJudge(fit_judge([rows[i] for i in train], features[mine], labels[mine], weights[mine]))
        for index, verdict in zip(test, asyncio.run(judge_rows(judge, [rows[i] for i in test])), strict=True):
            verdicts[index] = verdict
    record = judged_figures(NAME, data_name, rows, verdicts, seconds=None)
    record["method"] = (f"{FOLDS}-fold cross-validation: every verdict by weights and a threshold "
                        "fitted without its row")
    return record, fit_judge(rows, features, labels, weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--data-name", default="AttributionBench dev")
    parser.add_argument("--out", type=Path, default=CALIBRATIONS)
    args = parser.parse_args()
    record, weights = cross_validate(load_labels(args.labels), args.data_name)
    (args.out / f"{NAME}.weights.json").write_text(json.dumps(weights.as_dict(), indent=2) + "\n")
    (args.out / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n")
    figures = record["configured"]
    print(f"{NAME}, {FOLDS}-fold CV on {record['n']} rows: macro-F1 {figures['macro_f1']['value']:.3f}, "
          f"AUROC {figures['auroc']['value']:.3f}; weights and calibration written to {args.out}")
    for source, by in record.get("by_source", {}).items():
        print(f"  {source}: {by['n']} rows, macro-F1 {by['macro_f1']:.3f}, AUROC {by['auroc']:.3f}")


if __name__ == "__main__":
    main()
