"""Build the SQuAD 2.0 suite's corpus, cases and few-shot examples from the official dev JSON.

    python suites/data/squad2/build.py PATH/TO/dev-v2.0.json

Every paragraph becomes a document (`<article>#<paragraph number>`, e.g. `Normans#3`); every
question a case: each annotator's answer is accepted, the question's paragraph is its expected
source, and an unanswerable question (`is_impossible`) is marked `answerable: false` with its
plausible answers as distractors. Cases are tagged with their article and answerability, and
written alternating answerable and unanswerable in a seeded shuffle, so that the first N cases
(`--limit N`) are a balanced slice across articles.

labels.jsonl.gz is a calibration set of short answers judged by people (`evalkit calibrate`): each
answerable question's first annotated answer with its paragraph, labelled supported (1), and each
unanswerable question's first plausible answer (a span of the paragraph that crowdworkers wrote
the question to tempt, but that does not answer it) with its paragraph, labelled unsupported (0).

examples.jsonl holds the few-shot examples of the completion prompts: four answerable questions
and one unanswerable one on short paragraphs, with their paragraphs. They are cases too;
a prompt never shows the case being scored as its own example (evalkit.candidates.prompts).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
EXAMPLES = ("56de49a8cffd8e1900b4b7a7", "570614ff52bb89140068988b", "5ad3ab70604f3c001a3feb8a",
            "56e1c3e1e3433e1400423148", "5705f13d52bb8914006896f1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    args = parser.parse_args()
    data = json.loads(args.source.read_text(encoding="utf-8"))["data"]
    documents, answerable, unanswerable, labels = [], [], [], []
    paragraphs: dict[str, str] = {}
    for article in data:
        title = article["title"]
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{title}#{number}"
            documents.append({"id": doc_id, "title": title.replace("_", " "), "text": paragraph["context"]})
            paragraphs[doc_id] = paragraph["context"]
            for qa in paragraph["qas"]:
                case = {"id": qa["id"], "question": qa["question"].strip(), "expected_sources": [doc_id],
                        "tags": [title, "unanswerable" if qa["is_impossible"] else "answerable"]}
                spans = qa["plausible_answers"] if qa["is_impossible"] else qa["answers"]
                if spans:
                    labels.append({"id": qa["id"], "question": case["question"], "contexts": [paragraph["context"]],
                                   "answer": spans[0]["text"], "label": 0 if qa["is_impossible"] else 1,
                                   "source": f"SQuAD 2.0/{title}"})
                if qa["is_impossible"]:
                    case["answerable"] = False
                    case["distractors"] = list(dict.fromkeys(a["text"] for a in qa["plausible_answers"]))
                    unanswerable.append(case)
                else:
                    answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                    case["expected_answer"], case["accepted_answers"] = answers[0], answers[1:]
                    answerable.append(case)
    rng = random.Random(2018)
    rng.shuffle(answerable)
    rng.shuffle(unanswerable)
    cases = [case for pair in zip(answerable, unanswerable, strict=False) for case in pair]
    cases += answerable[len(unanswerable):] + unanswerable[len(answerable):]
    by_id = {case["id"]: case for case in cases}
    examples = []
    for qid in EXAMPLES:
        case = by_id[qid]
        source = case["expected_sources"][0]
        examples.append({"id": qid, "question": case["question"], "passages": [{"doc_id": source,
                         "text": paragraphs[source]}], "answer": case.get("expected_answer"),
                         "cite": [source] if case.get("answerable", True) else []})
    for name, rows in (("corpus", documents), ("cases", cases), ("examples", examples)):
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in labels)  # each row repeats its paragraph
    (HERE / "labels.jsonl.gz").write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{len(documents)} documents, {len(cases)} cases ({len(answerable)} answerable), {len(examples)} examples, "
          f"{len(labels)} labelled short answers")


if __name__ == "__main__":
    main()
