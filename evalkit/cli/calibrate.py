"""`evalkit calibrate`: a judge's agreement with human labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.app import app, out
from evalkit.core.errors import EvalkitError


@app.command()
def calibrate(
    labels: Annotated[Path, typer.Argument(help="Human-labelled rows (jsonl/csv/parquet): answer, contexts, label.", show_default=False)],
    suite: Annotated[Path | None, typer.Option(help="Calibrate this suite's `judge:` model instead of the offline judge.")] = None,
    features: Annotated[str | None, typer.Option(help="The offline judge to calibrate: span (offline-v7, the default), span-semantic (offline-v8), lexical (offline-v2), semantic (offline-v4) or cross-encoder (offline-v6).", show_default=False)] = None,
    data_name: Annotated[str | None, typer.Option(help="Name of the data set, recorded with the figures.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    save: Annotated[Path | None, typer.Option(help="Also save the result as JSON in this file (nothing is written without it).")] = None,
    mlflow: Annotated[bool, typer.Option(help="Log the figures to MLflow (experiment evalkit-calibration).")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Measure a judge's agreement with human labels: macro-F1, balanced accuracy, AUROC, Cohen's kappa."""
    import json

    from evalkit.core.cache import cache_dir
    from evalkit.judges.calibration import calibrate, on_record
    from evalkit.judges.factory import build_judge
    from evalkit.judges.spec import DEFAULT_FEATURES, OFFLINE_VERSIONS, JudgeSpec, OfflineJudgeSpec
    from evalkit.models.endpoints import CacheSettings

    if suite is not None and features is not None:
        raise EvalkitError("--features chooses the offline judge; --suite calibrates the suite's model judge instead",
                           hint="pass one of them")
    features = features or DEFAULT_FEATURES
    if features not in OFFLINE_VERSIONS:
        raise EvalkitError(f"--features takes {', '.join(OFFLINE_VERSIONS)}, not '{features}'")
    spec: JudgeSpec | None = OfflineJudgeSpec.model_validate({"features": features})
    if suite is not None:
        from evalkit.config.suite import load_suite

        spec = load_suite(suite).spec.judge
        if spec is None or spec.endpoint is None:
            raise EvalkitError("the suite has no model judge ('judge:') to calibrate", where=str(suite),
                               hint="omit --suite to calibrate the offline judge")
    judge = build_judge(spec, CacheSettings(cache_dir() / "llm"))
    result = calibrate(labels, judge, data_name)
    if save is not None:  # measuring writes nothing unless asked to
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if mlflow:
        from evalkit.sinks.mlflow import log_calibration

        log_calibration(result, tracking_uri)
    if json_output:
        print(json.dumps(result, indent=2))
        return
    configured = result["configured"]
    out.print(f"[bold]{result['judge']}[/bold] on {result['data']}: {result['n']} rows "
              f"({result['n_supported']} supported), judged in {result['seconds']:.1f} s")
    out.print(f"as configured ({configured['rule']}):")
    for key in ("macro_f1", "balanced_accuracy", "auroc", "cohen_kappa"):
        figure = configured[key]
        out.print(f"  {key:<18} {figure['value']:.3f}  [{figure['ci_low']:.3f}, {figure['ci_high']:.3f}]")
    best = result["best_threshold"]
    out.print(f"best threshold on this data (in-sample, optimistic): graded score >= {best['threshold']:.3f} "
              f"gives macro-F1 {best['macro_f1']:.3f}")
    record = on_record(result["judge"])
    if record and "method" in record and record.get("data_digest") == result["data_digest"]:
        figure = record["configured"]["macro_f1"]["value"]
        out.print(f"note: {result['judge']} learned its weights from these rows, so the figures above are "
                  f"in-sample; its {record['method'].split(':')[0]} macro-F1 here is {figure:.3f}")
    if save is not None:
        out.print(f"saved: {save}")

