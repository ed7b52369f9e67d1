"""CI outputs: JUnit XML (one test case per gate and candidate) and a Markdown job summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from evalkit.results import CandidateSummary, Run


def write_junit(run: Run, path: Path) -> None:
    """JUnit XML in the common (Ant/Jenkins) form that CI systems read."""
    summary = run.summary or {}
    gates = summary.get("gates", [])
    failures = sum(not g["passed"] for g in gates)
    suite_name = f"evalkit.{run.header['suite']['name']}"
    root = ET.Element("testsuites", name="evalkit", tests=str(len(gates)), failures=str(failures), errors="0")
    suite = ET.SubElement(root, "testsuite", name=suite_name, tests=str(len(gates)), failures=str(failures),
                          errors="0", skipped="0", timestamp=run.header["started_at"][:19], time="0")
    properties = ET.SubElement(suite, "properties")
    for key, value in (("run_id", run.header["run_id"]), ("suite_hash", run.header["suite"]["hash"]),
                       ("error_rate", f"{summary.get('error_rate', 0):.4f}")):
        ET.SubElement(properties, "property", name=key, value=str(value))
    for gate in gates:
        case = ET.SubElement(suite, "testcase", classname=f"{suite_name}.{gate['candidate']}",
                             name=f"{gate['metric']}: {gate['rule']}", time="0")
        if not gate["passed"]:
            failure = ET.SubElement(case, "failure", message=gate["message"], type="GateFailed")
            failure.text = gate["message"]
        else:
            ET.SubElement(case, "system-out").text = gate["message"]
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def markdown_summary(run: Run, summaries: list[CandidateSummary]) -> str:
    """A Markdown summary for CI job pages (e.g. $GITHUB_STEP_SUMMARY)."""
    summary: dict[str, Any] = run.summary or {}
    gates = summary.get("gates", [])
    failed = [g for g in gates if not g["passed"]]
    status = "❌ gates failed" if failed else "✅ all gates passed" if gates else "no gates"
    lines = [f"### evalkit · {run.header['suite']['name']} · {status}", "",
             f"Run `{run.header['run_id']}`: {run.header['n_cases']} cases × {len(summaries)} candidates; "
             f"{summary.get('n_errored_samples', 0)} of {summary.get('n_samples', 0)} samples errored.", "",
             "| metric | " + " | ".join(s.name for s in summaries) + " |",
             "|---|" + "---:|" * len(summaries)]
    for metric in run.metrics:
        cells = []
        for s in summaries:
            agg = s.metrics[metric]
            cell = "–" if agg.mean is None else f"{agg.mean:.3f} [{agg.ci_low:.3f}, {agg.ci_high:.3f}]"
            cells.append(cell + (f" ({agg.n_errors} err)" if agg.n_errors else ""))
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    if gates:
        lines += ["", "| gate | candidate | verdict | detail |", "|---|---|---|---|"]
        lines += [f"| {g['metric']}: {g['rule']} | {g['candidate']} | {'pass' if g['passed'] else '**FAIL**'} "
                  f"| {g['message']} |" for g in gates]
    return "\n".join(lines) + "\n"
