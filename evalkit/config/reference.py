"""The generated references: the suite reference (docs/suite-reference.md), from the models a suite
is validated with: every key, its type, default and meaning, and an example of each section that
the tests validate against its model; and the metrics table in docs/metrics.md, from the specs the
metrics declare (direction, unit, statistic, what each reads, when it is not applicable). A test
fails when either is stale:

    python -m evalkit.config.reference > docs/suite-reference.md
    python -m evalkit.config.reference --metrics     (the table between docs/metrics.md's markers)

A key's meaning is its Field description, else the comment on its line or the lines above it in
the source: the comments the code is read with are the reference users read.
"""

from __future__ import annotations

import inspect
import io
import re
import tokenize
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from evalkit.candidates.base import candidate_kinds
from evalkit.candidates.chat import ChatSpec
from evalkit.candidates.rag import ChunkingSpec, ExtractiveSpec, RetrieverSpec
from evalkit.config.suite import CasesDataset, CasesFile, CorpusSpec, SuiteSpec
from evalkit.core.records import Case
from evalkit.core.specs import (
    AbstentionSpec,
    BudgetSpec,
    CheckSpec,
    Expectation,
    GateSpec,
    MetricSpec,
    NoRegression,
    VerdictSpec,
)
from evalkit.judges.spec import ModelJudgeSpec, OfflineJudgeSpec, RagasJudgeSpec
from evalkit.models.endpoints import Adapter, Price

# each section: its title, its model, where it goes in a suite, and an example (validated by the tests)
SECTIONS: list[tuple[str, type[BaseModel], str, str]] = [
    ("Suite", SuiteSpec, "the top level of the file", """\
name: support-bot
corpus: {path: docs}
cases: {path: cases.jsonl}
candidates:
  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: 5}}
metrics: [recall@5, mrr, faithfulness]
gates:
  - {metric: recall@5, min: 0.8}
"""),
    ("Corpus", CorpusSpec, "`corpus:`: a .jsonl, .jsonl.gz, .csv or .parquet file, or a folder of .md/.txt files", """\
path: corpus.jsonl.gz
id_field: doc_id
text_field: body
"""),
    ("Cases from a file", CasesFile, "`cases:` as a mapping with `path`", """\
path: cases.jsonl
tags: [billing]
"""),
    ("Cases from a dataset", CasesDataset, "`cases:` as a mapping with `dataset`", """\
dataset: data/squad.parquet
columns: {question: question, expected_answer: answer}
limit: 100
"""),
    ("Case", Case, "each item of `cases:` (inline or one line of a cases file)", """\
id: refund-window
question: How long do I have to ask for a refund?
expected_answer: 30 days
accepted_answers: [thirty days]
expected_sources: [refunds.md]
tags: [billing]
"""),
    ("Expectation", Expectation, "each item of a case's `expect:`", """\
metric: token_f1
min: 0.5
"""),
    *[(f"Candidate `kind: {name}`", candidate_kinds.get(name), "each item of `candidates:`", example)
      for name, example in (
          ("rag", """\
name: hybrid-gpt
kind: rag
retriever: {kind: hybrid, top_k: 5}
chunking: {chunk_size: 256, chunk_overlap: 32}
generator: {kind: chat, model: gpt-4o-mini}
"""),
          ("model", """\
name: gemma-lora
kind: model
model: local:gemma-3-270m
api: completion
examples: examples.jsonl
stop: ["\\n"]
adapter: finetune/adapter.gguf
"""),
          ("http", """\
name: production
kind: http
url: http://127.0.0.1:8000/ask
"""),
          ("python", """\
name: my-pipeline
kind: python
function: my_pipeline:answer
params: {top_k: 3}
"""),
          ("recorded", """\
name: last-release
kind: recorded
path: answers.jsonl
"""),
      )],
    ("Retriever", RetrieverSpec, "a `rag` candidate's `retriever:`", "kind: dense\ntop_k: 10\nmax_tokens: 128\n"),
    ("Chunking", ChunkingSpec, "a `rag` candidate's `chunking:`", "chunk_size: 256\nchunk_overlap: 32\n"),
    ("Extractive generator", ExtractiveSpec, "a `rag` candidate's `generator:` with `kind: extractive` (the default)",
     "kind: extractive\nmax_sentences: 2\n"),
    ("Chat generator", ChatSpec, "a `rag` candidate's `generator:` with `kind: chat`", """\
kind: chat
model: gpt-4o-mini
base_url: https://api.openai.com/v1
api_key_env: OPENAI_API_KEY
price: {input: 0.15, output: 0.6}
"""),
    ("Price", Price, "a model's `price:`, to count cost", "input: 0.15\noutput: 0.6\n"),
    ("Adapter", Adapter, "a local model's `adapter:` (or its path alone)", "path: finetune/adapter.gguf\n"),
    ("Offline judge", OfflineJudgeSpec, "`judge:` with `kind: offline` (the default judge)", "kind: offline\n"
     "features: span\n"),
    ("Model judge", ModelJudgeSpec, "`judge:` with `kind: model`: evalkit's claim-by-claim prompt", """\
kind: model
model: gpt-4o-mini
"""),
    ("ragas judge", RagasJudgeSpec, "`judge:` with `kind: ragas`: ragas's Faithfulness",
     "kind: ragas\nmodel: gpt-4o-mini\n"),
    ("Gate", GateSpec, "each item of `gates:`", "metric: recall@5\nstatistic: ci_low\nmin: 0.7\ncandidate: bm25\n"),
    ("No regression", NoRegression, "a gate's `no_regression:`", "baseline: production\nmax_drop: 0.02\n"),
    ("Check", CheckSpec, "each item of `checks:` (in the suite or a case): the metric `check_<name>`", """\
name: short
max_words: 40
not_contains: ["As an AI"]
"""),
    ("Abstention", AbstentionSpec, "`abstention:`: how an answer that declines is recognised",
     "phrases: [\"i don't know\", not in the documents]\n"),
    ("Budget", BudgetSpec, "`budget:`: a cap on spend", "max_usd: 2.5\nmax_calls: 5000\n"),
    ("Verdict", VerdictSpec, "`verdict:`: the comparisons the verdict makes", "pairs: [[bm25, hybrid-gpt]]\n"),
]


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """Each field's comment in the model's source: on its line, else on the lines right above it."""
    lines, _ = inspect.getsourcelines(model)
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        field = re.match(r"^    ([a-z_][a-z0-9_]*)\s*:", line)
        if not field:
            continue
        if number in comments and not line.lstrip().startswith("#"):
            found[field.group(1)] = comments[number]
            continue
        above: list[str] = []
        at = number - 1
        while at in comments and lines[at - 1].lstrip().startswith("#"):
            above.insert(0, comments[at])
            at -= 1
        if above:
            found[field.group(1)] = " ".join(above)
    return found


