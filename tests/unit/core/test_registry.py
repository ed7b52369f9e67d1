"""The extension registries: a name is taken once, by a built-in or a plugin, and a clash says who
registered each side; plugins' sinks are published to after the built-in ones."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.core.registry import Registry


def plugin_metric(name, k, context):  # what a plugin's entry point loads
    return ("plugin", name)


def test_a_second_registration_of_a_name_is_refused() -> None:
    registry: Registry[object] = Registry("metric", "evalkit.tests.none", builtins=())
    registry.register("recall")(plugin_metric)
    with pytest.raises(EvalkitError, match="metric 'recall' is registered twice"):
        registry.register("recall")(len)


def test_a_plugin_cannot_replace_a_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.core.registry as module

    entry = EntryPoint(name="mrr", value=f"{__name__}:plugin_metric", group="evalkit.metrics")
    monkeypatch.setattr(module, "entry_points", lambda group: [entry] if group == "evalkit.metrics" else [])
    registry: Registry[object] = Registry("metric", "evalkit.metrics", builtins=())
    registry.register("mrr")(len)
    with pytest.raises(EvalkitError) as raised:
        registry.names()
    assert f"the plugin {__name__}:plugin_metric" in str(raised.value) and "builtins.len" in str(raised.value)


def test_a_plugin_adds_a_new_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.core.registry as module

    entry = EntryPoint(name="my_metric", value=f"{__name__}:plugin_metric", group="evalkit.metrics")
    monkeypatch.setattr(module, "entry_points", lambda group: [entry])
    registry: Registry[object] = Registry("metric", "evalkit.metrics", builtins=())
    assert registry.get("my_metric") is plugin_metric and registry.from_plugins() == ["my_metric"]


def test_every_built_in_registry_loads_without_a_clash() -> None:
    from evalkit.candidates.base import candidate_kinds
    from evalkit.judges.factory import judge_kinds
    from evalkit.metrics.base import metric_registry
    from evalkit.sinks.base import sink_kinds

    assert set(judge_kinds.names()) == {"offline", "model", "ragas"}
    assert set(sink_kinds.names()) == {"console", "html", "junit", "markdown", "mlflow"}
    assert {"rag", "model", "http", "python", "recorded"} <= set(candidate_kinds.names())
    assert {"recall", "faithfulness", "mrr"} <= set(metric_registry.names())
