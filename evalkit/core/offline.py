"""What offline means for the libraries evalkit drives: no hub downloads and no telemetry.

Set before those libraries are imported: by the CLI at start-up, and by each place that imports
one, so the pytest plugin and library use are offline too. A variable the user set is kept.
"""

from __future__ import annotations

import os
from typing import Any

OFFLINE = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
    "RAGAS_DO_NOT_TRACK": "true",  # ragas's telemetry also stalls ~5 s without a network
    "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray (the ray executor) reports usage unless told not to
}


def go_offline() -> None:
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)


def import_mlflow() -> Any:
    """mlflow, imported with its telemetry off and its start-up logging quiet."""
    go_offline()
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO lines about database migrations
    import mlflow

    return mlflow
