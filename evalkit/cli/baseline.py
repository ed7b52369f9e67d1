"""`evalkit baseline promote`: mark a run as the baseline of no_regression gates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.app import app, out

baseline_app = typer.Typer(help="Mark runs as baselines for no_regression gates.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("promote")
def baseline_promote(
    run_dir: Annotated[Path, typer.Argument(help="The run folder to promote.", show_default=False)],
    name: Annotated[str, typer.Option(help="Baseline name.")] = "production",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    mlflow: Annotated[bool, typer.Option(help="Also tag the run in MLflow.")] = True,
) -> None:
    """Make RUN_DIR the baseline NAME: a pointer in reports/<suite>/baselines.json and an MLflow tag."""
    from evalkit.runner.baselines import promote

    for line in promote(run_dir, name, tracking_uri, use_mlflow=mlflow):
        out.print(line)


