"""The console sink: the candidates x metrics table, skipped candidates, gate verdicts, errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from evalkit.sinks.base import sink_kinds

if TYPE_CHECKING:
    from evalkit.core.run import CandidateSummary, PPIEstimate, Run, Verdict


def summary_table(summaries: list[CandidateSummary], metrics: list[str], title: str) -> Table:
    """Metrics as rows and candidates as columns, so a suite with many metrics stays readable."""
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("metric (mean [95% CI])")
    for summary in summaries:
        table.add_column(summary.name, justify="right")
    for metric in metrics:
        cells = []
        for summary in summaries:
            agg = summary.metrics[metric]
            cell = "–" if agg.value is None else f"{agg.value:.3f} [dim][{agg.ci_low:.2f}–{agg.ci_high:.2f}][/dim]"
            if agg.n_errors:
                cell += f" [red]{agg.n_errors} err[/red]"
            cells.append(cell)
        table.add_row(metric, *cells)
        if any(s.metrics[metric].ppi for s in summaries):
            table.add_row(f"  {metric}, with labels (PPI)", *(_ppi_cell(s.metrics[metric].ppi) for s in summaries))
    table.add_row("latency p50", *(_ms(s.metrics["latency_p50"].value) if not s.skipped else "skipped"
                                   for s in summaries))
    if any(s.usage for s in summaries):
        table.add_row("model calls (cached)", *(_calls(s.usage) for s in summaries))
        table.add_row("tokens in / out", *(_tokens(s.usage) for s in summaries))
        table.add_row("cost", *(_cost(s.usage) for s in summaries))
    return table


def _ppi_cell(ppi: PPIEstimate | None) -> str:
    if ppi is None:
        return "–"
    stale = f", {ppi.n_stale} stale" if ppi.n_stale else ""
    return f"{ppi.value:.3f} [dim][{ppi.ci_low:.2f}–{ppi.ci_high:.2f}] {ppi.n_labeled} labels{stale}[/dim]"


def judge_table(judges: dict[str, Any]) -> Table | None:
    """The judge's model calls: what judging cost, beside what answering cost."""
    if not judges:
        return None
    table = Table(header_style="bold")
    for column in ("judge", "calls (cached)", "tokens in / out", "latency p50", "cost"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for name, usage in judges.items():
        table.add_row(name.removeprefix("judge:"), _calls(usage), _tokens(usage), _ms(usage.get("latency_p50_s")),
                      _cost(usage))
    return table


def _calls(usage: dict[str, Any] | None) -> str:
    return f"{usage['calls']} ({usage['cache_hits']})" if usage else "–"


def _tokens(usage: dict[str, Any] | None) -> str:
    return f"{usage['prompt_tokens']:,} / {usage['completion_tokens']:,}" if usage else "–"


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms"


def _cost(usage: dict[str, Any] | None) -> str:
    if not usage:
        return "–"
    if usage.get("local"):
        return "$0 (local)"
    return "unpriced" if usage["cost_usd"] is None else f"${usage['cost_usd']:.4f}"


def print_verdicts(console: Console, verdicts: list[Verdict]) -> None:
    """Each gate's verdict; of the cases' expectations, a count and the ones not met."""
    cases = [v for v in verdicts if v.kind == "case"]
    for verdict in [v for v in verdicts if v.kind != "case"] + [v for v in cases if not v.passed]:
        mark = "[green]PASS[/green]" if verdict.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {verdict.candidate}: {verdict.message}", highlight=False)
    if cases:
        console.print(f"case expectations: {sum(v.passed for v in cases)} of {len(cases)} met", highlight=False)


@sink_kinds.register("console")
@dataclass
class ConsoleSink:
    console: Console
    name = "console"

    def publish(self, run: Run) -> str:
        summary = run.summary
        assert summary is not None
        metrics = run.scored_metrics
        title = f"{run.manifest.suite.name} · run {run.run_id}"
        self.console.print(summary_table(summary.candidates, metrics, title))
        specs = [run.manifest.metric(name) for name in metrics]
        for judged in dict.fromkeys(run.manifest.judge_label(spec) for spec in specs if spec.judge):
            if judged:  # what the judged metrics' numbers are worth, beside them
                self.console.print(f"judge: {judged}", soft_wrap=True, markup=False, highlight=False)
        judges = {name: usage for name, usage in summary.judges.items() if usage and usage.get("calls")}
        if (table := judge_table(judges)) is not None:
            self.console.print(table)
        for candidate in summary.candidates:
            if candidate.skipped:
                self.console.print(f"[yellow]skipped {candidate.name}: {candidate.skipped}[/yellow]")
        for candidate_name, metric, count, reason in not_applicable(run):
            self.console.print(f"[yellow]{metric} is not applicable to any of {candidate_name}'s {count} samples: "
                               f"{reason}[/yellow]", soft_wrap=True, highlight=False)
        if summary.verdict:
            self.console.print("[bold]verdict[/bold] (paired on shared cases; rules in evalkit/analysis/verdict.py):")
            for line in summary.verdict:
                self.console.print(f"  {line}", soft_wrap=True, markup=False)
        print_verdicts(self.console, summary.gates)
        if summary.n_errored_samples:
            self.console.print(f"[yellow]{summary.n_errored_samples} of {summary.n_samples} samples errored "
                               f"({summary.error_rate:.1%}; limit {summary.max_error_rate:.1%}):[/yellow]")
            for count, error, example in error_reasons(run):
                self.console.print(f"  {count} × {error} (e.g. {example})", soft_wrap=True, markup=False)
        if summary.n_missing_samples:
            self.console.print(f"[yellow]incomplete: {summary.n_missing_samples} of {run.manifest.expected_samples} "
                               "samples are missing (the run was interrupted or killed)[/yellow]")
        return f"results: {run.folder}/"


# reasons a reader expects from the candidate's kind (a closed-book model retrieves and cites nothing)
_BY_DESIGN = ("closed-book", "no retrieved passages", "the answer cites nothing", "the answer declines")


def not_applicable(run: Run) -> list[tuple[str, str, int, str]]:
    """(candidate, metric, samples, the most common reason) for each metric that applied to none of
    a candidate's samples, unless the candidate's kind explains it: a column of dashes that would
    surprise needs its reason beside it (e.g. sources returned without their texts)."""
    from collections import Counter

    assert run.summary is not None
    found = []
    for candidate in run.summary.candidates:
        for metric, aggregate in candidate.metrics.items():
            if aggregate.n or not aggregate.n_skipped or metric not in run.scored_metrics:
                continue
            reasons = Counter(str(s.scores[metric].skipped) for s in run.samples
                              if s.candidate == candidate.name and metric in s.scores and s.scores[metric].skipped)
            reason = reasons.most_common(1)[0][0] if reasons else ""
            if reason and not reason.startswith(_BY_DESIGN):
                found.append((candidate.name, metric, aggregate.n_skipped, reason))
    return found


def error_reasons(run: Run, most: int = 3) -> list[tuple[int, str, str]]:
    """The most frequent errors: (count, message, an example "candidate case"), most frequent first.
    A sample counts under its candidate's error, else its first metric error."""
    from collections import Counter

    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for sample in run.samples:
        errors = [sample.output.error] if sample.output.error else [s.error for s in sample.scores.values() if s.error]
        if errors and errors[0]:
            counts[errors[0]] += 1
            examples.setdefault(errors[0], f"{sample.candidate} {sample.case_id}")
    return [(count, error, examples[error]) for error, count in counts.most_common(most)]
