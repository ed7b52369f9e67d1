"""Turn what a team's service or function returned into an Output."""

from __future__ import annotations

from typing import Any

from evalkit.core.records import Output, Passage
from evalkit.core.text import parse_citations


def dig(data: Any, path: str | None) -> Any:
    """The value at a dotted path ('data.sources', 'choices.0.text'), or None."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def to_output(data: Any, answer: str | None, sources: str | None, source_id: str, contexts: str | None,
              source_text: str | None = None) -> Output:
    """Map a JSON-like result to an Output. `sources` may hold ids or objects with `source_id` (and the
    passage's text at `source_text`, else at the same rank in `contexts`). The answer's `[doc id]`
    marks are its citations, as in the built-in chat candidate's answers."""
    if isinstance(data, str):
        return Output(answer=data, citations=parse_citations(data))
    text = dig(data, answer)
    if not isinstance(text, str):
        return Output(error=f"no text at '{answer}' in the response (keys: {', '.join(map(str, data or {}))})")
    ranked = dig(data, sources) or []
    texts = dig(data, contexts) or []
    passages = []
    for rank, item in enumerate(ranked if isinstance(ranked, list) else [], start=1):
        doc_id = item.get(source_id) if isinstance(item, dict) else item
        body = (item.get(source_text) if isinstance(item, dict) and source_text else None) or (
            texts[rank - 1] if rank - 1 < len(texts) else "")
        passages.append(Passage(doc_id=str(doc_id), text=str(body), rank=rank))
    query = data.get("query") if isinstance(data, dict) else None  # what it searched for, if it says
    return Output(answer=text, passages=passages, citations=parse_citations(text),
                  query=query if isinstance(query, str) else None)
