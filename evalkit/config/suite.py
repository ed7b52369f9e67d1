"""The suite file: pydantic models (unknown keys are errors) and loading with file:line errors."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.candidates.base import CandidateConfig, candidate_kinds
from evalkit.config.corpus import load_corpus
from evalkit.config.yaml_source import Loc, YamlSource, dotted, validation_error
from evalkit.core.corpus import Corpus
from evalkit.core.errors import EvalkitError, did_you_mean
from evalkit.core.readers import list_cell, read_records
from evalkit.core.records import Case
from evalkit.core.specs import AbstentionSpec, BudgetSpec, CheckSpec, GateSpec, MetricSpec, VerdictSpec
from evalkit.judges.spec import JUDGE_KINDS, OFFLINE_NAME, JudgeSpec
from evalkit.metrics.operational import OPERATIONAL_NAMES


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorpusSpec(_Model):
    path: str  # the file or folder, relative to the suite file
    id_field: str = "id"  # the column holding each document's id (what expected_sources name)
    text_field: str = "text"  # the column holding the text
    title_field: str | None = "title"  # the column holding a title, prefixed to the text; null: none


class CasesFile(_Model):
    path: str  # a .jsonl, .jsonl.gz, .csv or .parquet file of cases, relative to the suite file
    limit: int | None = Field(default=None, ge=1, description="use only the first N cases")
    tags: list[str] = Field(default_factory=list, description="use only the cases with one of these tags")


class CasesDataset(_Model):
    """Cases from a Hugging Face dataset saved on disk, or a parquet/JSON/CSV file read by `datasets`."""

    dataset: str  # a `datasets.save_to_disk` folder or a parquet, JSON or CSV file
    split: str | None = None  # default: test if there is one, else the first
    columns: dict[str, str] = Field(default_factory=dict, description="case field: dataset column")
    limit: int | None = Field(default=None, ge=1, description="use only the first N cases")
    tags: list[str] = Field(default_factory=list, description="use only the cases with one of these tags")


class SuiteSpec(_Model):
    """Top level of a suite file. `cases` and `candidates` are validated per item afterwards."""

    # the suite's name: its reports folder, MLflow experiment (evalkit-<name>) and baselines
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""  # a line saying what the suite checks, shown in reports and MLflow
    corpus: CorpusSpec | None = None  # the documents candidates retrieve from and cases cite
    # the questions: a list of cases, or a file or dataset of them
    cases: list[dict[str, Any]] | CasesFile | CasesDataset
    # what answers: each a mapping with name and kind (the Candidate sections)
    candidates: list[dict[str, Any]] = Field(min_length=1)
    metrics: list[str] = Field(min_length=1)  # metric names, e.g. recall@10, mrr, faithfulness (docs/metrics.md)
    gates: list[GateSpec] = Field(default_factory=list)  # rules a candidate must pass: a failed gate is exit code 1
    judge: JudgeSpec | None = None  # None: the offline judge
    abstention: AbstentionSpec = AbstentionSpec()  # how an answer that declines is recognised
    checks: list[CheckSpec] = Field(default_factory=list)  # format checks on every answer: metrics check_<name>
    budget: BudgetSpec | None = None  # a cap on spend; None: no cap
    as_of: dt.date | None = None  # the date answers and sources must be current at; None: today
    # share of samples that may error before the run is incomplete (exit 3)
    max_error_rate: float = Field(default=0.0, ge=0, le=1)
    labels: str | None = None  # human labels of samples (evalkit labels sample): PPI estimates of judged metrics
    concurrency: int = Field(default=4, ge=1, le=256)  # samples in flight at once (evalkit run --concurrency)
    executor: Literal["local", "ray"] = "local"  # where samples are computed (evalkit run --executor)
    verdict: VerdictSpec = VerdictSpec()  # which candidates the verdict compares


@dataclass
class Suite:
    """A validated suite with its corpus and cases loaded."""

    spec: SuiteSpec
    path: Path
    content_hash: str
    corpus: Corpus | None
    cases: list[Case]
    candidates: list[CandidateConfig]
    notes: list[str] = field(default_factory=list)  # deprecations worth telling the user, with file:line

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        # short: asyncio formats the arguments of a run's coroutine (a Suite) when it restores its
        # signal handler, and the full repr of 809 cases and a corpus took a second
        return f"Suite({self.name!r}, {len(self.cases)} cases, {len(self.candidates)} candidates)"

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def as_of(self) -> dt.date:
        return self.spec.as_of or dt.date.today()

    def resolve(self, relative: str) -> Path:
        return (self.directory / relative).resolve()


def load_suite(path: Path, *, limit: int | None = None, only: list[str] | None = None) -> Suite:
    """Parse, validate and load a suite. Raises EvalkitError with file:line on any problem. `only`
    keeps these candidates (and the gates that name none or one of them)."""
    source = YamlSource(path)
    if not isinstance(source.data, dict):
        raise EvalkitError("a suite must be a YAML mapping with name, cases, candidates and metrics", where=str(path))
    notes = _upgrade_judge(source)
    if isinstance(source.data.get("judge"), dict):  # a model judge may run a local model with an adapter too
        source.data["judge"] = _read_adapter(source, source.data["judge"], ("judge",))
    _read_schemas(source, source.data.get("checks"), ("checks",))
    spec = _validate(source, SuiteSpec, source.data)
    candidates = [_candidate(source, i, raw) for i, raw in enumerate(spec.candidates)]
    _check_unique(source, [c.name for c in candidates], ("candidates",), "candidate name", "name")

    corpus = None
    if spec.corpus is not None:
        corpus_path = (path.parent / spec.corpus.path).resolve()
        if not corpus_path.exists():
            raise EvalkitError(
                f"corpus not found: {corpus_path}", where=source.where(("corpus", "path")),
                hint="paths in a suite are relative to the suite file",
            )
        corpus = load_corpus(corpus_path, id_field=spec.corpus.id_field,
                             text_field=spec.corpus.text_field, title_field=spec.corpus.title_field)
    elif any(c.needs_corpus() for c in candidates):
        needing = next(c for c in candidates if c.needs_corpus())
        raise EvalkitError(f"candidate '{needing.name}' retrieves from a corpus, but the suite has none",
                           where=f"{path}:1", hint="add a 'corpus:' section with a path")

    cases, case_locations = _load_cases(source, spec, limit)
    if corpus is not None:
        _check_sources(cases, case_locations, corpus)

    check_metric_names(spec.metrics, cases, lambda i: source.where(("metrics", i)), spec.judge, spec.abstention,
                       corpus)
    checks = [c.metric for c in spec.checks] + [c.metric for case in cases for c in case.checks]
    for i, gate in enumerate(spec.gates):
        if gate.metric not in spec.metrics and gate.metric not in OPERATIONAL_NAMES and gate.metric not in checks:
            raise EvalkitError(f"gate on metric '{gate.metric}', which the suite does not compute",
                               where=source.where(("gates", i, "metric")),
                               hint=did_you_mean(gate.metric, [*spec.metrics, *OPERATIONAL_NAMES, *checks])
                               or "add it to 'metrics:'")
        if gate.candidate is not None and gate.candidate not in {c.name for c in candidates}:
            raise EvalkitError(f"gate on unknown candidate '{gate.candidate}'",
                               where=source.where(("gates", i, "candidate")),
                               hint=did_you_mean(gate.candidate, [c.name for c in candidates]))

    _check_labels(source, spec, corpus, cases)
    scored = [*spec.metrics, *checks]
    for case, location in zip(cases, case_locations, strict=True):
        for expectation in case.expect:
            if expectation.metric not in scored:
                raise EvalkitError(f"case '{case.id}' expects metric '{expectation.metric}', which the suite does not "
                                   "compute", where=location,
                                   hint=did_you_mean(expectation.metric, scored) or "add it to 'metrics:'")
    names = [c.name for c in candidates]
    for i, pair in enumerate(spec.verdict.pairs):
        for j, name in enumerate(pair):
            if name not in names:
                raise EvalkitError(f"verdict pair names unknown candidate '{name}'",
                                   where=f"{source.where(('verdict', 'pairs', i, j))}: verdict.pairs[{i}][{j}]",
                                   hint=did_you_mean(name, names) or f"candidates: {', '.join(names)}")
    if only:
        for name in only:
            if name not in names:
                raise EvalkitError(f"--candidate {name}: the suite has no such candidate", where=str(path),
                                   hint=did_you_mean(name, names) or f"its candidates: {', '.join(names)}")
        candidates = [c for c in candidates if c.name in only]
        spec = spec.model_copy(update={"gates": [g for g in spec.gates if g.candidate is None or g.candidate in only]})

    digest = hashlib.sha256(path.read_bytes())
    digest.update((corpus.content_hash if corpus else "").encode())
    for case in cases:
        digest.update(case.model_dump_json().encode())
    return Suite(spec, path, digest.hexdigest()[:16], corpus, cases, candidates, notes)


def _check_labels(source: YamlSource, spec: SuiteSpec, corpus: Corpus | None, cases: list[Case]) -> None:
    """The labels file reads, and gates on a PPI statistic are on judged metrics."""
    from evalkit.config.labels import read_labels
    from evalkit.metrics.base import MetricContext, build_metric

    if spec.labels is not None:
        path = (source.path.parent / spec.labels).resolve()
        if not path.is_file():
            raise EvalkitError(f"labels file not found: {path}", where=source.where(("labels",)),
                               hint="write one with `evalkit labels sample RUN_DIR`; paths are relative to the suite")
        read_labels(path)  # errors name the file and line
    context = MetricContext(judge=_ValidationJudge(spec.judge), endpoint=spec.judge.endpoint if spec.judge else None,
                            abstention=spec.abstention, corpus=corpus)
    for i, gate in enumerate(spec.gates):
        if not gate.statistic.startswith("ppi"):
            continue
        if gate.metric in OPERATIONAL_NAMES or build_metric(gate.metric, context).spec.judge is None:
            raise EvalkitError(f"statistic '{gate.statistic}' on '{gate.metric}', which no judge scores",
                               where=source.where(("gates", i, "statistic")),
                               hint="PPI corrects a judged metric (e.g. faithfulness) with human labels")
        if spec.labels is None:
            raise EvalkitError(f"statistic '{gate.statistic}' needs human labels", where=source.where(("gates", i)),
                               hint="add 'labels: PATH' to the suite (evalkit labels sample RUN_DIR writes a sheet)")


def _read_schemas(source: YamlSource, checks: Any, loc: Loc) -> None:
    """A check's `json_schema` may name a JSON or YAML file (relative to the suite): read it in, and
    refuse a schema that is not a valid JSON Schema, with the check's file:line."""
    from evalkit.metrics.checks import check_schema

    if not isinstance(checks, list):
        return
    for i, check in enumerate(checks):
        schema = check.get("json_schema") if isinstance(check, dict) else None
        where = source.where((*loc, i, "json_schema"))
        if isinstance(schema, str):
            path = (source.path.parent / schema).resolve()
            if not path.is_file():
                raise EvalkitError(f"schema file not found: {path}", where=f"{where}: {dotted((*loc, i))}.json_schema",
                                   hint="paths in a suite are relative to the suite file")
            try:
                schema = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise EvalkitError(f"cannot read the schema ({exc})", where=str(path)) from None
            check["json_schema"] = schema
        if isinstance(schema, dict) and (problem := check_schema(schema)):
            raise EvalkitError(f"not a valid JSON Schema: {problem}", where=f"{where}: {dotted((*loc, i))}.json_schema")


