"""What the HTML report shows, computed in Python: the per-sample data (gzip'd JSON, inflated by the
browser), the per-tag breakdown, and the charts as plain SVG (no charting library, no CDN).

The data is columnar and deduplicated (case fields once per case; passage excerpts once per passage)
so that a 10,000-case x 3-candidate run stays one file of a few MB (benchmarks/bench_report.py).
Everything a run wrote is data here, never markup: strings reach the page as JSON inside a script
element of type application/json and are inserted with textContent, and the SVG is built with
escaped text.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections import defaultdict
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.core.records import Output, Sample
    from evalkit.core.run import Run

EXCERPT = 1500  # characters of a retrieved passage kept in the report (most paragraphs and abstracts whole)
CLAIM = 240  # characters of a claim or its evidence
PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#db2777")


def _round(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, 4)


def sample_data(run: Run, with_texts: Callable[[Sample], Output] | None = None,
                baseline: Run | None = None) -> dict[str, Any]:
    """The per-question data of the report, as compact lists (see the template's script for the reading).
    With a baseline run, each sample carries the baseline's answer and scores on the same case and candidate."""
    metrics = run.scored_metrics
    before = {(s.case_id, s.candidate): s for s in baseline.samples} if baseline is not None else {}
    candidates = run.candidates
    cases: dict[str, int] = {}
    case_rows: list[list[Any]] = []
    passages: dict[str, int] = {}
    passage_rows: list[list[Any]] = []
    rows = []
    for sample in sorted(run.samples, key=lambda s: (s.position, s.candidate)):
        if sample.case_id not in cases:
            cases[sample.case_id] = len(case_rows)
            answers = [a for a in [sample.expected_answer, *sample.accepted_answers] if a]
            case_rows.append([sample.case_id, sample.question, answers, sample.expected_sources, sample.tags,
                              sample.answerable])
        output = with_texts(sample) if with_texts is not None else sample.output
        shown = []
        for passage in output.passages:
            key = passage.node_id or f"{passage.doc_id}#{passage.rank}:{passage.text[:40]}"
            if key not in passages:
                passages[key] = len(passage_rows)
                passage_rows.append([passage.doc_id, passage.text[:EXCERPT]])
            shown.append(passages[key])
        scores, notes, claims = [], [], []
        for name in metrics:
            score = sample.scores.get(name)
            scores.append(_round(score.value) if score is not None else None)
            notes.append((score.error and f"error: {score.error}") or (score.skipped and f"n/a: {score.skipped}")
                         if score is not None else None)
            verdicts = (score.details.get("claims") if score is not None else None) or []
            claims.append([[c.get("claim", "")[:CLAIM], bool(c.get("supported")), c.get("doc_id"),
                            (c.get("evidence") or "")[:CLAIM], c.get("reason", "")] for c in verdicts] or None)
        old = before.get((sample.case_id, sample.candidate))
        rows.append([cases[sample.case_id], candidates.index(sample.candidate), output.answer, shown,
                     output.citations, _round(output.latency_s), _round(output.cost_usd), output.error, scores,
                     notes if any(notes) else None, claims if any(claims) else None,
                     None if old is None else [(old.output.error and f"error: {old.output.error}") or old.output.answer,
                                               [_round(v.value) if (v := old.scores.get(name)) else None
                                                for name in metrics]]])
    specs = {spec.name: spec for spec in run.manifest.metrics}
    return {"candidates": candidates,
            "metrics": [[name, specs[name].direction if name in specs else "higher"] for name in metrics],
            "cases": case_rows, "passages": passage_rows, "samples": rows,
            "baseline": None if baseline is None or run.summary is None or run.summary.baseline is None
            else [run.summary.baseline.name, baseline.run_id],
            "gates": [[g.candidate, g.metric, *_bounds(run, g.gate)] for g in (run.summary.gates if run.summary else [])
                      if not g.passed]}


def _bounds(run: Run, index: int) -> list[float | None]:
    """A failed gate's (min, max), for the "below its gate" filter; no_regression gates have neither."""
    gates = run.manifest.gates
    if index >= len(gates):
        return [None, None]
    return [gates[index].min, gates[index].max]


def packed(data: dict[str, Any]) -> str:
    """The data as base64 of gzip'd JSON, inflated by the browser (DecompressionStream), and inert
    inside a script element (base64 has no markup characters). Level 3: SciFact's 5.2 MB of JSON
    becomes 1.95 MB in 0.09 s; level 6 saves 9% more in 0.23 s, a twentieth of a warm re-run."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=3, mtime=0)).decode("ascii")


def tag_breakdown(run: Run) -> dict[str, Any]:
    """Mean of each metric per tag and candidate (tags with at least 3 samples, the 30 most common)."""
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for sample in run.samples:
        for tag in sample.tags:
            counts[tag] += 1
            for name, score in sample.scores.items():
                if score.value is not None and not math.isnan(score.value):
                    values[(tag, sample.candidate, name)].append(score.value)
    tags = [tag for tag, n in sorted(counts.items(), key=lambda item: -item[1]) if n >= 3][:30]
    table = {metric: [[tag, [(_round(sum(v) / len(v)), len(v)) if (v := values.get((tag, c, metric))) else None
                             for c in run.candidates]] for tag in tags] for metric in run.scored_metrics}
    return {"tags": tags, "table": table}


def metric_chart(run: Run, width: int = 640) -> str:
    """Each metric's mean per candidate with its 95% CI: one row per metric, dots and whiskers."""
    assert run.summary is not None
    metrics = [m for m in run.scored_metrics if run.manifest.metric(m).unit == "score"]
    summaries = [s for s in run.summary.candidates if not s.skipped]
    row, left, right = 26, 190, 20
    height = 30 + row * len(metrics) + 30
    x = lambda v: left + (width - left - right) * max(0.0, min(1.0, v))  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="metrics per candidate with 95% CI">']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="20" y2="{height - 25}" stroke="#e4e7ec"/>'
                     f'<text x="{x(tick):.1f}" y="{height - 10}" text-anchor="middle" class="tick">{tick:g}</text>')
    for i, metric in enumerate(metrics):
        y = 30 + row * i + row / 2
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(metric)}</text>')
        for j, summary in enumerate(summaries):
            agg = summary.metrics.get(metric)
            if agg is None or agg.value is None:
                continue
            offset = (j - (len(summaries) - 1) / 2) * 5
            color = PALETTE[j % len(PALETTE)]
            low, high = agg.ci_low if agg.ci_low is not None else agg.value, agg.ci_high or agg.value
            title = escape(f"{summary.name} · {metric}: {agg.value:.3f} [{low:.3f}, {high:.3f}], n={agg.n}")
            parts.append(f'<g><title>{title}</title><line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y + offset:.1f}" '
                         f'y2="{y + offset:.1f}" stroke="{color}" stroke-width="2"/><circle cx="{x(agg.value):.1f}" '
                         f'cy="{y + offset:.1f}" r="4" fill="{color}"/></g>')
    parts.append(_legend([s.name for s in summaries], left, 12))
    parts.append("</svg>")
    return "".join(parts)


