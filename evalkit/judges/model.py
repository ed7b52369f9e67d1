"""The model judge: one call per sample that splits the answer into claims and, for each, says
whether a numbered passage supports it, which one, and with what words.

Cheaper than ragas's faithfulness (one call instead of two) and it says which passage supports a
claim. Its reply is JSON validated against a schema: a verdict that is not true or false, a
passage number that was not shown, or a reply that is not JSON is the sample's error, never a pass.
ragas's judged metrics (context_precision, ...) run on the same model through the ragas adapter.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit.core.judge import ClaimVerdict, FaithfulnessVerdict
from evalkit.judges.ragas import RagasJudge

if TYPE_CHECKING:
    from evalkit.core.records import Passage
    from evalkit.judges.spec import ModelJudgeSpec
    from evalkit.models.endpoints import CacheSettings

MARKER = "You are a careful fact checker."  # first words of the judge's system message


class ClaimJudgement(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    claim: str
    supported: bool
    passage: int | None = None  # 1-based number of the supporting passage
    evidence: str = ""  # the passage's words that support the claim
    reason: str = ""


class ClaimJudgements(BaseModel):
    model_config = ConfigDict(extra="ignore")
    claims: list[ClaimJudgement]


SYSTEM = f"""{MARKER} You get a question, numbered passages and an answer.
Split the answer into its claims: each factual statement it makes, in its own words. Ignore citation
marks such as [doc-id]. For each claim decide whether the passages support it: supported means a
passage states it or directly implies it; anything the passages do not say is not supported.
Reply with JSON only, in this form:
{{"claims": [{{"claim": "...", "supported": true, "passage": 1, "evidence": "the words that support it",
  "reason": ""}}]}}
"passage" is the number of the passage that supports the claim (null when none does) and "reason"
says briefly why an unsupported claim is not supported. An answer that makes no claim gives {{"claims": []}}."""


@lru_cache(maxsize=1)
def claims_schema() -> dict[str, Any]:
    return ClaimJudgements.model_json_schema()


def judge_request(question: str, answer: str, passages: list[Passage]) -> list[dict[str, str]]:
    given = {"question": question,
             "passages": [{"number": i, "text": p.text} for i, p in enumerate(passages, start=1)],
             "answer": answer}
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": json.dumps(given, ensure_ascii=False, indent=1)}]


def read_judgement(text: str, passages: list[Passage]) -> FaithfulnessVerdict:
    """The judge's reply as claim verdicts; a reply that breaks the schema raises ModelCallError."""
    from evalkit.models.llm import ModelCallError, unfence

    try:
        judged = ClaimJudgements.model_validate_json(unfence(text))
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the reply"
        raise ModelCallError(f"the judge's reply does not fit its schema ({where}: {problem['msg']})") from None
    claims = []
    for item in judged.claims:
        if item.passage is not None and not 1 <= item.passage <= len(passages):
            raise ModelCallError(f"the judge cited passage {item.passage}, but only {len(passages)} were shown")
        source = passages[item.passage - 1] if item.passage is not None else None
        claims.append(ClaimVerdict(item.claim, item.supported, float(item.supported),
                                   source.doc_id if source else None, item.evidence or None,
                                   "" if item.supported else item.reason or "the judge found no support"))
    if not claims:
        return FaithfulnessVerdict(float("nan"), [])
    return FaithfulnessVerdict(sum(c.supported for c in claims) / len(claims), claims)


class ModelJudge(RagasJudge):
    kind = "model"

    def __init__(self, spec: ModelJudgeSpec, cache: CacheSettings):
        super().__init__(spec, cache)
        self.name = spec.judge_name

    async def faithfulness(self, question: str, answer: str, passages: list[Passage]) -> FaithfulnessVerdict:
        from evalkit.models.llm import chat

        client = self.client()
        # llama.cpp's server takes the schema inside json_object (and answers 500 to OpenAI's json_schema form)
        response_format = ({"type": "json_object", "schema": claims_schema()} if self.spec.local
                           else {"type": "json_object"})
        text, _ = await chat(client, self.spec, judge_request(question, answer, passages),
                             response_format=response_format)
        try:
            return read_judgement(text, passages)
        except Exception:  # JSON of the wrong schema: the sample's error, and a failed call in the usage
            self.stats.failures += 1
            raise
