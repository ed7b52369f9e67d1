"""The Metric protocol, the metric registry and `name@k` parsing.

A metric is its spec (name, parameters, direction, unit, what it needs; recorded in the run
manifest) plus an async `score(case, output)`. Each metric module registers a factory per base
name; `build_metric("recall@10", context)` parses the name and asks the factory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from evalkit.core.errors import EvalkitError
from evalkit.core.registry import Registry
from evalkit.core.specs import AbstentionSpec, MetricSpec

if TYPE_CHECKING:
    import datetime as dt

    from evalkit.core.corpus import Corpus
    from evalkit.core.judge import Judge
    from evalkit.core.records import Case, Output, Score
    from evalkit.models.endpoints import EndpointSpec


class Metric(Protocol):
    spec: MetricSpec

    async def score(self, case: Case, output: Output) -> Score: ...


@dataclass(frozen=True)
class MetricContext:
    """What metric factories may need besides their own arguments."""

    judge: Judge  # the suite's judge (offline, model or ragas)
    endpoint: EndpointSpec | None = None  # the judge's model, for metrics computed by ragas
    abstention: AbstentionSpec = field(default_factory=AbstentionSpec)  # how a declining answer is recognised
    corpus: Corpus | None = None  # the suite's documents, with their dates
    as_of: dt.date | None = None  # the date sources must be current at


MetricFactory = Callable[[str, "int | None", MetricContext], Metric]

metric_registry: Registry[MetricFactory] = Registry(
    "metric",
    "evalkit.metrics",
    builtins=("evalkit.metrics.retrieval", "evalkit.metrics.answer", "evalkit.metrics.grounding",
              "evalkit.metrics.ragas", "evalkit.metrics.citations", "evalkit.metrics.abstention",
              "evalkit.metrics.freshness"),
)

_NAME = re.compile(r"^(?P<base>[a-z][a-z0-9_]*)(?:@(?P<k>\d+))?$")
# metrics whose factory takes a cutoff; for these `@k` is allowed (and required where noted)
TAKES_K = {"hit_rate": True, "recall": True, "precision": True, "ndcg": True, "mrr": False, "map": False}


def parse_metric_name(name: str) -> tuple[str, int | None]:
    logged = re.fullmatch(r"(?P<base>\w+?)_at_(?P<k>\d+)", name)  # how MLflow shows recall@5: recall_at_5
    if logged and logged["base"] in metric_registry.names():
        raise EvalkitError(f"unknown metric '{name}'", hint=f"did you mean '{logged['base']}@{logged['k']}'? "
                                                           "(MLflow shows @ as _at_)")
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