def _type(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        named = [_type(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin in (list, tuple):
        inner = [a for a in args if a is not Ellipsis]
        return f"list of {' and '.join(_type(a) for a in inner)}" if inner else "list"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        title = next((t for t, m, _, _ in SECTIONS if m is annotation), None)
        return f"[{title}](#{_anchor(title)})" if title else annotation.__name__
    return {str: "string", int: "integer", float: "number", bool: "boolean", typing.Any: "any"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "its defaults"
    if value is None:
        return "null"
    if isinstance(value, tuple) and len(value) > 4:
        return f"{len(value)} phrases (below)"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value!r}`" if isinstance(value, str) else f"`{value}`" if value not in ([], {}, ()) else "empty"


def _bounds(field: FieldInfo) -> str:
    said = []
    for rule in field.metadata:
        for name, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(rule, name, None) is not None:
                said.append(f"{sign} {getattr(rule, name)}")
        if getattr(rule, "pattern", None):
            said.append(f"matches `{rule.pattern}`")
    return f" ({', '.join(said)})" if said else ""


def section(title: str, model: type[BaseModel], where: str, example: str) -> str:
    comments = _comments_of(model)
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        meaning = field.description or comments.get(name, "")
        if not meaning and typing.get_origin(field.annotation) is typing.Literal \
                and len(typing.get_args(field.annotation)) == 1:
            meaning = "selects this section"
        meaning = meaning.replace("|", "\\|")
        rows.append(f"| `{name}` | {_type(field.annotation)}{_bounds(field)} | {_default(field)} | {meaning} |")
    own = inspect.cleandoc(model.__dict__.get("__doc__") or "").split("\n\n")[0]  # its own, not inherited
    intro = f"{where[0].upper()}{where[1:]}." + (f" {' '.join(own.split())}" if own else "")
    return f"## {title}\n\n{intro}\n\n" + "\n".join(rows) + f"\n\n```yaml\n{example}```\n"


def _comments_of(model: type[BaseModel]) -> dict[str, str]:
    """Comments of the model and of the models it inherits its fields from (the nearest wins)."""
    found: dict[str, str] = {}
    for base in reversed(model.__mro__):
        if isinstance(base, type) and issubclass(base, BaseModel) and base.__module__.startswith("evalkit."):
            found.update(_comments(base))
    return found


def render() -> str:
    from evalkit.core.specs import DECLINES

    head = ("# Suite reference\n\nEvery key a suite file may hold, generated from the models evalkit validates suites "
            "with (`python -m evalkit.config.reference > docs/suite-reference.md`; a test fails when this page is "
            "stale). Unknown keys are errors, named with their file and line. [Writing a suite](suites.md) shows "
            "whole suites; [metrics](metrics.md) lists the metric names.\n\n"
            + "\n".join(f"- [{title}](#{_anchor(title)})" for title, _, _, _ in SECTIONS) + "\n")
    declines = "The phrases an answer declines with, by default: " + ", ".join(f'"{p}"' for p in DECLINES) + ".\n"
    return "\n".join([head, *(section(*parts) for parts in SECTIONS), declines])


METRICS_BEGIN = "<!-- generated: python -m evalkit.config.reference --metrics -->"
METRICS_END = "<!-- end of the generated table -->"
READS = {"ranked_ids": "retrieved ids", "answer": "the answer", "passages": "passages' texts", "judge": "the judge",
         "expected_sources": "expected_sources", "expected_answer": "expected_answer",
         "declines": "declining phrases", "answerable": "", "unanswerable": ""}


def not_applicable(spec: MetricSpec) -> str:
    """When runner/score.py makes the metric not applicable, from its needs (and its name's `check_`)."""
    said = []
    if "ranked_ids" in spec.needs:
        said.append("closed-book candidates")
    for needed in spec.case_needs:
        exempt = needed == "expected_answer" and "declines" in spec.needs
        said.append(f"cases without {needed}" + (" (unless unanswerable)" if exempt else ""))
    if "unanswerable" in spec.needs:
        said.append("answerable cases")
    if "answerable" in spec.needs:
        said.append("unanswerable cases")
    if spec.judge:
        said.append("a judge whose key is unset")
    return "; ".join(said) or "–"


def metrics_table() -> str:
    """One row per registered metric, from the spec it declares: built with a model judge, so that
    the metrics only a model judge computes are there too."""
    from evalkit.judges.factory import build_judge
    from evalkit.judges.spec import RagasJudgeSpec
    from evalkit.metrics.base import TAKES_K, MetricContext, build_metric, metric_registry
    from evalkit.models.endpoints import CacheSettings

    spec = RagasJudgeSpec(model="gpt-4o-mini", api_key_env=None)
    context = MetricContext(judge=build_judge(spec, CacheSettings(None)), endpoint=spec)
    rows = ["| metric | better | unit | statistic | needs | not applicable to |",
            "| --- | --- | --- | --- | --- | --- |"]
    for base in metric_registry.names():
        metric = build_metric(f"{base}@10" if TAKES_K.get(base) else base, context).spec
        reads = ", ".join(filter(None, (READS.get(need, need) for need in metric.needs))) or "–"
        name = f"{base}@k" if TAKES_K.get(base) else base
        rows.append(f"| `{name}` | {metric.direction} | {metric.unit} | {metric.aggregate} | {reads} | "
                    f"{not_applicable(metric)} |")
    return "\n".join(rows)


def metrics_page(page: str) -> str:
    """docs/metrics.md with its generated table replaced by the current one."""
    head, rest = page.split(METRICS_BEGIN, 1)
    return f"{head}{METRICS_BEGIN}\n{metrics_table()}\n{METRICS_END}{rest.split(METRICS_END, 1)[1]}"


if __name__ == "__main__":
    import sys

    print(metrics_table() if sys.argv[1:] == ["--metrics"] else render(), end="\n" if sys.argv[1:] else "")