def _upgrade_judge(source: YamlSource) -> list[str]:
    """Read the 0.1 form `judge: {model: ...}` (no kind) as `kind: ragas`, which is what it meant."""
    judge = source.data.get("judge")
    if not isinstance(judge, dict) or "kind" in judge:
        return []
    if "model" not in judge:
        raise EvalkitError("missing required key 'kind'", where=f"{source.where(('judge',))}: judge",
                           hint=f"one of: {', '.join(JUDGE_KINDS)}")
    source.data["judge"] = {"kind": "ragas", **judge}
    return [f"{source.where(('judge',))}: judge: a judge without 'kind' is read as 'kind: ragas' (ragas's "
            "faithfulness, as before); this form is deprecated: write 'kind: ragas', or 'kind: model' for "
            "evalkit's one-call claim-by-claim judge"]


class _ValidationJudge:
    """Stands in for the suite's judge while metrics are checked (no client, no calls)."""

    stats = None

    def __init__(self, spec: Any):
        self.kind = spec.kind if spec else "offline"
        self.name = spec.judge_name if spec else OFFLINE_NAME

    async def faithfulness(self, question: str, answer: str, passages: list[Any]) -> Any:
        raise NotImplementedError


def metric_specs(suite: Suite) -> list[MetricSpec]:
    """The specs of a suite's listed metrics, built without a judge client (nothing is called)."""
    from evalkit.metrics.base import MetricContext, build_metric

    judge = suite.spec.judge
    context = MetricContext(judge=_ValidationJudge(judge), endpoint=judge.endpoint if judge else None,
                            abstention=suite.spec.abstention, corpus=suite.corpus)
    return [build_metric(name, context).spec for name in suite.spec.metrics if name not in OPERATIONAL_NAMES]


