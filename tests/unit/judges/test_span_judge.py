"""offline-v7, the default offline judge, and offline-v8 (v7 and the measures by meaning): where a
claim stands in the evidence, a model per answer shape, the same numbers on every CPU, and the
figures their benchmark recorded."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.core.records import Passage
from evalkit.judges.features import Evidence, terms
from evalkit.judges.offline import SPAN, SPAN_SEMANTIC, OfflineJudge, measure, shipped_by_shape
from evalkit.judges.span import longest_run, positions, span_features
from evalkit.judges.spec import OFFLINE_NAME, shipped_file

ROOT = Path(__file__).resolve().parents[3]
NAME = "offline-v7"
VERSIONS = pytest.mark.parametrize(("version", "features"), [(NAME, SPAN), ("offline-v8", SPAN_SEMANTIC)])
PARAGRAPH = [Passage(doc_id="p", rank=1, text=(
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in "
    "France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway."))]


def test_v7_is_the_default_offline_judge() -> None:
    assert OFFLINE_NAME == NAME


def test_span_features_find_the_answer_word_for_word() -> None:
    evidence = Evidence(PARAGRAPH)
    found = positions(evidence)
    assert longest_run(terms("in the 10th and 11th century").sequence, found)[0] == 3  # stems, stop words aside
    asked = terms("In what country is Normandy located?")
    in_text = span_features(terms("France"), "France", asked, evidence, found)
    invented = span_features(terms("Belgium"), "Belgium", asked, evidence, found)
    assert in_text[:3] == [1.0, 1.0, 1.0] and invented[:3] == [0.0, 0.0, 1.0]
    assert in_text[3] > 0  # the question's words stand beside "France"
    claim = "The Normans gave their name to a region of Spain in the 12th century."
    sentence = span_features(terms(claim), claim, asked, evidence, found)
    assert sentence[0] == 0.0 and sentence[2] == 0.0 and 0 < sentence[1] < 1


@pytest.mark.parametrize(("answer", "supported"), [
    ("France", True), ("Belgium", False), ("10th and 11th centuries", True), ("the 14th century", False),
    ("They were descended from Norse raiders and pirates from Denmark, Iceland and Norway.", True),
    ("They were descended from Roman soldiers stationed in Spain and Portugal.", False),
])
def test_the_default_judge_on_short_answers_and_sentences(answer: str, supported: bool) -> None:
    judge = OfflineJudge(shipped_by_shape(NAME), NAME)
    verdict = judge.judge(answer, PARAGRAPH, "Where is Normandy, and when did the Normans name it?")
    assert (verdict.score == 1.0) is supported, verdict.claims


def test_v8_supports_what_the_passage_says_and_ranks_it_above_what_it_does_not() -> None:
    """offline-v8 reads meaning as well as words: the answers the paragraph gives are supported and
    get more support than invented ones; an invented country close in meaning to the right one
    (Belgium for France) can still pass its threshold, as docs/calibration.md says."""
    judge = OfflineJudge(shipped_by_shape("offline-v8"), "offline-v8")
    question = "Where is Normandy, and when did the Normans name it?"

    def support(answer: str) -> float:
        return judge.judge(answer, PARAGRAPH, question).claims[0].support

    for right, invented in (("France", "Belgium"), ("France", "Spain"), ("10th and 11th centuries", "the 12th century")):
        assert judge.judge(right, PARAGRAPH, question).score == 1.0
        assert support(right) > support(invented), (right, invented)
    assert judge.judge("the 12th century", PARAGRAPH, question).score == 0.0


def _reference_probability(weights, values: list[float]) -> float:
    """The same logistic model computed another way: numpy arrays and a matrix product."""
    import numpy as np

    z = (np.array(values, dtype=np.float64) - np.array(weights.mean)) / np.array(weights.scale)
    if weights.degree == 2:
        left, right = np.triu_indices(len(z))
        z = np.concatenate([z, z[left] * z[right]])
    return float(1 / (1 + np.exp(-(weights.intercept + np.array(weights.coef) @ z))))


@VERSIONS
def test_scores_do_not_depend_on_how_the_arithmetic_is_done(version: str, features: tuple[str, ...]) -> None:
    """The judge's support is plain float64 with an exactly rounded sum (no vector kernel whose
    order of additions varies by CPU); an independent numpy computation agrees to 1e-12, and no
    quantized or BLAS-dependent path is taken: judging imports no torch."""
    scorer = shipped_by_shape(version)
    for answer in ("France", "Belgium", "They were descended from Norse raiders."):
        measured_all = measure([answer], PARAGRAPH, "Where is Normandy?", semantic=scorer.semantic, span=True)[2]
        for measured in measured_all:
            assert len(measured.values) == len(features)
            weights = scorer.weights_for(measured.values)
            assert weights.probability(measured.values) == pytest.approx(
                _reference_probability(weights, measured.values), abs=1e-12)
    script = ("import sys; from evalkit.judges.factory import build_judge; from evalkit.models.endpoints import "
              "CacheSettings; from evalkit.judges.spec import OfflineJudgeSpec; from evalkit.core.records import "
              "Passage; j = build_judge(OfflineJudgeSpec(features=sys.argv[1]), CacheSettings(None)); "
              "v = j.judge('France', [Passage(doc_id='p', rank=1, text='Normandy is in France.')], 'Where is Normandy?'); "
              "print(v.score, 'torch' in sys.modules)")
    option = "span" if version == NAME else "span-semantic"
    out = subprocess.run([sys.executable, "-c", script, option], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["1.0", "False"]


@VERSIONS
def test_shipped_weights_give_the_recorded_test_figures(version: str, features: tuple[str, ...]) -> None:
    """The benchmark's record (nox -s judge-bench) holds for the shipped weights, exactly: the
    AttributionBench and SQuAD test views, which live in the repository, are measured again."""
    from training.judge_bench import judge_figures, views
    from training.judge_data import attributionbench, squad2

    record = json.loads(shipped_file(f"{version}.json").read_text(encoding="utf-8"))
    judge = OfflineJudge(shipped_by_shape(version), version)
    test = views([*attributionbench(), *squad2()], "test")
    for view in ("attributionbench", "squad2"):
        figures = judge_figures(judge, test[view])
        recorded = record["by_source"][view]
        assert figures["n"] == recorded["n"]
        for key in ("macro_f1", "auroc"):
            assert math.isclose(figures[key]["value"], recorded[key]["value"], abs_tol=1e-9), (view, key)


@VERSIONS
def test_the_record_says_how_the_design_was_chosen_and_beats_v2_on_every_source(version: str,
                                                                                features: tuple[str, ...]) -> None:
    record = json.loads(shipped_file(f"{version}.json").read_text(encoding="utf-8"))
    for shape in ("short", "sentence"):  # each shape's model was chosen among those tried, on dev rows
        assert record["design"][shape]["chosen"] in record["design"][shape]["tried"]
    bench = json.loads((ROOT / "docs" / "judge-benchmark.json").read_text(encoding="utf-8"))
    for view, figures in bench[version].items():
        assert figures["auroc"]["value"] > bench["offline-v2"][view]["auroc"]["value"], view


def test_held_out_halueval_rows_are_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows with row % 5 == 4 are held out for evaluating evalkit from outside: the loader skips
    them before parsing (a held-out row that is not even JSON does no harm), and the splits keep
    both answers of a row together."""
    from training import judge_data

    lines = []
    for row in range(25):
        if row % 5 == 4:
            lines.append("not json: held out")
        else:
            lines.append(json.dumps({"knowledge": "k", "question": f"q{row}", "right_answer": "a",
                                     "hallucinated_answer": "b c"}))
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(judge_data, "_wheel_member", lambda member, cache: path)
    found = list(judge_data.halueval_qa(tmp_path))
    assert len(found) == 40
    assert not {e.question for e in found} & {f"q{row}" for row in range(4, 25, 5)}
    by_question: dict[str, set[str]] = {}
    for example in found:
        by_question.setdefault(example.question, set()).add(example.split)
    assert all(len(splits) == 1 for splits in by_question.values())


