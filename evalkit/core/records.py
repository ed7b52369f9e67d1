"""What one sample is: a case, what a candidate answered for it, and every metric's score.

These are the records of the run file format (`evalkit.run/3`): every stage and every sink
reads them by attribute, never by string key. Unknown keys in a stored record are ignored, so
older run folders (`evalkit.run/1`, a subset of these fields) read back into the same types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field

from evalkit.core.specs import CheckSpec, Expectation

Id = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v)]
NonBlank = Annotated[str, Field(min_length=1), BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]


class Case(BaseModel):
    """One question of a suite, with what a good answer looks like. Unknown keys are suite errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Id = Field(min_length=1)  # unique within the suite: what results, baselines and labels pair cases by
    question: NonBlank  # what the candidate is asked
    expected_answer: str | None = None  # the right answer, for answer metrics (token_f1, exact_match)
    # other answers that count as correct (e.g. each annotator's in SQuAD); answer metrics take the best match
    accepted_answers: list[str] = Field(default_factory=list)
    # ids of the documents that answer it, for retrieval and citation metrics
    expected_sources: list[Id] = Field(default_factory=list)
    # labels for the report's per-tag breakdown and for `cases: {tags: [...]}`
    tags: list[str] = Field(default_factory=list)
    answerable: bool = True  # false: the sources cannot answer it, and the right answer is to decline
    distractors: list[str] = Field(default_factory=list)  # tempting wrong answers to an unanswerable question
    checks: list[CheckSpec] = Field(default_factory=list)  # format checks for this case's answer only
    stale_answers: list[str] = Field(default_factory=list)  # answers that were right at an earlier date
    expect: list[Expectation] = Field(default_factory=list)  # bounds this case's scores must meet

    def key_fields(self) -> dict[str, Any]:
        """What a case's work and scores are keyed by: everything that can change an answer or a
        score (its expectations only judge the scores)."""
        return self.model_dump(mode="json", exclude={"expect"})

    @property
    def answers(self) -> list[str]:
        """Every answer that counts as correct: the expected one first, then the accepted ones."""
        return list(dict.fromkeys([*([self.expected_answer] if self.expected_answer else []), *self.accepted_answers]))


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Passage(_Record):
    """One retrieved passage: the chunk text and the document it came from.

    In a stored sample a corpus passage keeps only its `node_id` (its text is re-derivable from the
    corpus and the chunking recorded in the manifest); a passage with no node id keeps its text."""

    doc_id: str
    text: str = ""
    rank: int  # 1-based rank among retrieved passages
    score: float | None = None
    node_id: str | None = None

    def stored(self) -> Passage:
        return self.model_copy(update={"text": ""}) if self.node_id else self


class Output(_Record):
    """What a candidate produced for one case. `error` set means it produced nothing usable."""

    answer: str = ""
    passages: list[Passage] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)  # doc ids the answer cites
    usage: dict[str, int] = Field(default_factory=dict)  # prompt_tokens, completion_tokens
    cost_usd: float | None = None  # what this sample's model calls cost; None: no priced call
    latency_s: float = 0.0  # the candidate's own time: not counting waits for a model slot in evalkit
    queued_s: float = 0.0  # time its model calls waited in evalkit for a slot (a serializing server)
    prompt: str | None = None  # the prompt as sent to the model (None: no model call)
    extractive: bool = False  # the answer is its passages' sentences, copied by construction (no model wrote it)
    query: str | None = None  # what the candidate searched for, when it says (a rewritten question); else the question
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retrieved_ids(self) -> list[str]:
        """Document ids in rank order, each once (several chunks of one document count once)."""
        return list(dict.fromkeys(p.doc_id for p in self.passages))

    def with_texts(self, texts: Mapping[str, str]) -> Output:
        """This output with its corpus passages' texts (by node id) filled in; itself when none is missing."""
        if not any(p.node_id and not p.text for p in self.passages):
            return self
        return self.model_copy(update={"passages": [p.model_copy(update={"text": texts.get(p.node_id, "")})
                                                    if p.node_id and not p.text else p for p in self.passages]})

    @property
    def contexts(self) -> list[str]:
        return [p.text for p in self.passages]


class Score(_Record):
    """One metric on one sample. Exactly one of value, error, skipped is meaningful."""

    value: float | None = None
    error: str | None = None  # the metric could not be computed: counted apart, never averaged
    skipped: str | None = None  # the metric does not apply to this sample (e.g. no expected answer)
    details: dict[str, Any] = Field(default_factory=dict)


class Sample(_Record):
    """One case x candidate: the case as asked, the output, and a score per metric."""

    candidate: str
    case_id: str
    key: str = ""  # content key of the work item (case and candidate config); "" in evalkit.run/1
    position: int = -1  # the case's place in the suite (samples are stored as they finish, in any order)
    question: str
    expected_answer: str | None = None
    accepted_answers: list[str] = Field(default_factory=list)
    expected_sources: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    answerable: bool = True
    distractors: list[str] = Field(default_factory=list)
    stale_answers: list[str] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)  # the case's, kept so a run folder judges them alone
    output: Output
    scores: dict[str, Score] = Field(default_factory=dict)
    score_s: float = 0.0  # time spent scoring
    cached: bool = False  # the output was replayed from the stage cache (its latency and cost are the original's)

    @property
    def answer_key(self) -> str:
        """What a human label is attached to: the answer and the passages it was judged against
        (16 hex of a sha256). A changed answer or retrieval gets a new key, and its old label no
        longer applies."""
        import hashlib

        content = json.dumps([self.output.answer, [p.node_id or p.doc_id for p in self.output.passages]])
        return hashlib.sha256(content.encode()).hexdigest()[:16]

    @property
    def errored(self) -> bool:
        """The candidate or any metric failed on this sample."""
        return bool(self.output.error) or any(score.error for score in self.scores.values())

    def to_json(self) -> str:
        """One line of samples.jsonl, without empty fields of passages and scores."""
        data = self.model_dump(mode="json", exclude={"scores", *([] if self.expect else ["expect"])})
        data["output"]["passages"] = [p.model_dump(mode="json", exclude_defaults=True) for p in self.output.passages]
        data["scores"] = {name: score.model_dump(mode="json", exclude_defaults=True)
                          for name, score in self.scores.items()}
        return json.dumps(data, ensure_ascii=False)


class Label(_Record):
    """A person's judgment of one sample on one metric: 1/0 (or a value in [0, 1]), attached by
    `answer_key` to the answer that was labelled (a labels file, `suite.labels`)."""

    case_id: Id
    candidate: str
    metric: str
    label: float = Field(ge=0, le=1)
    answer_key: str
    note: str = ""