def check_metric_names(names: list[str], cases: list[Case], where: Any, judge: Any = None,
                       abstention: AbstentionSpec | None = None, corpus: Corpus | None = None) -> None:
    """Reject unknown metric names, model-judged metrics without a model judge, and metrics no case
    has data for."""
    from evalkit.metrics.base import MetricContext, build_metric

    context = MetricContext(judge=_ValidationJudge(judge), endpoint=judge.endpoint if judge else None,
                            abstention=abstention or AbstentionSpec(), corpus=corpus)
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise EvalkitError(f"metric '{name}' is listed twice", where=f"{where(i)}: metrics[{i}]")
        seen.add(name)
        if name in OPERATIONAL_NAMES:
            continue
        try:
            metric = build_metric(name, context)
        except EvalkitError as exc:
            exc.where = f"{where(i)}: metrics[{i}]"
            raise
        for needed in metric.spec.case_needs:
            if not any(getattr(case, needed) for case in cases):
                raise EvalkitError(
                    f"metric '{name}' needs {needed}, but no case has one",
                    where=f"{where(i)}: metrics[{i}]",
                    hint=f"add {needed} to the cases or remove the metric",
                )
        if "unanswerable" in metric.spec.needs and all(case.answerable for case in cases):
            raise EvalkitError(f"metric '{name}' is measured on unanswerable cases, and every case is answerable",
                               where=f"{where(i)}: metrics[{i}]",
                               hint="mark the cases the sources cannot answer with 'answerable: false'")