def tradeoff_chart(run: Run, metric: str, width: int = 640, height: int = 300) -> str:
    """Quality against latency (p50, log scale) per candidate, labelled with cost per 1,000 answers when priced."""
    assert run.summary is not None
    points = []
    for j, summary in enumerate(run.summary.candidates):
        quality, speed = summary.metrics.get(metric), summary.metrics.get("latency_p50")
        if summary.skipped or quality is None or quality.value is None or speed is None or speed.value is None:
            continue
        priced = summary.metrics.get("cost")
        points.append((summary.name, quality.value, max(speed.value, 1e-5), priced.value if priced else None, j))
    if not points:
        return ""
    left, bottom, top, right = 60, 40, 20, 30
    lows = [math.log10(p[2]) for p in points]
    lo, hi = math.floor(min(lows)), math.ceil(max(lows) + 1e-9)
    hi = hi if hi > lo else lo + 1
    x = lambda s: left + (width - left - right) * (math.log10(s) - lo) / (hi - lo)  # noqa: E731
    y = lambda v: top + (height - top - bottom) * (1 - max(0.0, min(1.0, v)))  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(metric)} against latency">']
    for exponent in range(lo, hi + 1):
        label = f"{10 ** exponent * 1000:g} ms" if exponent < 0 else f"{10 ** exponent:g} s"
        parts.append(f'<line x1="{x(10 ** exponent):.1f}" x2="{x(10 ** exponent):.1f}" y1="{top}" '
                     f'y2="{height - bottom}" stroke="#e4e7ec"/><text x="{x(10 ** exponent):.1f}" y="{height - 22}" '
                     f'text-anchor="middle" class="tick">{label}</text>')
    for tick in (0, 0.5, 1):
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">{tick:g}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle" class="tick">latency p50 '
                 f'(log scale)</text><text x="12" y="{top - 6}" class="tick">{escape(metric)}</text>')
    for name, value, latency, usd, j in points:
        color = PALETTE[j % len(PALETTE)]
        per_1000 = "" if usd is None else f", ${usd * 1000:.2f} per 1,000 answers"
        parts.append(f'<g><title>{escape(f"{name}: {metric} {value:.3f}, p50 {latency * 1000:.1f} ms{per_1000}")}'
                     f'</title><circle cx="{x(latency):.1f}" cy="{y(value):.1f}" r="6" fill="{color}"/>'
                     f'<text x="{x(latency) + 9:.1f}" y="{y(value) + 4:.1f}">{escape(name)}</text>'
                     + ("" if usd is None else f'<text x="{x(latency) + 9:.1f}" y="{y(value) + 16:.1f}" '
                                               f'class="tick">${usd * 1000:.2f}/1k</text>') + '</g>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: list[str], left: int, y: int) -> str:
    parts, x = [], left
    for j, name in enumerate(names):
        parts.append(f'<circle cx="{x}" cy="{y - 4}" r="4" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text x="{x + 8}" y="{y}">{escape(name)}</text>')
        x += 16 + 7 * len(name)
    return "".join(parts)
