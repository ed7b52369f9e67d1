"""Passage texts read back for stored outputs: a stored sample keeps a corpus passage's node id, not
its text, and a metric that reads passages (a judge) gets the text from the suite's chunks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.candidates.base import BuildContext
from evalkit.core.records import Output, Sample
from evalkit.core.run import Run


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
        texts = self.texts(params)
        return output.model_copy(update={"passages": [p.model_copy(update={"text": texts.get(p.node_id, "")})
                                                      if p.node_id else p for p in output.passages]})


def suite_file(run: Run) -> Path | None:
    """The suite file a run ran, if it is still there (a relative path was relative to where the run
    ran: the folder that holds reports/<suite>/<run>)."""
    recorded = Path(run.manifest.suite.path)
    return next((p for p in (recorded, run.folder.resolve().parents[2] / recorded) if p.is_file()), None)


def texts_for(run: Run, cache_dir: Path) -> Callable[[Sample], Output] | None:
    """A function giving a stored sample's output with its passage texts, from the run's suite and
    corpus; None when the suite file is gone (traces then show ids without text)."""
    from evalkit.config.suite import load_suite
    from evalkit.core.errors import EvalkitError

    path = suite_file(run)
    try:
        suite = load_suite(path) if path is not None else None
    except EvalkitError:
        return None
    if suite is None or suite.corpus is None:
        return None
    texts = PassageTexts(BuildContext(suite.corpus, suite.directory, cache_dir))
    params = {c.name: c.params for c in run.manifest.candidates}
    return lambda sample: texts.fill(sample.output, params.get(sample.candidate, {}))
