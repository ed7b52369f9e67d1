"""What a run is: its manifest (what ran), its samples, and its summary (what it means).

A run folder holds `header.json` (the RunManifest), `samples.jsonl` (one Sample a line),
`passages.jsonl.gz` (the text of every corpus passage the samples name, once) and `summary.json`
(a Summary, computed from the samples by one function and rewritable from them). Every sink reads
a `Run`, and nothing else: a report, a rescore or a labels sheet needs the folder, not the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evalkit.core.errors import ExitCode
from evalkit.core.records import Output, Sample
from evalkit.core.specs import GateSpec, MetricSpec

SCHEMA = "evalkit.run/3"
SCHEMA_V2 = "evalkit.run/2"  # no passages file: passage texts are read back from the suite's corpus
SCHEMA_V1 = "evalkit.run/1"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SuiteInfo(_Record):
    name: str
    path: str = ""
    hash: str = ""  # content hash of the suite file, its corpus and its cases
    description: str = ""


class CandidateInfo(_Record):
    name: str
    kind: str = ""
    params: dict[str, Any] = Field(default_factory=dict)  # the config flattened to dotted keys
    config_hash: str = ""  # content key of the resolved config
    skipped: str | None = None  # why it did not run (e.g. its API key variable is unset)
    served_by: dict[str, Any] = Field(default_factory=dict)  # a local model: its file's sha256, the server, settings
    retrieves: bool = True  # False: closed book, retrieval metrics do not apply (evalkit.run/3)


class JudgeInfo(_Record):
    name: str  # e.g. "offline-v2" or "gpt-4o-mini@https://..."
    kind: str  # offline | model | ragas
    spec: dict[str, Any] = Field(default_factory=dict)
    agreement: str | None = None  # measured agreement with human labels, when on record


class RunManifest(_Record):
    """What ran: the suite, candidates with their resolved configs, metrics, gates, code and machine."""

    run_schema: str = Field(default=SCHEMA, alias="schema")
    run_id: str
    suite: SuiteInfo
    evalkit_version: str = ""
    git_commit: str | None = None
    started_at: str = ""
    environment: dict[str, str] = Field(default_factory=dict)  # python, platform
    n_cases: int
    candidates: list[CandidateInfo]
    metrics: list[MetricSpec]
    judge: JudgeInfo | None = None
    gates: list[GateSpec] = Field(default_factory=list)
    max_error_rate: float = 0.0
    allow_skipped: bool = False
    source_run: str | None = None  # a rescored run: the run whose outputs it scored again
    labels: str | None = None  # the suite's labels file, as written in the suite (relative to it)
    verdict_pairs: list[tuple[str, str]] = Field(default_factory=list)  # verdict: {pairs} (none: the default)
    # what rescoring needs besides the judge when the suite file is gone (evalkit.run/3)
    abstention: dict[str, Any] | None = None  # the suite's abstention: setting
    as_of: str | None = None  # the date answers and sources had to be current at

    def metric(self, name: str) -> MetricSpec:
        return next(spec for spec in self.metrics if spec.name == name)

    def judge_label(self, spec: MetricSpec) -> str | None:
        """How reports name the judge behind a metric, with its measured agreement when known."""
        if spec.judge is None:
            return None
        return (self.judge.agreement or self.judge.name) if self.judge else spec.judge

    @property
    def expected_samples(self) -> int:
        return self.n_cases * sum(not c.skipped for c in self.candidates)


class PPIEstimate(_Record):
    """A judged metric's mean corrected by human labels (analysis.ppi), with its 95% CI."""
    value: float
    ci_low: float
    ci_high: float
    lam: float  # PPI++'s weight on the judge: 1 = trust the judge's mean, 0 = the labels alone
    n_labeled: int  # labelled samples used (their answer unchanged since labelling)
    n_stale: int = 0  # labels whose answer changed since: ignored
    judge_mean: float  # the judge alone on the same samples, for comparison
    human_mean: float  # mean label on the labelled samples
    agreement: dict[str, float] = Field(default_factory=dict)  # judge vs labels on the labelled samples


