"""The verdict: what a run's numbers mean for choosing between candidates, in a few sentences.

Computed from the run, by explicit rules, never a fixed text:
1. For each headline metric the run has, in this order (answer correctness: token_f1,
   factual_correctness, rouge_l; retrieval: ndcg@k, recall@k; grounding: faithfulness;
   citations: citation_recall; abstention: abstain_rate_unanswerable; freshness:
   stale_answer_rate), the best candidate (by the metric's direction) is compared with every other
   (or each pair the suite names in `verdict: {pairs: [[old, new], ...]}`)
   on the cases both have a value for: the paired difference of the metric's statistic with its 95%
   bootstrap CI. A difference whose CI excludes 0 is stated as a difference; otherwise it is said
   to be not significant.
2. Fine-tuning: for each candidate whose local model runs with a LoRA adapter, next to one that
   runs the same model file without it and retrieves the same way (or neither retrieves), the
   behaviour metrics the run has (abstention, distractors, citations, format checks) whose paired
   difference is significant are stated with their CIs, in one line with answer correctness
   (token_f1, or the first of exact_match, factual_correctness, rouge_l) and its CI: "fine-tuning
   on top of retrieval raises abstain_rate_unanswerable by 31 points (better; …) and leaves
   token_f1 unchanged (…)", each change said to be better or worse by the metric's direction.
   This is the measured form of "fine-tuning changes format, not knowledge".
3. Format checks: the share of answers that fail any check, per candidate.
4. Latency and cost: p50 latency per candidate, and cost per 1,000 answers where priced.
Scores in 0..1 are spoken of in points (0.41 is 41 points); other units as they are.
"""

from __future__ import annotations

from evalkit.analysis.paired import compare
from evalkit.analysis.values import per_case_values
from evalkit.core.records import Sample
from evalkit.core.run import CandidateInfo, CandidateSummary, RunManifest
from evalkit.core.specs import MetricSpec

HEADLINES = ("token_f1", "factual_correctness", "rouge_l", "ndcg", "recall", "faithfulness", "citation_recall",
             "abstain_rate_unanswerable", "stale_answer_rate")
MAX_HEADLINES = 3
# what fine-tuning is expected to change (the answer's behaviour and shape), and what it is not
BEHAVIOUR = ("abstain_rate_unanswerable", "false_abstain_rate", "distractor_rate", "citation_precision",
             "citation_recall", "check")
CORRECTNESS = ("token_f1", "exact_match", "factual_correctness", "rouge_l")


def _number(spec: MetricSpec, value: float) -> str:
    return str(round(value * 100)) if spec.unit == "score" else f"{value + 0.0:.3g}"


def _unit(spec: MetricSpec) -> str:
    return "points" if spec.unit == "score" else spec.unit


def _paired(spec: MetricSpec, samples: list[Sample], old: str, new: str) -> tuple[float, float, float, int] | None:
    """new - old on the cases both have: the difference, its 95% CI, and the number of cases."""
    a, b = per_case_values(samples, old, spec), per_case_values(samples, new, spec)
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        return None
    result = compare([a[c] for c in shared], [b[c] for c in shared], aggregate=spec.aggregate, sign=spec.sign)
    return result.diff, result.ci_low, result.ci_high, len(shared)


def _comparisons(spec: MetricSpec, samples: list[Sample], summaries: list[CandidateSummary],
                 chosen: list[tuple[str, str]]) -> list[str]:
    """The best candidate against each other one, or each pair the suite chose ([old, new]: the
    better of the two is named first)."""
    ranked = [s for s in summaries if s.metrics[spec.name].value is not None]
    if len(ranked) < 2:
        return []
    if chosen:
        by_name = {s.name: s for s in ranked}
        pairs = []
        for old, new in chosen:
            if old in by_name and new in by_name:
                first, second = by_name[old], by_name[new]
                value = spec.sign * ((second.metrics[spec.name].value or 0.0) - (first.metrics[spec.name].value or 0.0))
                pairs.append((second, first) if value >= 0 else (first, second))
    else:
        best = max(ranked, key=lambda s: spec.sign * (s.metrics[spec.name].value or 0.0))
        pairs = [(best, other) for other in ranked if other is not best]
    lines = []
    for best, other in pairs:
        paired = _paired(spec, samples, other.name, best.name)
        if paired is None:
            continue
        diff, ci_low, ci_high, n = paired
        low, high = sorted((spec.sign * ci_low, spec.sign * ci_high))  # the improvement
        ci = f"95% CI {_number(spec, low)} to {_number(spec, high)}, {n} cases"
        amount = f"{_number(spec, abs(diff))} {_unit(spec)}"
        better = "lower" if spec.direction == "lower" else "higher"
        if low == high == 0:
            lines.append(f"{spec.name}: {best.name} and {other.name} are the same on every case ({n} cases)")
        elif low > 0:
            lines.append(f"{best.name} scores {spec.name} {amount} {better} than {other.name} ({ci})")
        else:
            lines.append(f"{spec.name}: {best.name} and {other.name} differ by {amount}, not significant ({ci})")
    return lines


