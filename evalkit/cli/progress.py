"""Progress of a run: on a terminal, a bar per candidate; in a CI log, a line every ~10 s.

Each shows samples done of total, the rate, the time left, the errors so far and the cost so far,
so that a long run can be judged (and stopped) before it ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from evalkit.core.records import Sample


@dataclass
class _Tally:
    total: int
    done: int = 0
    errors: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)
    done_at_start: int = 0  # samples a resumed run already had

    def line(self, name: str) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = (self.done - self.done_at_start) / elapsed
        left = f"{(self.total - self.done) / rate:.0f} s left" if rate > 0 and self.done < self.total else "done"
        cost = f", ${self.cost:.4f}" if self.cost else ""
        return (f"{name}: {self.done}/{self.total} ({self.done / max(1, self.total):.0%}), {rate:.1f}/s, {left}, "
                f"{self.errors} errors{cost}")


class RunProgress:
    """Fed each finished sample (`advance`) and each stage of the run (`stage`)."""

    def __init__(self, console: Console, totals: dict[str, int], every_s: float = 10.0):
        self.console, self.every_s = console, every_s
        self.tallies = {name: _Tally(total) for name, total in totals.items()}
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._printed = time.monotonic()

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[extra]}"), console=self.console, transient=True)
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def stage(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def advance(self, sample: Sample) -> None:
        tally = self.tallies.setdefault(sample.candidate, _Tally(0))
        if tally.done == 0:
            tally.started = time.monotonic()
        tally.done += 1
        tally.errors += sample.errored
        tally.cost += sample.output.cost_usd or 0.0
        if self._bar is not None:
            self._update_bar(sample.candidate, tally)
        elif time.monotonic() - self._printed >= self.every_s or tally.done == tally.total:
            self._printed = time.monotonic()
            self.console.print(tally.line(sample.candidate), soft_wrap=True, highlight=False)

    def already_done(self, sample: Sample) -> None:
        """A sample a resumed run kept: counted as done, not in the rate."""
        self.advance(sample)
        self.tallies[sample.candidate].done_at_start += 1

    def _update_bar(self, name: str, tally: _Tally) -> None:
        if name not in self._tasks:
            self._tasks[name] = self._bar.add_task(name, total=tally.total, rate="", extra="")
        elapsed = max(time.monotonic() - tally.started, 1e-9)
        extra = f"{tally.errors} err" + (f" ${tally.cost:.4f}" if tally.cost else "")
        self._bar.update(self._tasks[name], completed=tally.done,
                         rate=f"{(tally.done - tally.done_at_start) / elapsed:.1f}/s", extra=extra)
