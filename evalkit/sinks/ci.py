"""CI outputs: JUnit XML (one test case per gate and candidate) and a Markdown job summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from evalkit.sinks.base import sink_kinds

if TYPE_CHECKING:
    from evalkit.core.run import Run


def write_junit(run: Run, path: Path) -> None:
    """JUnit XML in the common (Ant/Jenkins) form that CI systems read."""
    assert run.summary is not None
    summary, manifest = run.summary, run.manifest
    gates = summary.gates
    failures = sum(not g.passed for g in gates)
    suite_name = f"evalkit.{manifest.suite.name}"
    root = ET.Element("testsuites", name="evalkit", tests=str(len(gates)), failures=str(failures), errors="0")
    suite = ET.SubElement(root, "testsuite", name=suite_name, tests=str(len(gates)), failures=str(failures),
                          errors="0", skipped="0", timestamp=manifest.started_at[:19], time="0")
    properties = ET.SubElement(suite, "properties")
    for key, value in (("run_id", run.run_id), ("suite_hash", manifest.suite.hash),
                       ("error_rate", f"{summary.error_rate:.4f}")):
        ET.SubElement(properties, "property", name=key, value=str(value))
    for gate in gates:
        case = ET.SubElement(suite, "testcase", classname=f"{suite_name}.{gate.candidate}",
                             name=gate.rule if gate.kind == "case" else f"{gate.metric}: {gate.rule}", time="0")
        if not gate.passed:
            failure = ET.SubElement(case, "failure", message=gate.message, type="GateFailed")
            failure.text = gate.message
        else:
            ET.SubElement(case, "system-out").text = gate.message
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def markdown_summary(run: Run) -> str:
    """A Markdown summary for CI job pages (e.g. $GITHUB_STEP_SUMMARY)."""
    assert run.summary is not None
    summary, summaries = run.summary, run.summary.candidates
    gates = summary.gates
    failed = [g for g in gates if not g.passed]
    status = "❌ gates failed" if failed else "✅ all gates passed" if gates else "no gates"
    lines = [f"### evalkit · {run.manifest.suite.name} · {status}", "",
             f"Run `{run.run_id}`: {run.manifest.n_cases} cases × {len(summaries)} candidates; "
             f"{summary.n_errored_samples} of {summary.n_samples} samples errored.", "",
             "| metric | " + " | ".join(s.name for s in summaries) + " |",
             "|---|" + "---:|" * len(summaries)]
    for metric in run.scored_metrics:
        cells = []
        for s in summaries:
            agg = s.metrics[metric]
            cell = "–" if agg.value is None else f"{agg.value:.3f} [{agg.ci_low:.3f}, {agg.ci_high:.3f}]"
            cells.append(cell + (f" ({agg.n_errors} err)" if agg.n_errors else ""))
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    if gates:
        lines += ["", "| gate | candidate | verdict | detail |", "|---|---|---|---|"]
        lines += [f"| {g.metric}: {g.rule} | {g.candidate} | {'pass' if g.passed else '**FAIL**'} "
                  f"| {g.message} |" for g in gates]
    return "\n".join(lines) + "\n"


@sink_kinds.register("junit")
@dataclass
class JunitSink:
    path: Path
    name = "junit"

    def publish(self, run: Run) -> str:
        write_junit(run, self.path)
        return f"junit: {self.path}"


@sink_kinds.register("markdown")
@dataclass
class MarkdownSink:
    path: Path
    name = "markdown"

    def publish(self, run: Run) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(markdown_summary(run))