def _change(spec: MetricSpec, diff: float, low: float, high: float) -> str:
    moved = "raises" if diff > 0 else "lowers"
    judged = "better" if spec.sign * diff > 0 else "worse"
    return (f"{moved} {spec.name} by {_number(spec, abs(diff))} {_unit(spec)} "
            f"({judged}; 95% CI {_number(spec, low)} to {_number(spec, high)})")


def fine_tuned_pairs(candidates: list[CandidateInfo]) -> list[tuple[CandidateInfo, CandidateInfo]]:
    """(base, tuned): a candidate serving a local model with an adapter, and one serving the same
    model file without it that retrieves the same way (the same retriever settings, or none)."""
    def retrieval(info: CandidateInfo) -> dict[str, object]:
        return {k: v for k, v in info.params.items() if k.startswith(("retriever.", "chunking."))}

    pairs = []
    for tuned in candidates:
        if not tuned.served_by.get("adapter") or tuned.skipped:
            continue
        for base in candidates:
            if (not base.skipped and not base.served_by.get("adapter") and base.kind == tuned.kind
                    and base.served_by.get("sha256") == tuned.served_by.get("sha256")
                    and retrieval(base) == retrieval(tuned)):
                pairs.append((base, tuned))
                break
    return pairs


def _fine_tuning(manifest: RunManifest, samples: list[Sample]) -> list[str]:
    behaviour = [spec for spec in manifest.metrics if spec.base in BEHAVIOUR]
    correctness = next((spec for base in CORRECTNESS for spec in manifest.metrics if spec.base == base), None)
    lines = []
    for base, tuned in fine_tuned_pairs(manifest.candidates):
        changes = []
        for spec in behaviour:
            paired = _paired(spec, samples, base.name, tuned.name)
            if paired is not None and (paired[1] > 0 or paired[2] < 0):
                changes.append((abs(paired[0]), _change(spec, *paired[:3])))
        if not changes:
            continue
        changes.sort(key=lambda change: -change[0])
        where = "on top of retrieval" if any(k.startswith("retriever.") for k in tuned.params) else "closed-book"
        line = f"fine-tuning {where} ({tuned.name} against {base.name}) " + ", ".join(c for _, c in changes[:3])
        paired = _paired(correctness, samples, base.name, tuned.name) if correctness else None
        if correctness is not None and paired is not None:
            diff, low, high, n = paired
            if low <= 0 <= high:
                line += (f" and leaves {correctness.name} unchanged ({_number(correctness, diff)} "
                         f"{_unit(correctness)}, 95% CI {_number(correctness, low)} to "
                         f"{_number(correctness, high)}, {n} cases)")
            else:
                line += f" and {_change(correctness, diff, low, high)}, {n} cases"
        lines.append(line)
    return lines


def verdict(manifest: RunManifest, summaries: list[CandidateSummary], samples: list[Sample]) -> list[str]:
    """The verdict's sentences for a run (none for a run of one candidate and no checks)."""
    lines: list[str] = []
    specs = {spec.base: spec for spec in reversed(manifest.metrics)}  # the first spec of each base
    for base in [b for b in HEADLINES if b in specs][:MAX_HEADLINES]:
        lines += _comparisons(specs[base], samples, summaries, list(manifest.verdict_pairs))
    lines += _fine_tuning(manifest, samples)
    checks = [spec for spec in manifest.metrics if spec.base == "check"]
    if checks:
        shares = []
        for summary in summaries:
            answers = [s for s in samples if s.candidate == summary.name and not s.output.error]
            failing = sum(any((s.scores.get(c.name) and s.scores[c.name].value == 0.0) for c in checks)
                          for s in answers)
            if answers:
                shares.append(f"{summary.name} {failing / len(answers):.0%}")
        lines.append("answers failing a format check: " + ", ".join(shares))
    ops = []
    for summary in summaries:
        latency, cost = summary.metrics.get("latency_p50"), summary.metrics.get("cost")
        if latency is None or latency.value is None:
            continue
        priced = f", ${cost.value * 1000:.2f} per 1,000 answers" if cost is not None and cost.value is not None else ""
        ops.append(f"{summary.name} {latency.value * 1000:.1f} ms{priced}")
    if len(ops) > 1 or (ops and lines):
        lines.append("p50 latency: " + "; ".join(ops))
    return lines
