"""One typed registry for each extension point (candidate kinds, metrics, judge kinds, sinks).

Built-ins register themselves when their module is imported; plugins add more through the
entry-point group, e.g. `[project.entry-points."evalkit.metrics"] my_metric = "pkg.mod:factory"`.
A name is taken once: a second registration, built-in or plugin, is refused with one line (a
plugin's metric never silently loses to, or replaces, another of the same name). Lookups of
unknown names fail with a did-you-mean.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from evalkit.core.errors import EvalkitError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str, group: str, builtins: tuple[str, ...]):
        self.what = what  # "candidate kind", "metric", ...
        self.group = group
        self._builtins = builtins
        self._items: dict[str, T] = {}
        self._sources: dict[str, str] = {}  # who registered each name, for the refusal of a second
        self._plugins: list[str] = []  # the names entry points registered, in the order found
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            self._add(name, item, f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', item)}")
            return item

        return add

    def _add(self, name: str, item: T, source: str) -> None:
        if name in self._items:
            raise EvalkitError(f"{self.what} '{name}' is registered twice: by {self._sources[name]} and by {source}",
                               hint=f"rename one of them (entry-point group {self.group})")
        self._items[name], self._sources[name] = item, source

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtins:
            importlib.import_module(module)
        for entry in entry_points(group=self.group):
            self._add(entry.name, entry.load(), f"the plugin {entry.value}")
            self._plugins.append(entry.name)

    def from_plugins(self) -> list[str]:
        """The names plugins registered (entry points), in the order found."""
        self._load()
        return list(self._plugins)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items:
            raise EvalkitError(
                f"unknown {self.what} '{name}'",
                hint=did_you_mean(name, self.names()) or f"known: {', '.join(self.names())}",
            )
        return self._items[name]
