"""Build the freshness suite's corpus and cases from SituatedQA's temporal dev set.

    python suites/data/situatedqa/build.py PATH/TO/temp.dev.jsonl [--questions 80]

SituatedQA rows say which answer a question had as of a date. For each question whose answer
changed, this writes one generated source document per answer period (its text states the answer
as of that period; valid_from is the first year the answer holds, valid_to the year before the
next answer, superseded_by the next period's document) and one case: the current answer expected,
the current document as the expected source, the earlier answers as stale answers. The documents
are generated from the dated answers; they are not real web pages.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent


def periods(rows: list[dict]) -> list[tuple[int, str]]:
    """(first year, answer) per answer period, in time order, from rows dated by year."""
    dated = sorted((int(row["date"][:4]), row["answer"][0]) for row in rows if row["date"][:4].isdigit())
    found: list[tuple[int, str]] = []
    for year, answer in dated:
        if not found or found[-1][1] != answer:
            found.append((year, answer))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("--questions", type=int, default=80)
    args = parser.parse_args()
    by_question: dict[str, list[dict]] = defaultdict(list)
    for line in args.source.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_question[str(row["id"])].append(row)
    documents, cases = [], []
    for qid, rows in by_question.items():
        spans = periods(rows)
        if len(spans) < 2 or len({answer for _, answer in spans}) < 2:
            continue
        question = rows[0]["question"].strip().rstrip("?") + "?"
        ids = [f"sqa{qid}@{year}" for year, _ in spans]
        for i, (year, answer) in enumerate(spans):
            nxt = spans[i + 1][0] if i + 1 < len(spans) else None
            # one sentence that holds both the question's words and the answer, so that an extractive
            # answerer quotes the answer it found
            documents.append({
                "id": ids[i],
                "text": f"From {year}" + (f" to {nxt - 1}" if nxt else "") + f", the answer to {question[:-1]} "
                        + ("was" if nxt else "is") + f" {answer}.",
                "valid_from": str(year),
                **({"valid_to": f"{nxt - 1}-12-31", "superseded_by": ids[i + 1]} if nxt else {}),
            })
        current = spans[-1][1]
        stale = sorted({answer for _, answer in spans[:-1] if answer != current})
        cases.append({"id": f"sqa{qid}", "question": question, "expected_answer": current,
                      "expected_sources": [ids[-1]], "stale_answers": stale, "tags": [f"changes:{len(spans) - 1}"]})
        if len(cases) == args.questions:
            break
    for name, rows in (("corpus.jsonl", documents), ("cases.jsonl", cases)):
        (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(cases)} questions, {len(documents)} dated documents")


if __name__ == "__main__":
    main()
