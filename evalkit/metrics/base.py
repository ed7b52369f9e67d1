"""The Metric protocol, per-sample Score, the metric registry and `name@k` parsing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from evalkit.errors import EvalkitError
from evalkit.registry import Registry

if TYPE_CHECKING:
    from evalkit.candidates.base import Output
    from evalkit.endpoints import EndpointSpec
    from evalkit.judges.base import Judge
    from evalkit.suite import Case


@dataclass
class Score:
    """One metric on one sample. Exactly one of value, error, skipped is meaningful."""

    value: float | None = None
    error: str | None = None  # the metric could not be computed: counted apart, never averaged
    skipped: str | None = None  # the metric does not apply to this case (e.g. no expected answer)
    details: dict[str, Any] = field(default_factory=dict)


class Metric(Protocol):
    name: str  # as written in the suite, e.g. "recall@10"
    requires: tuple[str, ...]  # case fields that must be non-empty: "expected_sources", "expected_answer"
    judge: str | None  # name of the judge behind a judged metric, else None

    async def score(self, case: Case, output: Output) -> Score: ...


@dataclass(frozen=True)
class MetricContext:
    """What metric factories may need besides their own arguments."""

    judge: Judge  # the suite's judge: the offline judge, or a model judge when `judge:` is set
    endpoint: EndpointSpec | None = None  # the suite's `judge:` model, for metrics computed by ragas


@dataclass
class _NamedJudge:
    """Stands in for a model judge while a suite is validated (no client, no calls)."""

    spec: EndpointSpec
    stats: Any = None
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.spec.label

    async def faithfulness(self, question: str, answer: str, passages: list[Any]) -> Any:
        raise NotImplementedError


MetricFactory = Callable[[str, "int | None", MetricContext], Metric]

metric_registry: Registry[MetricFactory] = Registry(
    "metric",
    "evalkit.metrics",
    builtins=("evalkit.metrics.retrieval", "evalkit.metrics.answer", "evalkit.metrics.grounding",
              "evalkit.metrics.ragas"),
)

_NAME = re.compile(r"^(?P<base>[a-z][a-z0-9_]*)(?:@(?P<k>\d+))?$")
# metrics whose factory takes a cutoff; for these `@k` is allowed (and required where noted)
TAKES_K = {"hit_rate": True, "recall": True, "precision": True, "ndcg": True, "mrr": False, "map": False}


def parse_metric_name(name: str) -> tuple[str, int | None]:
    match = _NAME.match(name)
    if not match:
        raise EvalkitError(f"bad metric name '{name}'", hint="write a name like recall@10, mrr or faithfulness")
    base, k = match["base"], match["k"]
    metric_registry.get(base)  # unknown names fail here with a did-you-mean
    if k is not None and base not in TAKES_K:
        raise EvalkitError(f"metric '{base}' takes no @k cutoff", hint=f"write '{base}'")
    if k is None and TAKES_K.get(base):
        raise EvalkitError(f"metric '{base}' needs a cutoff", hint=f"write '{base}@10'")
    if k is not None and int(k) < 1:
        raise EvalkitError(f"metric '{name}': the cutoff must be at least 1")
    return base, int(k) if k is not None else None


def build_metric(name: str, context: MetricContext) -> Metric:
    base, k = parse_metric_name(name)
    return metric_registry.get(base)(name, k, context)


def check_metric_names(names: list[str], cases: list[Case], where: Callable[[int], str],
                       judge: EndpointSpec | None = None) -> None:
    """Reject unknown metric names, model-judged metrics without a judge, and metrics no case has data for."""
    from evalkit.judges.offline import OfflineJudge

    context = MetricContext(judge=_NamedJudge(judge) if judge else OfflineJudge(), endpoint=judge)
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise EvalkitError(f"metric '{name}' is listed twice", where=f"{where(i)}: metrics[{i}]")
        seen.add(name)
        try:
            metric = build_metric(name, context)
        except EvalkitError as exc:
            exc.where = f"{where(i)}: metrics[{i}]"
            raise
        for needed in metric.requires:
            if not any(getattr(case, needed) for case in cases):
                raise EvalkitError(
                    f"metric '{name}' needs {needed}, but no case has one",
                    where=f"{where(i)}: metrics[{i}]",
                    hint=f"add {needed} to the cases or remove the metric",
                )
