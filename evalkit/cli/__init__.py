"""The `evalkit` command line: one module per command group, registered on one Typer app."""

# in the order `evalkit --help` lists them
from evalkit.cli import run, saved, calibrate, baseline, cache, labels  # noqa: F401, I001  (each registers its commands)
from evalkit.cli.app import app, main

__all__ = ["app", "main"]