class MetricAggregate(_Record):
    metric: str
    n: int  # samples scored
    n_errors: int  # samples where the metric (or the candidate) failed: never averaged in
    n_skipped: int  # samples the metric does not apply to
    value: float | None = None  # the metric's statistic (its mean, or a percentile) over scored samples
    ci_low: float | None = None  # 95% bootstrap confidence interval of that statistic
    ci_high: float | None = None
    judge: str | None = None
    ppi: PPIEstimate | None = None  # with human labels for a judged metric


class CandidateSummary(_Record):
    name: str
    n_samples: int
    n_failed: int  # samples where the candidate itself errored
    metrics: dict[str, MetricAggregate] = Field(default_factory=dict)
    skipped: str | None = None
    usage: dict[str, Any] | None = None  # model calls, tokens, cost, latency (CallStats.as_dict)


class Verdict(_Record):
    gate: int  # index of the gate in the suite
    kind: str  # "threshold" | "no_regression" | "case" (a case's expectation; gate is -1)
    candidate: str
    metric: str
    rule: str  # e.g. "ci_low >= 0.6" or "no drop > 0.02 vs production (alpha 0.05)"
    value: float | None = None  # the statistic compared, or the change (new - old) for no_regression
    passed: bool = False
    message: str = ""
    case_id: str | None = None  # the case, for a case's expectation


class BaselineRef(_Record):
    """The baseline run this run was compared with (its no-regression gates, the report's per-question change)."""
    name: str  # the reference as given: a baseline name, run folder or MLflow run id
    run_id: str  # the evalkit run id it resolved to


class Summary(_Record):
    run_schema: str = Field(default=SCHEMA, alias="schema")
    status: str  # "complete" | "interrupted"
    finished_at: str = ""
    n_samples: int
    n_errored_samples: int
    n_missing_samples: int = 0  # expected samples the run has no record of
    error_rate: float  # (errored + missing) / expected
    max_error_rate: float = 0.0
    candidates: list[CandidateSummary]
    gates: list[Verdict] = Field(default_factory=list)
    noise: dict[str, Any] | None = None
    judges: dict[str, Any] = Field(default_factory=dict)  # usage of judge model calls
    verdict: list[str] = Field(default_factory=list)  # what the numbers mean for the choice (analysis.verdict)
    baseline: BaselineRef | None = None
    labels: str | None = None  # the human labels file behind the PPI estimates

    @property
    def exit_code(self) -> ExitCode:
        if self.error_rate > self.max_error_rate:
            return ExitCode.INCOMPLETE
        if any(not verdict.passed for verdict in self.gates):
            return ExitCode.GATE_FAILED
        return ExitCode.OK

    def candidate(self, name: str) -> CandidateSummary:
        return next(c for c in self.candidates if c.name == name)


class Run(_Record):
    """A run: where it lives, what ran, its samples, and (once finished) its summary."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    folder: Path
    manifest: RunManifest
    samples: list[Sample]
    summary: Summary | None = None
    passages: dict[str, str] | None = None  # corpus passage texts by node id; None: not stored (evalkit.run/2)

    def with_texts(self, sample: Sample) -> Output:
        """The sample's output with its corpus passages' texts, from the run folder."""
        return sample.output.with_texts(self.passages or {})

    @property
    def candidates(self) -> list[str]:
        return [c.name for c in self.manifest.candidates]

    @property
    def metrics(self) -> list[str]:
        return [m.name for m in self.manifest.metrics]

    @property
    def scored_metrics(self) -> list[str]:
        """The metrics a scorer computes per sample: the tables' rows (latency and cost are shown apart)."""
        return [m.name for m in self.manifest.metrics if m.source == "score"]

    @property
    def run_id(self) -> str:
        return self.manifest.run_id
