"""One typed registry for each extension point (candidate kinds, metrics, judges).

Built-ins register themselves when their module is imported; plugins add more through the
entry-point group, e.g. `[project.entry-points."evalkit.metrics"] my_metric = "pkg.mod:factory"`.
Lookups of unknown names fail with a did-you-mean.
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
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            self._items[name] = item
            return item

        return add

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtins:
            importlib.import_module(module)
        for entry in entry_points(group=self.group):
            self._items.setdefault(entry.name, entry.load())

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