@VERSIONS
def test_the_shipped_weights_read_the_measures_the_judge_computes(version: str, features: tuple[str, ...]) -> None:
    """Each model of the shipped file names the version's measures in the order the judge computes
    them, and a short answer and a sentence each reach the model of their shape."""
    shipped = json.loads(shipped_file(f"{version}.weights.json").read_text(encoding="utf-8"))
    scorer = shipped_by_shape(version)
    for shape in ("short", "sentence"):
        assert tuple(shipped["shapes"][shape]["features"]) == features
    for answer, model in (("France", scorer.short), ("They were descended from Norse raiders and pirates from Denmark.", scorer.sentence)):
        (measured,) = measure([answer], PARAGRAPH, "Who were the Normans?", semantic=scorer.semantic, span=True)[2]
        assert len(measured.values) == len(features) and scorer.weights_for(measured.values) is model


def test_an_extractive_answer_is_not_applicable_for_faithfulness_not_a_measured_one() -> None:
    """The extractive floor copies its passages' sentences: a 1.000 would look measured when
    nothing was judged. A model's answer that says the same is judged as usual."""
    import asyncio

    from evalkit.core.records import Case, Output
    from evalkit.core.specs import AbstentionSpec, MetricSpec
    from evalkit.judges.factory import build_judge
    from evalkit.metrics.grounding import Faithfulness
    from evalkit.models.endpoints import CacheSettings

    judge = build_judge(None, CacheSettings(None))
    spec = MetricSpec(name="faithfulness", base="faithfulness", needs=("answer", "passages", "judge"), judge=judge.name)
    metric = Faithfulness(spec, judge, AbstentionSpec())
    case = Case(id="q", question="Where is Normandy?")
    quote = "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France."
    extractive = asyncio.run(metric.score(case, Output(answer=quote, passages=PARAGRAPH, extractive=True)))
    written = asyncio.run(metric.score(case, Output(answer=quote, passages=PARAGRAPH)))
    assert extractive.value is None and extractive.skipped.startswith("quoted")
    assert written.value == 1.0


def test_the_measures_by_meaning_do_not_depend_on_the_cpu() -> None:
    """offline-v8's measures by meaning sum in numpy's own order, never through BLAS (whose kernels
    add in another order on AVX2, AVX-512 or AMX): a pure-Python computation with exactly rounded
    sums gives the same embeddings and similarities to 1e-12."""
    from evalkit.judges.semantic import _dot
    from evalkit.models.static import encode, pieces, vectors

    texts = ["The Normans gave their name to Normandy.", "Normandy is a region in France.", "Belgium"]
    table = vectors()
    found = encode(texts)
    reference = []
    for ids in pieces(texts):
        total = [math.fsum(float(table[i][d]) for i in ids) for d in range(table.shape[1])]
        norm = math.sqrt(math.fsum(x * x for x in total))
        reference.append([x / norm for x in total])
    for row, expected in zip(found, reference, strict=True):
        assert max(abs(float(a) - b) for a, b in zip(row, expected, strict=True)) < 1e-12
    similarity = _dot(found, found[0])
    for row, expected in zip(similarity, reference, strict=True):
        assert abs(float(row) - math.fsum(a * b for a, b in zip(expected, reference[0], strict=True))) < 1e-12
