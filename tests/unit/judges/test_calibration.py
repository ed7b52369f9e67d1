"""Calibration figures equal scikit-learn's on the same predictions, and are deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.analysis.agreement import agreement, auroc
from evalkit.core.errors import EvalkitError
from evalkit.core.records import Passage
from evalkit.judges.calibration import best_threshold, calibrate, load_labels, on_record
from evalkit.judges.offline import OfflineJudge, shipped_weights
from training.learn import cross_validate

ROOT = Path(__file__).resolve().parents[3]
LABELS = ROOT / "suites" / "data" / "attributionbench" / "dev.jsonl.gz"


def test_agreement_equals_scikit_learn() -> None:
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score, roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500)
    scores = np.round(labels * 0.3 + rng.random(500), 2)  # rounded: ties exercise AUROC's half counts
    predicted = scores > 0.6
    ours = agreement(labels, predicted, scores)
    assert ours["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"), abs=1e-12)
    assert ours["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predicted), abs=1e-12)
    assert ours["cohen_kappa"] == pytest.approx(cohen_kappa_score(labels, predicted), abs=1e-12)
    assert ours["auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert auroc([0, 1], [0.2, 0.9]) == 1.0


def test_best_threshold_by_hand() -> None:
    # 0.35 and 0.8 both give macro-F1 11/15; the lower threshold is kept
    assert best_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == {"threshold": 0.35, "macro_f1": pytest.approx(0.7333, abs=1e-4)}


def test_attributionbench_figures_are_deterministic() -> None:
    first = calibrate(LABELS, OfflineJudge(), "AttributionBench dev")
    second = calibrate(LABELS, OfflineJudge(), "AttributionBench dev")
    first.pop("seconds"), second.pop("seconds")
    assert first == second and first["n"] == 1198 and first["n_supported"] == 599
    assert on_record("some-model-judge") is None


def test_shipped_weights_and_calibration_are_what_learning_produces() -> None:
    """The figures on record are cross-validated, and refitting reproduces the shipped weights."""
    record, weights = cross_validate(load_labels(LABELS), "AttributionBench dev")
    shipped = on_record("offline-v4")
    assert shipped is not None and "cross-validation" in shipped["method"]
    # the same fit, up to the last bits that BLAS builds (and so the embeddings) round differently on
    # different CPUs: a verdict on the edge of the threshold may flip
    for figure in ("macro_f1", "auroc", "cohen_kappa"):
        assert record["configured"][figure]["value"] == pytest.approx(shipped["configured"][figure]["value"], abs=0.005)
    lexical = on_record("offline-v2")
    assert lexical is not None  # meaning must add to the words: v4 beats the lexical judge by 0.03 on the same folds
    assert record["configured"]["macro_f1"]["value"] > lexical["configured"]["macro_f1"]["value"] + 0.02
    assert set(record["by_source"]) == {f"AttributionBench/{s}" for s in
                                        ("AttributedQA", "ExpertQA", "LFQA", "Stanford-GenSearch")}
    shipped_fit = shipped_weights("offline-v4")
    assert weights.features == shipped_fit.features and weights.degree == shipped_fit.degree == 2
    assert weights.threshold == pytest.approx(shipped_fit.threshold, abs=0.01)
    assert weights.coef == pytest.approx(shipped_fit.coef, rel=1e-3, abs=1e-3)
    in_sample = calibrate(LABELS, OfflineJudge(shipped_fit, "offline-v4"), "AttributionBench dev")
    assert record["configured"]["macro_f1"]["value"] < in_sample["configured"]["macro_f1"]["value"]  # held-out rows are harder than seen ones


def test_shipped_form_of_the_quadratic_model_equals_scikit_learns_pipeline() -> None:
    """Weights.probability (standardise, pairwise products, folded second standardisation) gives
    the probabilities of the scikit-learn pipeline that learn.fit fits."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    from evalkit.judges.offline import FEATURES
    from training.learn import C, fit

    rng = np.random.default_rng(5)
    features = rng.normal(size=(300, len(FEATURES))) * rng.uniform(0.1, 3, len(FEATURES))
    labels = (features[:, 0] * features[:, 1] + rng.normal(size=300) > 0).astype(int)
    weights = rng.uniform(0.2, 1.0, 300)
    pipeline = make_pipeline(StandardScaler(), PolynomialFeatures(2, include_bias=False), StandardScaler(),
                             LogisticRegression(C=C, max_iter=10000))
    pipeline.fit(features, labels, logisticregression__sample_weight=weights)
    shipped_form = fit(features, labels, weights)
    expected = pipeline.predict_proba(features[:20])[:, 1]
    assert [shipped_form.probability(list(row)) for row in features[:20]] == pytest.approx(expected, abs=1e-9)


def test_lexical_judge_keeps_its_own_weights() -> None:
    """offline-v2 (features: lexical) judges with its 17 linear weights and no embeddings."""
    from evalkit.judges.semantic import EMBEDDINGS

    lexical = shipped_weights("offline-v2")
    assert lexical.degree == 1 and not lexical.semantic and len(lexical.coef) == 17
    before = len(EMBEDDINGS)
    verdict = OfflineJudge(lexical, "offline-v2").judge("Water boils at 100 degrees.",
                                                        [Passage(doc_id="d", text="Water boils at 100 degrees C.", rank=1)])
    assert verdict.score == 1.0 and len(EMBEDDINGS) == before


def test_bad_label_rows(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"answer": "x", "contexts": "not a list", "label": 1}) + "\n")
    with pytest.raises(EvalkitError, match=r"labels.jsonl:1: field 'contexts' must be a list"):
        calibrate(path, OfflineJudge())


def test_calibrate_chooses_the_offline_judge_by_its_features(tmp_path: Path) -> None:
    """`evalkit calibrate LABELS --features semantic` measures offline-v4; a wrong value is a one-line error."""
    import gzip

    from tests.conftest import evalkit

    with gzip.open(LABELS, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    chosen = [r for r in rows if r["label"] == 1][:6] + [r for r in rows if r["label"] == 0][:6]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    result = evalkit("calibrate", "labels.jsonl", "--features", "semantic", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["judge"] == "offline-v4" and record["n"] == 12
    lexical = evalkit("calibrate", "labels.jsonl", "--features", "lexical", "--json", cwd=tmp_path)
    assert json.loads(lexical.stdout)["judge"] == "offline-v2"
    wrong = evalkit("calibrate", "labels.jsonl", "--features", "neural", cwd=tmp_path)
    assert wrong.returncode != 0 and "--features takes lexical, semantic, cross-encoder, span, span-semantic, not 'neural'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
