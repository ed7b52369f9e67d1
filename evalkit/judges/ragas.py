"""The ragas judge: ragas's own Faithfulness metric, and ragas's judged metrics, on the suite's judge model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.core.judge import ClaimVerdict, FaithfulnessVerdict

if TYPE_CHECKING:
    from pydantic import BaseModel

    from evalkit.core.records import Passage
    from evalkit.models.endpoints import CacheSettings, EndpointSpec


class RagasJudge:
    """Faithfulness by ragas's own metric (statement extraction, then NLI), with the suite's judge model.

    Its client goes through evalkit.models.llm, so judge calls are cached, retried and counted like
    candidate calls; ragas's own retries are not relied on.
    """

    kind = "ragas"

    def __init__(self, spec: EndpointSpec, cache: CacheSettings):
        from evalkit.models.llm import CallStats

        self.spec, self.cache = spec, cache
        self.name = spec.label
        self.stats = CallStats()
        self._llm: Any = None
        self._client: Any = None
        self._metrics: dict[str, Any] = {}  # ragas metric objects by class name, built once
        if self.kind == "ragas":
            from evalkit.core.offline import go_offline

            go_offline()
            import ragas.metrics.collections  # noqa: F401  (imported before the run, so the CLI's gc.freeze() covers it)

    def client(self) -> Any:
        """The judge's client over evalkit.llm, made on first use (its bound belongs to the running loop)."""
        if self._client is None:
            from evalkit.models.llm import make_client, resolve_endpoint

            if reason := self.spec.missing_key():
                from evalkit.core.errors import EvalkitError

                fix = "pip install 'evalkit[local]'" if self.spec.local else f"export {self.spec.api_key_env}=..."
                hint = f"{fix} or remove 'judge:' to use the offline judge"
                raise EvalkitError(f"the judge model cannot run: {reason}", hint=hint)
            self.spec = resolve_endpoint(self.spec, self.cache.folder.parent if self.cache.folder else None)
            self._client = make_client(self.spec, self.stats, self.cache)
        return self._client

    def llm(self) -> Any:
        """ragas's LLM interface over the judge's client."""
        if self._llm is None:
            from evalkit.judges.json_mode import JsonModeLLM

            self._llm = JsonModeLLM(self.client(), self.spec)
        return self._llm

    def metric(self, class_name: str) -> Any:
        """One instance of a ragas collections metric bound to this judge's model."""
        if class_name not in self._metrics:
            import ragas.metrics.collections as collections
            from ragas.prompt.metrics.base_prompt import BasePrompt

            extra: dict[str, Any] = {}
            if class_name == "AnswerRelevancy":
                # local MiniLM embeddings; one generated question, as repeats at temperature 0 are identical
                extra = {"embeddings": local_embeddings(), "strictness": 1}
            metric = getattr(collections, class_name)(llm=self.llm(), **extra)
            for prompt in vars(metric).values():
                if isinstance(prompt, BasePrompt):
                    prompt.output_model = schema_once(prompt.output_model)
            self._metrics[class_name] = metric
        return self._metrics[class_name]

    async def faithfulness(self, question: str, answer: str, passages: list[Passage]) -> FaithfulnessVerdict:
        """ragas's Faithfulness, step by step so that each statement's verdict is kept: the same two
        prompts and the same score as its `ascore`. ragas judges statements against all passages
        joined; the passage shown beside a supported statement is its closest sentence."""
        from evalkit.judges.offline import closest_sentence
        from evalkit.models.llm import ModelCallError

        metric = self.metric("Faithfulness")
        statements = await metric._create_statements(question, answer)
        if not statements:
            return FaithfulnessVerdict(float("nan"), [])
        verdicts = await metric._create_verdicts(statements, "\n".join(p.text for p in passages))
        claims = []
        for verdict in verdicts.statements:
            if verdict.verdict not in (0, 1):
                raise ModelCallError(f"the judge gave verdict {verdict.verdict!r} for a statement (expected 0 or 1)")
            doc_id, sentence = closest_sentence(verdict.statement, passages) if verdict.verdict else (None, None)
            claims.append(ClaimVerdict(verdict.statement, bool(verdict.verdict), float(verdict.verdict), doc_id,
                                       sentence, "" if verdict.verdict else verdict.reason))
        return FaithfulnessVerdict(float(metric._compute_score(verdicts)), claims)


_schema_once: dict[type[BaseModel], type[BaseModel]] = {}


def schema_once(model: type[BaseModel]) -> type[BaseModel]:
    """`model`, with its JSON schema computed once instead of on every prompt ragas renders.

    ragas's prompts put their output model's schema in every prompt, and pydantic builds it
    anew each time: a faithfulness prompt took 158 µs to render with that, 14 µs without."""
    if model not in _schema_once:
        schema = model.model_json_schema()

        class SchemaOnce(model):  # type: ignore[valid-type,misc]
            @classmethod
            def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
                return schema

        SchemaOnce.__name__, SchemaOnce.__qualname__ = model.__name__, model.__qualname__
        _schema_once[model] = SchemaOnce
    return _schema_once[model]


def local_embeddings() -> Any:
    """ragas's embedding interface over evalkit's local MiniLM (no embedding API calls)."""
    import asyncio

    from ragas.embeddings.base import BaseRagasEmbedding

    from evalkit.models.embeddings import encode

    class LocalEmbeddings(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return [float(x) for x in encode([text])[0]]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return await asyncio.to_thread(self.embed_text, text)

    return LocalEmbeddings()
