"""Passage texts for stored outputs: a stored sample keeps a corpus passage's node id, not its text.
A run writes the texts its samples name to its folder once, when it ends (`passages.jsonl.gz`);
while it runs, and for folders without that file, they come from the suite's chunks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.candidates.base import BuildContext
from evalkit.core.records import Output, Sample
from evalkit.core.run import Run

if TYPE_CHECKING:
    from evalkit.config.suite import Suite

log = logging.getLogger("evalkit")


class PassageTexts:
    """Corpus passage texts by node id, per chunking setting, read from the (cached) chunks on first need."""

    def __init__(self, context: BuildContext):
        self.context = context
        self._texts: dict[tuple[int, int], dict[str, str]] = {}

    def texts(self, params: dict[str, Any]) -> dict[str, str]:
        from evalkit.retrieval.indexes import load_or_build_chunks

        setting = (int(params.get("chunking.chunk_size", 512)), int(params.get("chunking.chunk_overlap", 32)))
        if setting not in self._texts:
            assert self.context.corpus is not None
            chunks, _ = load_or_build_chunks(self.context.corpus, *setting, self.context.cache_dir / "indexes",
                                             self.context.shared)
            self._texts[setting] = {chunk.node_id: chunk.text for chunk in chunks}
        return self._texts[setting]

    def fill(self, output: Output, params: dict[str, Any]) -> Output:
        """The output with its corpus passages' texts read back (a no-op when they are there)."""
        if not any(p.node_id and not p.text for p in output.passages):
            return output
        return output.with_texts(self.texts(params))

    def named_by(self, samples: list[Sample], params: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The texts of every corpus passage the samples name, by node id: what a run folder keeps."""
        found: dict[str, str] = {}
        if self.context.corpus is None:
            return found
        for sample in samples:
            missing = [p.node_id for p in sample.output.passages if p.node_id and p.node_id not in found]
            if missing:
                texts = self.texts(params.get(sample.candidate, {}))
                found.update((node, texts.get(node, "")) for node in missing)
        return found


def suite_file(run: Run) -> Path | None:
    """The suite file a run ran, if it is still there (a relative path was relative to where the run
    ran: the folder that holds reports/<suite>/<run>)."""
    recorded = Path(run.manifest.suite.path)
    return next((p for p in (recorded, run.folder.resolve().parents[2] / recorded) if p.is_file()), None)


def changed_since(run: Run, suite: Suite) -> str | None:
    """"<suite file>, its corpus or its cases changed since run <id>" when the suite's content hash is
    not the one the run recorded; None when it is the same."""
    if not run.manifest.suite.hash or suite.content_hash == run.manifest.suite.hash:
        return None
    return f"{suite.path}, its corpus or its cases changed since run {run.run_id}"


def suite_changed(run: Run) -> str | None:
    """What to tell a reader of a saved run whose suite file, corpus or cases changed since it ran
    (None: unchanged, or the file is gone)."""
    from evalkit.config.suite import load_suite
    from evalkit.core.errors import EvalkitError

    path = suite_file(run)
    if path is None:
        return None
    try:
        changed = changed_since(run, load_suite(path))
    except EvalkitError as exc:
        return f"{path} no longer loads ({exc}); the run is shown as it was recorded"
    return f"{changed}; the run is shown as it was recorded" if changed else None


def texts_for(run: Run, cache_dir: Path) -> Callable[[Sample], Output] | None:
    """A function giving a stored sample's output with its passage texts: from the run folder, or for
    a folder without them (evalkit.run/2) from the run's suite and corpus, when the suite is there
    and unchanged since the run; else None (reports then show ids without text)."""
    from evalkit.config.suite import load_suite
    from evalkit.core.errors import EvalkitError

    if run.passages is not None:
        return run.with_texts
    path = suite_file(run)
    try:
        suite = load_suite(path) if path is not None else None
    except EvalkitError:
        return None
    if suite is None or suite.corpus is None:
        return None
    if changed := changed_since(run, suite):
        log.warning("%s, and the run folder does not hold its passages: passages are shown by id only", changed)
        return None
    texts = PassageTexts(BuildContext(suite.corpus, suite.directory, cache_dir))
    params = {c.name: c.params for c in run.manifest.candidates}
    return lambda sample: texts.fill(sample.output, params.get(sample.candidate, {}))
