"""`evalkit labels sample` and `evalkit labels pull`: human labels that correct a judge (PPI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.app import RunDirArg, TrackingOpt, app, out

labels_app = typer.Typer(help="Human labels of a run's answers: PPI estimates of judged metrics.",
                         no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@labels_app.command("sample")
def labels_sample(
    run_dir: RunDirArg,
    n: Annotated[int, typer.Option("--n", min=1, help="Samples to label.")] = 100,
    metric: Annotated[str, typer.Option(help="The judged metric to label.")] = "faithfulness",
    stratify: Annotated[bool, typer.Option("--stratify/--no-stratify", help="The same number from each candidate.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the random draw.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="The sheet: .csv (a spreadsheet) or .jsonl.")] = Path("labels.csv"),
) -> None:
    """Write a labelling sheet: N random samples of RUN_DIR with question, passages and answer; fill the
    label column (1 = right, 0 = wrong on METRIC), then name the file in the suite's `labels:` or pass
    it to `evalkit report RUN_DIR --labels FILE`."""
    from evalkit.core.cache import cache_dir
    from evalkit.runner.labels import SHEET_FIELDS, choose, sheet_rows, write_rows
    from evalkit.runner.passages import texts_for
    from evalkit.runner.store import read_run

    run = read_run(run_dir)
    samples = choose(run, metric, n, stratify, seed)
    write_rows(sheet_rows(samples, metric, texts_for(run, cache_dir())), output, SHEET_FIELDS)
    per = {c: sum(s.candidate == c for s in samples) for c in run.candidates}
    out.print(f"{output}: {len(samples)} samples to label on {metric} ("
              + ", ".join(f"{c} {k}" for c, k in per.items() if k) + "); fill the 'label' column with 1 or 0")


@labels_app.command("pull")
def labels_pull(
    run: Annotated[str, typer.Option("--run", help="The MLflow run id: the parent run of an evalkit run (every candidate), or one candidate's.", show_default=False)],
    tracking_uri: TrackingOpt = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The labels file: .csv or .jsonl.")] = Path("labels.jsonl"),
) -> None:
    """Turn human feedback added to a run's traces in the MLflow UI (an assessment named after the
    metric, e.g. faithfulness: yes/no) into a labels file."""
    from evalkit.config.labels import FIELDS
    from evalkit.runner.labels import pull, write_rows

    rows, n_traces = pull(run, tracking_uri)
    write_rows(rows, output, [*FIELDS, "note"])
    out.print(f"{output}: {len(rows)} human labels from {n_traces} traces of MLflow run {run}")
    if not n_traces:
        out.print("the run has no traces: by default only failing samples are traced (evalkit run SUITE "
                  "--mlflow-traces all traces every sample)")
