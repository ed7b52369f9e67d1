"""The fine-tunes' data (suites/data/finetune.py): disjoint from what their suites score as
correct, and rendered by the suites' own prompt templates."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.conftest import ROOT

SQUAD = ROOT / "suites" / "data" / "squad2"


def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("finetune", ROOT / "suites" / "data" / "finetune.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_fine_tune_trains_only_on_articles_the_suite_does_not_evaluate() -> None:
    from evalkit.config.suite import load_suite

    train = recipe()
    cases, corpus = train.read_jsonl(SQUAD / "cases.jsonl"), train.read_jsonl(SQUAD / "corpus.jsonl")
    examples = train.squad2_examples(cases, corpus)
    trained_on = {e.case_id for e in examples}
    evaluated = {case.id for case in load_suite(ROOT / "suites" / "squad2-finetune.yaml", limit=2000).cases}
    assert len(evaluated) == 989 and len(trained_on) == 418  # the three held-out articles, the two others
    assert not trained_on & evaluated
    assert {c["id"] for c in cases} == trained_on | evaluated  # every question is on one side
    held_out_paragraphs = [d["text"] for d in corpus if d["id"].split("#")[0] in train.HELD_OUT]
    assert not any(paragraph in e.prompt for e in examples for paragraph in held_out_paragraphs)


def test_training_prompts_are_the_prompts_the_suite_sends_to_the_fine_tuned_candidates() -> None:
    from evalkit.candidates.chat import Prompter
    from evalkit.config.suite import load_suite
    from evalkit.core.records import Case, Passage

    train = recipe()
    cases, corpus = train.read_jsonl(SQUAD / "cases.jsonl"), train.read_jsonl(SQUAD / "corpus.jsonl")
    example = train.squad2_examples(cases, corpus)[0]
    case = Case.model_validate(next(c for c in cases if c["id"] == example.case_id))
    source = case.expected_sources[0]
    passage = Passage(doc_id=source, text=next(d["text"] for d in corpus if d["id"] == source), rank=1)
    candidates = {c.name: c for c in load_suite(ROOT / "suites" / "squad2-finetune.yaml").candidates}
    rag, closed = candidates["rag-finetuned"].generator, candidates["finetuned-closed-book"]  # type: ignore[attr-defined]
    assert Prompter(rag, ROOT / "suites").render(case, [passage]) == example.prompt
    closed_example = next(e for e in train.squad2_examples(cases, corpus)
                          if e.case_id == case.id and e.template == closed.template)
    assert Prompter(closed, ROOT / "suites").render(case, []) == closed_example.prompt
    assert example.target.endswith("\n") and Prompter(rag, SQUAD).stop == ["\n"]  # it learns to stop


def test_the_knowledge_injection_fine_tune_learns_only_the_superseded_answers() -> None:
    train = recipe()
    cases = train.read_jsonl(ROOT / "suites" / "data" / "situatedqa" / "cases.jsonl")
    examples = train.RECIPES["situatedqa"].build()
    assert len(examples) == len(cases) == 80
    for case, example in zip(cases, examples, strict=True):
        assert example.target == f" {case['stale_answers'][0]}\n" != f" {case['expected_answer']}\n"
        assert example.prompt.endswith(f"Question: {case['question']}\nAnswer:")
