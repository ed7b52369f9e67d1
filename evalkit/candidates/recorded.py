"""The `recorded` candidate: outputs a product already produced, read from a jsonl/csv/parquet file.

Each row: `id` (the case id), `answer`, and optionally `retrieved_ids` (ranked doc ids),
`contexts` (their texts, same order), `citations`, `latency_s`, `error`. In CSV files lists are
separated by ';'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from evalkit.candidates.base import BuildContext, Candidate, CandidateConfig, Output, Passage, candidate_kinds
from evalkit.core.errors import EvalkitError
from evalkit.core.readers import list_cell, read_records

if TYPE_CHECKING:
    from evalkit.core.records import Case


@candidate_kinds.register("recorded")
class RecordedConfig(CandidateConfig):
    kind: Literal["recorded"] = "recorded"
    path: str  # a JSONL file of answers by case id, relative to the suite

    def build(self, context: BuildContext) -> Candidate:
        return RecordedCandidate(self.name, (context.suite_dir / self.path).resolve())


class RecordedCandidate:
    stats = None

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
        self._outputs: dict[str, Output] = {}

    async def prepare(self, cases: list[Case]) -> None:
        for number, row in read_records(self.path):
            where = f"{self.path}:{number}"
            if "id" not in row:
                raise EvalkitError("missing field 'id' (the case id)", where=where)
            ids = list_cell(row.get("retrieved_ids"), where, "retrieved_ids")
            texts = list_cell(row.get("contexts"), where, "contexts")
            if texts and len(texts) != len(ids):
                raise EvalkitError(
                    f"{len(ids)} retrieved_ids but {len(texts)} contexts", where=where,
                    hint="contexts[i] is the text of retrieved_ids[i]",
                )
            passages = [Passage(doc_id=doc_id, text=texts[i] if texts else "", rank=i + 1)
                        for i, doc_id in enumerate(ids)]
            error = row.get("error")
            self._outputs[str(row["id"])] = Output(
                answer=str(row.get("answer") or ""),
                passages=passages,
                citations=list_cell(row.get("citations"), where, "citations"),
                latency_s=float(row.get("latency_s") or 0.0),
                error=str(error) if error else None,
            )

    async def answer(self, case: Case) -> Output:
        output = self._outputs.get(case.id)
        if output is None:
            return Output(error=f"no recorded output for case '{case.id}' in {self.path.name}")
        return output