def _validate(source: YamlSource, model: type[BaseModel], data: Any, prefix: Loc = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model, source.where, prefix) from None


def _candidate(source: YamlSource, index: int, raw: dict[str, Any]) -> CandidateConfig:
    loc: Loc = ("candidates", index)
    kind = raw.get("kind")
    if not isinstance(kind, str):
        raise EvalkitError("missing required key 'kind'", where=f"{source.where(loc)}: candidates[{index}]",
                           hint=f"one of: {', '.join(candidate_kinds.names())}")
    try:
        config_type = candidate_kinds.get(kind)
    except EvalkitError as exc:
        exc.where = f"{source.where((*loc, 'kind'))}: candidates[{index}].kind"
        raise
    raw = _read_adapter(source, raw, loc)
    if isinstance(raw.get("generator"), dict):
        raw = {**raw, "generator": _read_adapter(source, raw["generator"], (*loc, "generator"))}
    config = _validate(source, config_type, raw, loc)
    if (problem := config.problem(source.path.parent)) is not None:  # e.g. a python candidate's module is not there
        raise EvalkitError(problem, where=f"{source.where(loc)}: candidates[{index}]",
                           hint="a module next to the suite file, or one installed in this environment")
    return config


def _read_adapter(source: YamlSource, raw: dict[str, Any], loc: Loc) -> dict[str, Any]:
    """A model's `adapter:` (a path, or a mapping with path and a pinned sha256) with its file read
    and hashed, so the hash is part of the config; a missing or different file is a suite error."""
    from evalkit.models.endpoints import Adapter

    written = raw.get("adapter")
    if isinstance(written, str):
        written = {"path": written}
    if not isinstance(written, dict) or not isinstance(written.get("path"), str):
        return raw  # absent, or malformed: the model's validation reports it
    try:
        adapter = Adapter.read(written["path"], source.path.parent, str(written.get("sha256", "")))
    except OSError as exc:
        raise EvalkitError(f"cannot read the adapter file: {exc.strerror or exc}",
                           where=f"{source.where((*loc, 'adapter'))}: {dotted((*loc, 'adapter'))}",
                           hint="paths in a suite are relative to the suite file") from None
    except ValueError as exc:
        from evalkit.models.endpoints import NotGGUF

        hint = ("write a peft adapter in llama.cpp's format (suites/data/finetune.py does; llama.cpp's "
                "convert_lora_to_gguf.py too)" if isinstance(exc, NotGGUF)
                else "retrain it with its recipe, or pin the new file's sha256")
        raise EvalkitError(str(exc), where=f"{source.where((*loc, 'adapter'))}: {dotted((*loc, 'adapter'))}",
                           hint=hint) from None
    return {**raw, "adapter": adapter}


