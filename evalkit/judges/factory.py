"""Build the suite's judge: the offline judge, or a model judge behind an OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.judges.base import FaithfulnessVerdict, Judge

if TYPE_CHECKING:
    from pydantic import BaseModel

    from evalkit.candidates.base import BuildContext, Passage
    from evalkit.endpoints import EndpointSpec


def build_judge(spec: EndpointSpec | None, context: BuildContext) -> Judge:
    if spec is None:
        from evalkit.judges.offline import OfflineJudge

        return OfflineJudge()
    return RagasJudge(spec, context)


class RagasJudge:
    """Faithfulness by ragas's own metric (statement extraction, then NLI), with the suite's judge model.

    Its client goes through evalkit.llm, so judge calls are cached, retried and counted like
    candidate calls; ragas's own retries are not relied on.
    """

    def __init__(self, spec: EndpointSpec, context: BuildContext):
        from evalkit.llm import CallStats

        self.spec, self.context = spec, context
        self.name = spec.label
        self.stats = CallStats()
        self._llm: Any = None
        self._metrics: dict[str, Any] = {}  # ragas metric objects by class name, built once
        from evalkit.offline import go_offline

        go_offline()
        import ragas.metrics.collections  # noqa: F401  (imported now, so the runner's gc.freeze() covers it)

    def llm(self) -> Any:
        """ragas's LLM interface over evalkit's client, made on first use (inside the event loop)."""
        if self._llm is None:
            from evalkit.judges.json_mode import JsonModeLLM
            from evalkit.llm import make_client

            if reason := self.spec.missing_key():
                from evalkit.errors import EvalkitError

                hint = f"export {self.spec.api_key_env}=... or remove 'judge:' to use the offline judge"
                raise EvalkitError(f"the judge model cannot run: {reason}", hint=hint)
            client = make_client(self.spec, self.stats, self.context)
            self._llm = JsonModeLLM(client, self.spec)
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
        metric = self.metric("Faithfulness")
        result = await metric.ascore(user_input=question, response=answer,
                                     retrieved_contexts=[p.text for p in passages])
        return FaithfulnessVerdict(float(result.value), [])


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

    from evalkit.embeddings import encode

    class LocalEmbeddings(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return [float(x) for x in encode([text])[0]]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return await asyncio.to_thread(self.embed_text, text)

    return LocalEmbeddings()