def _check_unique(source: YamlSource, values: list[str], loc: Loc, what: str, key: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise EvalkitError(f"duplicate {what} '{value}'", where=source.where((*loc, i, key)))
        seen.add(value)


def _load_cases(source: YamlSource, spec: SuiteSpec, limit: int | None) -> tuple[list[Case], list[str]]:
    """The cases and, for each, the file:line it came from."""
    cases: list[Case] = []
    where_case: list[str] = []
    if isinstance(spec.cases, CasesFile | CasesDataset):
        key = "path" if isinstance(spec.cases, CasesFile) else "dataset"
        file = (source.path.parent / getattr(spec.cases, key)).resolve()
        if not file.exists():
            raise EvalkitError(f"cases {'file' if key == 'path' else 'dataset'} not found: {file}",
                               where=source.where(("cases", key)),
                               hint="paths in a suite are relative to the suite file")
        limit = limit or spec.cases.limit  # --limit N replaces the suite's own limit (a larger N runs more)
        if isinstance(spec.cases, CasesFile):
            rows: Iterable[tuple[str, dict[str, Any]]] = ((f"{file}:{n}", row) for n, row in read_records(file))
        else:
            from evalkit.config.datasets_source import dataset_rows

            rows = dataset_rows(file, spec.cases.split, spec.cases.columns)
        for where, row in rows:
            if limit is not None and len(cases) >= limit:
                break
            row = _split_lists(row, where)
            try:
                case = Case.model_validate(row)
            except ValidationError as exc:
                raise validation_error(exc, Case, lambda loc, key=False, w=where: w) from None
            if spec.cases.tags and not set(spec.cases.tags) & set(case.tags):
                continue
            cases.append(case)
            where_case.append(where)
    else:
        for i, raw in enumerate(spec.cases):
            if limit is not None and len(cases) >= limit:
                break
            _read_schemas(source, raw.get("checks"), ("cases", i, "checks"))
            cases.append(_validate(source, Case, raw, ("cases", i)))
            where_case.append(source.where(("cases", i, "id")))
    if not cases:
        raise EvalkitError("the suite has no cases", where=source.where(("cases",)))
    seen: dict[str, str] = {}
    for case, where in zip(cases, where_case, strict=True):
        if case.id in seen:
            raise EvalkitError(f"duplicate case id '{case.id}' (first at {seen[case.id]})", where=where)
        seen[case.id] = where
    return cases, where_case


def _split_lists(row: dict[str, Any], where: str) -> dict[str, Any]:
    """Normalise list cells (CSV 'a;b', parquet arrays) to lists and drop empty cells."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "" or (isinstance(value, float) and value != value):
            continue
        listed = ("expected_sources", "accepted_answers", "tags", "distractors", "stale_answers")
        out[key] = list_cell(value, where, key) if key in listed else value
    return out


def _check_sources(cases: list[Case], locations: list[str], corpus: Corpus) -> None:
    for case, where in zip(cases, locations, strict=True):
        for doc_id in case.expected_sources:
            if doc_id not in corpus:
                raise EvalkitError(
                    f"case '{case.id}': expected source '{doc_id}' is not a document id in the corpus",
                    where=where, hint=did_you_mean(doc_id, set(corpus.documents)) or "check the corpus id field",
                )
